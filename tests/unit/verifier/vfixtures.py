"""Fixtures for the verifier tests (imported by the test modules): an embedded kernel, BTF facts, a loader."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import test_linux_scenarios as S

from structops.kernel.attrs import GetIdAttr, ProgLoadAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.subsys.testmod import make_module
from structops.uapi import Cmd, ProgType

Loader = Callable[..., int]


@pytest.fixture
def kernel() -> EmulatedKernel:
    k = EmulatedKernel()
    k.load_module(make_module())
    return k


@pytest.fixture
def env(kernel: EmulatedKernel) -> S.Env:
    return S.resolve_env(kernel.vmlinux_btf())


@pytest.fixture
def tracker(kernel: EmulatedKernel) -> Iterator[S.Tracker]:
    with S.tracked(kernel) as t:
        yield t


@pytest.fixture
def load(kernel: EmulatedKernel, tracker: S.Tracker) -> Loader:
    """``load(ops_name, member, code, log=None) -> prog fd`` (raises the kernel's error)."""

    def _load(ops: str, member: str, code: bytes, log: bytearray | None = None) -> int:
        d = kernel.find_struct_ops(ops)
        assert d is not None
        btf_fd = 0
        if d.btf is not kernel.vmlinux:
            btf_fd = tracker.own(
                kernel.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=d.btf.id)), S.OBJ_BTF, track_id=False
            )
        attr = ProgLoadAttr(
            ProgType.BPF_PROG_TYPE_STRUCT_OPS,
            code,
            expected_attach_type=[m.name for m in d.type.members].index(member),
            attach_btf_id=d.type_id,
            attach_btf_obj_fd=btf_fd,
            log_buf=log if log is not None else bytearray(16384),
            log_level=1,
        )
        return tracker.own(kernel.bpf(Cmd.BPF_PROG_LOAD, attr), S.OBJ_PROG)

    return _load
