"""Type registration by modules (R1-R6), module references (C10a, F5) and trampolines (U9j)."""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator

import pytest
import test_linux_scenarios as S

from structops import btf
from structops.kernel.attrs import GetIdAttr, MapCreateAttr, ProgLoadAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.struct_ops import StructOpsMap, StructOpsOps, register_struct_ops
from structops.kernel.subsys.testmod import make_module, registered
from structops.uapi import ENOTSUPP, Cmd, MapFlags, MapType, ProgType


@pytest.fixture
def k() -> EmulatedKernel:
    kernel = EmulatedKernel()
    kernel.load_module(make_module())
    return kernel


@pytest.fixture
def t(k: EmulatedKernel) -> Iterator[S.Tracker]:
    with S.tracked(k) as tr:
        yield tr


def _ops(name: str, stubs: dict[str, str | None] | None) -> StructOpsOps:
    return StructOpsOps(
        name=name,
        cfi_stubs=stubs,
        init=lambda s: 0,
        init_member=lambda *a: 0,
        reg=lambda kd, l: 0,
        unreg=lambda kd, l: None,
    )


def _mod_btf(k: EmulatedKernel):  # type: ignore[no-untyped-def]
    return k.modules["bpf_testmod"].btf_obj


@pytest.mark.spec("R3.1", "R3.2", "R3.3", "R3.5")
def test_R3_validation_order(k: EmulatedKernel) -> None:
    mod = _mod_btf(k)
    assert register_struct_ops(k, mod, _ops("x" * 113, {})) == -errno.EINVAL  # R3.1
    assert register_struct_ops(k, mod, _ops("x" * 112, {})) == -errno.EINVAL  # fails later (R3.3)
    assert register_struct_ops(k, mod, _ops("bpf_testmod_ops", None)) == -errno.EINVAL  # R3.2
    assert register_struct_ops(k, mod, _ops("no_such_ops", {})) == -errno.EINVAL  # R3.3
    assert register_struct_ops(k, mod, _ops("st_ops_args", {})) == -errno.EINVAL  # R3.5: no value type
    assert any("has no cfi_stubs" in line for line in k.logs)


def test_R2_same_ops_twice_is_eexist(k: EmulatedKernel) -> None:
    mod = _mod_btf(k)
    ops = _ops("bpf_testmod_ops2", {"test_1": "bpf_testmod_test_1"})
    assert register_struct_ops(k, mod, ops) == 0
    assert register_struct_ops(k, mod, ops) == -errno.EEXIST


def test_R4_stub_lookup_and_arg_count(k: EmulatedKernel) -> None:
    mod = _mod_btf(k)
    assert register_struct_ops(k, mod, _ops("bpf_testmod_ops3", {"test_1": "missing_stub"})) == -errno.ENOENT
    bad = {"test_1": "bpf_testmod_test_2"}  # test_1 has no args, the stub has two
    assert register_struct_ops(k, mod, _ops("bpf_testmod_ops3", bad)) == -errno.EINVAL


def test_R4_nullable_and_ref_args_found_from_stub_names(k: EmulatedKernel) -> None:
    d = k.find_struct_ops("bpf_testmod_ops")
    assert d is not None
    names = [m.name for m in d.type.members]
    maybe_null = d.arg_info[names.index("test_maybe_null")]
    refcounted = d.arg_info[names.index("test_refcounted")]
    assert [(a.offset, a.nullable, a.refcounted) for a in maybe_null] == [(8, True, False)]
    assert [(a.offset, a.nullable, a.refcounted) for a in refcounted] == [(8, False, True)]
    task = d.btf.spec.find("task_struct", btf.Struct)
    assert maybe_null[0].btf_id == d.btf.spec.type_id(task)
    assert not d.member_supported(names.index("unsupported_ops"))  # R3.8d


def _testmod_map(k: EmulatedKernel, t: S.Tracker, name: str, *, link: bool = False, vtype: bool = True) -> int:
    d = k.find_struct_ops(name)
    assert d is not None
    btf_fd = S.load_user_btf(k, t)
    mod_fd = t.own(k.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=d.btf.id)), S.OBJ_BTF, track_id=False)
    flags = (MapFlags.BPF_F_LINK if link else 0) | (MapFlags.BPF_F_VTYPE_BTF_OBJ_FD if vtype else 0)
    attr = MapCreateAttr(
        MapType.BPF_MAP_TYPE_STRUCT_OPS,
        4,
        d.value_type.size,
        1,
        map_flags=int(flags),
        btf_fd=btf_fd,
        btf_vmlinux_value_type_id=d.value_id,
        value_type_btf_obj_fd=mod_fd,
    )
    return t.own(k.bpf(Cmd.BPF_MAP_CREATE, attr), S.OBJ_MAP)


def test_C10a_module_type_needs_vtype_flag(k: EmulatedKernel, t: S.Tracker) -> None:
    S.expect_errno(ENOTSUPP, lambda: _testmod_map(k, t, "bpf_testmod_ops", vtype=False))  # C10c
    assert _testmod_map(k, t, "bpf_testmod_ops") > 0


def test_F5a_map_holds_module_unload_is_ebusy(k: EmulatedKernel, t: S.Tracker) -> None:
    fd = _testmod_map(k, t, "bpf_testmod_ops")
    S.expect_errno(errno.EBUSY, lambda: k.unload_module("bpf_testmod"))
    t.close(fd)
    k.unload_module("bpf_testmod")
    assert "bpf_testmod" not in k.modules


def _load(k: EmulatedKernel, t: S.Tracker, ops: str, member: str, code: bytes) -> int:
    d = k.find_struct_ops(ops)
    assert d is not None
    mod_fd = t.own(k.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=d.btf.id)), S.OBJ_BTF, track_id=False)
    idx = [m.name for m in d.type.members].index(member)
    attr = ProgLoadAttr(
        ProgType.BPF_PROG_TYPE_STRUCT_OPS,
        code,
        expected_attach_type=idx,
        attach_btf_id=d.type_id,
        attach_btf_obj_fd=mod_fd,
        log_buf=bytearray(4096),
        log_level=1,
    )
    return t.own(k.bpf(Cmd.BPF_PROG_LOAD, attr), S.OBJ_PROG)


RET0 = S.insn(0xB7, 0) + S.insn(0x95)


def test_V8_unsupported_op_of_module_type(k: EmulatedKernel, t: S.Tracker) -> None:
    err = S.expect_errno(ENOTSUPP, lambda: _load(k, t, "bpf_testmod_ops", "unsupported_ops", RET0))
    assert "unsupported member unsupported_ops" in err.log


def test_U9j_forty_trampolines_cross_one_page(k: EmulatedKernel, t: S.Tracker) -> None:
    d = k.find_struct_ops("bpf_testmod_ops")
    assert d is not None
    fd = _testmod_map(k, t, "bpf_testmod_ops", link=True)
    value = bytearray(d.value_type.size)
    data = d.value_type.member("data").offset
    for i in range(1, 41):
        prog_fd = _load(k, t, "bpf_testmod_ops", f"tramp_{i}", RET0)
        struct.pack_into("<Q", value, data + d.type.member(f"tramp_{i}").offset, prog_fd)
    S.update(k, fd, bytes(value))
    m, _ = k.root.get_map(fd)
    assert isinstance(m, StructOpsMap)
    assert len(m.trampolines) == 40
    assert len(m.images.pages) == 2
    assert k.tramp_pages == 2
    link_fd = S.link_create(k, t, fd)
    assert len(registered(k, "bpf_testmod_ops")) == 1
    t.close(link_fd)
    assert registered(k, "bpf_testmod_ops") == []


def test_single_instance_type_second_link_eexist(k: EmulatedKernel, t: S.Tracker) -> None:
    """S5: several links of one READY map each call reg; the subsystem refuses the second."""
    d = k.find_struct_ops("bpf_testmod_ops2")
    assert d is not None
    fd = _testmod_map(k, t, "bpf_testmod_ops2", link=True)
    value = bytearray(d.value_type.size)
    prog_fd = _load(k, t, "bpf_testmod_ops2", "test_1", RET0)
    struct.pack_into("<Q", value, d.value_type.member("data").offset, prog_fd)
    S.update(k, fd, bytes(value))
    S.link_create(k, t, fd)
    S.expect_errno(errno.EEXIST, lambda: S.link_create(k, t, fd))
