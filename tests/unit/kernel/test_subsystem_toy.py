"""The docs/architecture.md walkthrough, built-in shape: a toy subsystem defined here plugs
into the embedded kernel with its own BTF, struct_ops type, verifier ops and kfunc, and a
program loaded for it calls the kfunc when the kernel calls the op.

Checked: R1-R3 (registration through ``plug_in``), R4 (cfi stubs), V16 (helper set per
member), V17/T8 (``btf_struct_access`` and its log line), the per-member kfunc filter
(``btf_kfunc_id_set.filter``), K1 (link -> ``reg``) and the trampoline call.
"""

from __future__ import annotations

import errno
import struct

import pytest

from structops import btf as btflib
from structops.abi import LinkCreateAttr, MapCreateAttr, MapElemAttr, ProgLoadAttr
from structops.errors import BpfError
from structops.kernel.attrs import BtfLoadAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.struct_ops import KData, StructOpsLink, StructOpsOps
from structops.kernel.subsystem import KfuncDef, Subsystem, plug_in
from structops.uapi import Cmd, MapFlags, MapType, ProgType
from structops.verifier.ops import KF, VerifierOps

KTIME_GET_NS = 5
GET_PRANDOM_U32 = 7


def _vmlinux_with_toy() -> bytes:
    """The embedded vmlinux BTF plus ``struct toy_ops`` (R3.3-R3.6), its stubs and kfuncs."""
    from structops.kernel import kbtf

    base = btflib.parse(kbtf.vmlinux_btf_bytes())
    u64 = base.find("u64", btflib.Typedef)
    int_t = base.find("int", btflib.Int)
    ctx = btflib.Struct("toy_ctx", 16, (btflib.Member("value", u64, 0), btflib.Member("seq", u64, 64)))
    ctx_ptr = btflib.Pointer(ctx)  # one type id for member and stub parameter (R4)
    on_event = btflib.FuncProto(int_t, (btflib.Param("ctx", ctx_ptr), btflib.Param("x", u64)))
    other = btflib.FuncProto(int_t, (btflib.Param("x", u64),))
    ops = btflib.Struct(
        "toy_ops",
        16,
        (btflib.Member("on_event", btflib.Pointer(on_event), 0), btflib.Member("other", btflib.Pointer(other), 64)),
    )
    common = base.find("bpf_struct_ops_common_value", btflib.Struct)
    value = btflib.Struct(
        "bpf_struct_ops_toy_ops",
        common.size + ops.size,
        (btflib.Member("common", common, 0), btflib.Member("data", ops, common.size * 8)),
    )
    kfunc = btflib.FuncProto(u64, (btflib.Param("x", u64),))
    funcs = [
        btflib.Func("toy_ops__on_event", on_event),
        btflib.Func("toy_ops__other", other),
        btflib.Func("toy_double", kfunc, btflib.FuncLinkage.GLOBAL),
    ]
    return btflib.encode([*list(base.types)[1:], ops, value, *funcs])


class Toy:
    """The subsystem: one registration at a time, ``toy_double`` only for ``on_event``."""

    def __init__(self) -> None:
        self.registered: list[KData] = []
        self.kfunc_calls: list[int] = []

    def subsystem(self) -> Subsystem:
        def reg(kdata: KData, link: StructOpsLink | None) -> int:
            if self.registered:
                return -errno.EBUSY
            self.registered.append(kdata)
            return 0

        def toy_double(x: int, *_: int) -> int:
            self.kfunc_calls.append(x)
            return 2 * x

        ops = StructOpsOps(
            name="toy_ops",
            cfi_stubs={"on_event": "toy_ops__on_event", "other": "toy_ops__other"},
            init=lambda spec: 0,
            init_member=lambda t, m, kdata, udata: 0,
            reg=reg,
            unreg=lambda kdata, link: self.registered.remove(kdata),
            verifier_ops=VerifierOps(
                get_func_proto=lambda hid, prog: hid == KTIME_GET_NS,
                btf_struct_access=lambda t, off, size: 0 if (t, off, size) == ("toy_ctx", 0, 8) else -errno.EACCES,
                write_denied=lambda t, off, size: f"only toy_ctx.value is writable, not off {off}",
                kfunc_filter=lambda name, prog: prog.st_ops.member_name == "on_event",
            ),
        )
        return Subsystem("toy_ops", struct_ops=[ops], kfuncs=[KfuncDef("toy_double", toy_double, KF.TRUSTED_ARGS)])


def _insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


EXIT = _insn(0x95)


@pytest.fixture(scope="module")
def raw_vmlinux() -> bytes:
    return _vmlinux_with_toy()


@pytest.fixture
def toy(raw_vmlinux: bytes) -> tuple[EmulatedKernel, Toy]:
    k = EmulatedKernel(vmlinux=raw_vmlinux)  # the built-in subsystems plug in as usual
    t = Toy()
    plug_in(k, t.subsystem())
    return k, t


def _load(k: EmulatedKernel, member: int, code: bytes) -> int:
    desc = k.find_struct_ops("toy_ops")
    assert desc is not None
    attr = ProgLoadAttr(
        ProgType.BPF_PROG_TYPE_STRUCT_OPS, code, license="GPL", expected_attach_type=member, attach_btf_id=desc.type_id
    )
    return k.bpf(Cmd.BPF_PROG_LOAD, attr)


def _kfunc_id(k: EmulatedKernel) -> int:
    spec = k.vmlinux.spec
    return spec.type_id(spec.find("toy_double", btflib.Func))


def _on_event(k: EmulatedKernel, store_off: int = 0) -> bytes:
    """``ctx->value = toy_double(x); return the same``."""
    return b"".join(
        [
            _insn(0xBF, 6, 1),  # r6 = r1 (the u64 argument array)
            _insn(0x79, 1, 6, 8),  # r1 = x
            _insn(0x85, 0, 2, 0, _kfunc_id(k)),  # call toy_double (BPF_PSEUDO_KFUNC_CALL)
            _insn(0xBF, 7, 0),  # r7 = r0
            _insn(0x79, 1, 6, 0),  # r1 = ctx (struct toy_ctx *)
            _insn(0x7B, 1, 7, store_off),  # *(u64 *)(ctx + store_off) = r7
            _insn(0xBF, 0, 7),  # r0 = r7
            EXIT,
        ]
    )


def test_toy_subsystem_plugs_in_and_its_kfunc_runs_from_a_linked_program(toy: tuple[EmulatedKernel, Toy]) -> None:
    """R1-R3, K1: plug_in registers the type; a linked map calls reg; the op's program calls
    the subsystem's kfunc and writes the field its btf_struct_access allows."""
    k, t = toy
    assert "toy_ops" in k.subsystems
    desc = k.find_struct_ops("toy_ops")
    assert desc is not None and desc.member_supported(0) and desc.member_supported(1)
    prog_fd = _load(k, 0, _on_event(k))
    btf_fd = k.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=btflib.encode([btflib.Int("int", 4, btflib.IntEncoding.SIGNED)])))
    map_fd = k.bpf(
        Cmd.BPF_MAP_CREATE,
        MapCreateAttr(
            MapType.BPF_MAP_TYPE_STRUCT_OPS,
            4,
            desc.value_type.size,
            1,
            map_flags=int(MapFlags.BPF_F_LINK),
            btf_fd=btf_fd,
            btf_vmlinux_value_type_id=desc.value_id,
        ),
    )
    value = bytearray(desc.value_type.size)
    struct.pack_into("<Q", value, desc.value_type.member("data").offset, prog_fd)  # .on_event
    k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(map_fd, key=bytes(4), value=bytes(value)))
    link_fd = k.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(map_fd))
    (kdata,) = t.registered
    ctx = k.kmem.alloc(16, "toy_ctx")
    struct.pack_into("<QQ", ctx.buf, 0, 0, 99)
    assert kdata.call("on_event", ctx.addr, 21) == 42
    assert t.kfunc_calls == [21]
    assert struct.unpack_from("<QQ", ctx.buf) == (42, 99)
    assert not kdata.has("other")
    for fd in (link_fd, map_fd, prog_fd, btf_fd):
        k.close(fd)
    k.rcu.synchronize()
    assert t.registered == []  # closing the link unregistered it


def test_toy_verifier_ops_decide_writes_helpers_and_kfuncs_per_member(toy: tuple[EmulatedKernel, Toy]) -> None:
    """V17/T8: a write outside the allowed field is refused with the subsystem's wording;
    V16: the helper set is the subsystem's; the kfunc filter allows toy_double on one member."""
    k, _ = toy
    with pytest.raises(BpfError) as ei:
        _load(k, 0, _on_event(k, store_off=8))
    assert ei.value.errno == errno.EACCES and "only toy_ctx.value is writable, not off 8" in str(ei.value)
    ok = _load(k, 1, _insn(0x85, imm=KTIME_GET_NS) + EXIT)
    k.close(ok)
    with pytest.raises(BpfError) as ei:
        _load(k, 1, _insn(0x85, imm=GET_PRANDOM_U32) + EXIT)
    assert ei.value.errno == errno.EINVAL and "cannot use helper bpf_get_prandom_u32#7" in str(ei.value)
    call_kfunc = _insn(0xB7, 1, imm=1) + _insn(0x85, 0, 2, 0, _kfunc_id(k)) + EXIT
    with pytest.raises(BpfError) as ei:
        _load(k, 1, call_kfunc)
    assert ei.value.errno == errno.EACCES and "calling kernel function toy_double is not allowed" in str(ei.value)
