"""The subsystem plug-in interface (issue 10 item 2): one way in for struct_ops types,
verifier ops, kfuncs and helpers (R1-R3 registration order, T10 sets, T2 kfuncs)."""

from __future__ import annotations

import errno
import struct

import pytest

from structops.abi import ProgLoadAttr
from structops.errors import BpfError
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.subsys import dummy_ops
from structops.kernel.subsystem import KfuncDef, Subsystem, SubsystemError, plug_in
from structops.uapi import Cmd, ProgType
from structops.verifier.ops import KF


def _code(*insns: tuple[int, int, int, int]) -> bytes:
    return b"".join(struct.pack("<BBhi", *i) for i in insns)


def test_plug_in_registers_the_struct_ops_type_and_refuses_a_second_time() -> None:
    k = EmulatedKernel(with_subsystems=False)
    assert k.find_struct_ops("bpf_dummy_ops") is None
    dummy_ops.install(k)
    desc = k.find_struct_ops("bpf_dummy_ops")
    assert desc is not None and desc.ops.verifier_ops.get_func_proto is None  # DM4: no helpers
    with pytest.raises(SubsystemError, match="bpf_dummy_ops"):
        plug_in(k, Subsystem("again", struct_ops=[desc.ops]))


def test_plug_in_kfuncs_helpers_and_protos_reach_verifier_and_vm() -> None:
    k = EmulatedKernel(with_subsystems=False)
    calls: list[tuple[int, ...]] = []

    def ssthresh(*args: int) -> int:
        calls.append(args)
        return 42

    def comm(run: object, *args: int) -> int:
        return 0

    from structops.vm import HelperSpec

    plug_in(
        k,
        Subsystem(
            "extras",
            kfuncs=[KfuncDef("tcp_reno_ssthresh", ssthresh, KF.TRUSTED_ARGS, frozenset({1}))],
            unimplemented_kfuncs=frozenset({"tcp_reno_undo_cwnd"}),
            helpers=[HelperSpec(16, "get_current_comm", comm)],
            helper_protos={16: (("wrmem", "size"), "int")},
        ),
    )
    kf = next(v for v in k.kfuncs.values() if v.name == "tcp_reno_ssthresh")
    assert kf.flags == int(KF.TRUSTED_ARGS) and kf.prog_types == frozenset({1})
    proto = k.helpers.proto(16)
    assert proto is not None and proto.args == ("wrmem", "size")
    assert k.helpers.implemented(16) and k.executor.vm.helpers.get(16).func is comm
    # the kfunc is in the socket filter set now (its prog_types), so the verifier sees it
    fid = k.vmlinux.spec.type_id(k.vmlinux.spec.find("tcp_reno_ssthresh"))
    sf = ProgType.BPF_PROG_TYPE_SOCKET_FILTER
    with pytest.raises(BpfError) as ei:  # R1 is ctx, not a struct sock: the verifier's arg check
        k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(sf, _code((0x85, 0x20, 0, fid), (0x95, 0, 0, 0))))
    assert ei.value.errno == errno.EINVAL and "must point to scalar, or struct with scalar" in str(ei.value)
    undo = k.vmlinux.spec.type_id(k.vmlinux.spec.find("tcp_reno_undo_cwnd"))
    with pytest.raises(BpfError) as ei:
        k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(sf, _code((0x85, 0x20, 0, undo), (0x95, 0, 0, 0))))
    assert ei.value.errno == errno.EINVAL and "does not implement" in str(ei.value)
    # the declared prototype is checked: R1 must be writable memory sized by R2
    with pytest.raises(BpfError) as ei:
        k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(sf, _code((0xB7, 2, 0, 16), (0x85, 0, 0, 16), (0x95, 0, 0, 0))))
    assert ei.value.errno == errno.EACCES
