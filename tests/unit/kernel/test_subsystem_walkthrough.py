"""The docs/architecture.md walkthrough, run: a host module adds its own struct_ops type.

Split BTF built in Python on top of the embedded vmlinux (R3.3-R3.6 types, R4 cfi stubs),
a Module with StructOpsOps callbacks, registration (R1-R3), a struct_ops map created
against the module's value type (C6, C10 with BPF_F_VTYPE_BTF_OBJ_FD) and its lookup (L3).
"""

from __future__ import annotations

import errno
import struct

import pytest

from structops import btf as btflib
from structops.errors import BpfError
from structops.kernel.attrs import BtfLoadAttr, GetIdAttr, MapCreateAttr, MapElemAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.modules import Module
from structops.kernel.struct_ops import KData, StructOpsLink, StructOpsMap, StructOpsOps
from structops.uapi import Cmd, MapFlags, MapType, StructOpsState
from structops.verifier.ops import VerifierOps


def _split_btf(kernel: EmulatedKernel) -> bytes:
    """``struct my_ops { int (*on_event)(struct my_ops_arg *); u32 flags; }`` and friends."""
    base = kernel.vmlinux.spec
    u32 = base.find("u32", btflib.Typedef) if _has(base, "u32") else btflib.Int("u32", 4)
    int_t = base.find("int", btflib.Int)
    arg = btflib.Struct(
        "my_ops_arg", 8, (btflib.Member("value", btflib.Int("long long", 8, btflib.IntEncoding.SIGNED)),)
    )
    arg_ptr = btflib.Pointer(arg)  # one type id: the stub's parameter must have the member's type (R4)
    proto = btflib.FuncProto(int_t, (btflib.Param("arg", arg_ptr),))
    ops = btflib.Struct(
        "my_ops",
        16,
        (btflib.Member("on_event", btflib.Pointer(proto), 0), btflib.Member("flags", u32, 64)),
    )
    common = base.find("bpf_struct_ops_common_value", btflib.Struct)
    value = btflib.Struct(
        "bpf_struct_ops_my_ops",
        common.size + 16,
        (btflib.Member("common", common, 0), btflib.Member("data", ops, common.size * 8)),
    )
    stub_proto = btflib.FuncProto(int_t, (btflib.Param("arg__nullable", arg_ptr),))
    stub = btflib.Func("my_ops__on_event", stub_proto)
    b = btflib.Builder(base=base)
    for t in (ops, value, stub):
        b.add(t)
    return b.build()


def _has(spec: btflib.Spec, name: str) -> bool:
    try:
        spec.find(name, btflib.Typedef)
    except KeyError:
        return False
    return True


def _map(kernel: EmulatedKernel, flags: MapFlags) -> tuple[int, list[int]]:
    """A struct_ops map of the module type: (map fd, the BTF fds to close)."""
    desc = kernel.find_struct_ops("my_ops")
    assert desc is not None
    user_btf = btflib.encode([btflib.Int("int", 4, btflib.IntEncoding.SIGNED)])
    btf_fd = kernel.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=user_btf))  # C12: a user BTF is required
    mod_fd = kernel.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=desc.btf.id))
    attr = MapCreateAttr(
        MapType.BPF_MAP_TYPE_STRUCT_OPS,
        4,
        desc.value_type.size,
        1,
        map_flags=int(flags | MapFlags.BPF_F_VTYPE_BTF_OBJ_FD),
        btf_fd=btf_fd,
        btf_vmlinux_value_type_id=desc.value_id,
        value_type_btf_obj_fd=mod_fd,
    )
    return kernel.bpf(Cmd.BPF_MAP_CREATE, attr), [btf_fd, mod_fd]


@pytest.fixture
def kernel() -> EmulatedKernel:
    return EmulatedKernel()


def _module(kernel: EmulatedKernel, registered: list[KData]) -> Module:
    def init_member(t: btflib.Struct, m: btflib.Member, kdata: KData, udata: bytes) -> int:
        if m.name == "flags":
            kdata.write("flags", udata[m.offset : m.offset + 4])
            return 1
        return 0

    def reg(kdata: KData, link: StructOpsLink | None) -> int:
        if registered:
            return -errno.EEXIST
        registered.append(kdata)
        return 0

    ops = StructOpsOps(
        name="my_ops",
        cfi_stubs={"on_event": "my_ops__on_event"},
        init=lambda spec: 0,
        init_member=init_member,
        reg=reg,
        unreg=lambda kdata, link: registered.remove(kdata),
        verifier_ops=VerifierOps(get_func_proto=lambda helper_id, prog: helper_id in {1, 2, 3}),
    )
    return Module(name="my_mod", btf=_split_btf(kernel), struct_ops=[ops])


def test_module_type_registers_with_nullable_arg(kernel: EmulatedKernel) -> None:
    """R1-R4: the type is found by name; the stub's __nullable parameter is recorded."""
    kernel.load_module(_module(kernel, []))
    desc = kernel.find_struct_ops("my_ops")
    assert desc is not None and desc.btf.module == "my_mod"
    assert desc.member_supported(0) and not desc.member_supported(1)
    (arg,) = desc.arg_info[0]
    assert arg.offset == 0 and arg.nullable and not arg.refcounted
    assert desc.func_models[0].nr_args == 1


def test_module_value_type_gives_a_struct_ops_map(kernel: EmulatedKernel) -> None:
    """C6/C10: a map of the module's value type (its BTF named by fd); L3: INIT reads zeros."""
    kernel.load_module(_module(kernel, []))
    desc = kernel.find_struct_ops("my_ops")
    assert desc is not None
    fd, btf_fds = _map(kernel, MapFlags.BPF_F_LINK)
    value = bytearray(desc.value_type.size)
    kernel.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd, key=struct.pack("<I", 0), value=value))
    assert bytes(value) == bytes(len(value))
    # a data-only update (no program) readies a link map without calling reg (U12)
    common = desc.value_type.member("data").offset
    update = bytearray(len(value))
    struct.pack_into("<I", update, common + 8, 7)
    kernel.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=struct.pack("<I", 0), value=bytes(update)))
    kernel.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd, key=struct.pack("<I", 0), value=value))
    state = struct.unpack_from("<I", value, desc.value_type.member("common").offset + 4)[0]
    assert state == StructOpsState.BPF_STRUCT_OPS_STATE_READY
    st_map, _ = kernel.root.get_map(fd)
    assert isinstance(st_map, StructOpsMap)
    assert st_map.kdata.read_int("flags") == 7  # init_member copied the data member into kdata
    for f in (fd, *btf_fds):
        kernel.close(f)


def test_unloading_a_module_in_use_is_refused(kernel: EmulatedKernel) -> None:
    """F5: the module stays while a map of its type holds it."""
    kernel.load_module(_module(kernel, []))
    desc = kernel.find_struct_ops("my_ops")
    assert desc is not None
    fd, btf_fds = _map(kernel, MapFlags(0))
    with pytest.raises(BpfError) as exc:
        kernel.unload_module("my_mod")
    assert exc.value.errno == errno.EBUSY
    for f in (fd, *btf_fds):
        kernel.close(f)
    kernel.rcu.synchronize()
    kernel.unload_module("my_mod")
    assert kernel.find_struct_ops("my_ops") is None
