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


# --- every struct_ops subsystem comes in through plug_in (one registration path) ------------
def test_all_four_subsystems_are_plugged_in_and_own_every_registered_type() -> None:
    """R1: dummy_ops, tcp_congestion_ops, sched_ext (built in) and bpf_testmod (a module) are
    each one Subsystem in ``kernel.subsystems``; every registered type belongs to one of them."""
    from structops.kernel.subsys import tcp_kfuncs
    from structops.kernel.subsys.sched_ext import ScxState, state_of
    from structops.kernel.subsys.testmod import make_module

    k = EmulatedKernel()
    assert set(k.subsystems) == {"bpf_dummy_ops", "tcp_congestion_ops", "sched_ext_ops"}
    k.load_module(make_module())
    assert set(k.subsystems) == {"bpf_dummy_ops", "tcp_congestion_ops", "sched_ext_ops", "bpf_testmod"}
    owned = {id(ops): sub.name for sub in k.subsystems.values() for ops in sub.struct_ops}
    descs = [d for table in k.struct_ops_descs.values() for d in table]
    assert {d.ops.name: owned[id(d.ops)] for d in descs} == {
        "bpf_dummy_ops": "bpf_dummy_ops",
        "tcp_congestion_ops": "tcp_congestion_ops",
        "sched_ext_ops": "sched_ext_ops",
        "bpf_testmod_ops": "bpf_testmod",
        "bpf_testmod_ops2": "bpf_testmod",
        "bpf_testmod_ops3": "bpf_testmod",
        "bpf_testmod_multi_st_ops": "bpf_testmod",
    }
    testmod = k.subsystems["bpf_testmod"]
    assert testmod.btf is k.modules["bpf_testmod"].btf_obj  # a module plugs in on its own split BTF
    assert all(ops.owner == "bpf_testmod" for ops in testmod.struct_ops)  # its maps hold the module
    assert isinstance(state_of(k), ScxState)  # sched_ext's setup hook installed its state
    assert {kf.name for kf in k.kfuncs.values()} >= {"scx_bpf_dsq_insert", "tcp_reno_ssthresh"}
    assert k.unimplemented_kfuncs >= tcp_kfuncs.BBR_KFUNCS  # named at PROG_LOAD, not "not allowed"
    k.unload_module("bpf_testmod")  # F5: unplugged with the module
    assert "bpf_testmod" not in k.subsystems and k.find_struct_ops("bpf_testmod_ops") is None


def test_plug_in_is_the_only_caller_of_the_registration_primitives() -> None:
    """One way in: outside kernel/subsystem.py no source registers a struct_ops type or a
    kfunc with the embedded kernel directly (``register_struct_ops`` / ``register_kfunc``)."""
    import pathlib
    import re

    import structops

    root = pathlib.Path(structops.__file__).parent
    primitive = re.compile(
        r"from structops\.kernel\.struct_ops[\w.]* import[^\n]*\bregister_struct_ops\b|kernel\.register_kfunc\("
    )
    callers = {
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if primitive.search(p.read_text()) and p.parent.name != "struct_ops"  # the package re-exports it
    }
    assert callers == {"kernel/subsystem.py"}


def test_a_module_name_taken_by_a_subsystem_is_eexist() -> None:
    """A module cannot shadow a plugged-in subsystem (refused before its BTF is parsed)."""
    from structops.kernel.modules import Module

    k = EmulatedKernel()
    with pytest.raises(BpfError) as ei:
        k.load_module(Module(name="sched_ext_ops", btf=b""))
    assert ei.value.errno == errno.EEXIST and "sched_ext_ops" not in k.modules
