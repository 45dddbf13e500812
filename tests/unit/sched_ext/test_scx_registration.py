"""sched_ext_ops registration rules on the embedded kernel (SX-R5-SX-R9, SX-K3)."""

from __future__ import annotations

import dataclasses
import errno
import struct
from pathlib import Path

import pytest

from structops import btf as btflib
from structops.api import Collection
from structops.errors import BpfError
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.subsys.sched_ext import consts as C
from structops.schedsim.machine import Machine

SCHED = Path(__file__).resolve().parents[3] / "testdata" / "sched"


def _kernel() -> tuple[EmulatedKernel, Machine]:
    k = EmulatedKernel()
    m = Machine(k, 2)
    k.sched_ext.machine = m  # type: ignore[attr-defined]
    m.add_task("t0")
    return k, m


def _patched(k: EmulatedKernel, field: str, raw: bytes, obj: str = "sx_fifo") -> Collection:
    spec = Collection.open(SCHED / f"{obj}.bpf.o")
    so = spec.spec.maps[obj].struct_ops
    assert so is not None
    off = k.vmlinux.spec.find("sched_ext_ops", btflib.Struct).member(field).offset
    data = bytearray(so.data)
    data[off : off + len(raw)] = raw
    spec.spec.maps[obj].struct_ops = dataclasses.replace(so, data=bytes(data))
    return spec


@pytest.mark.parametrize(
    ("field", "raw", "err"),
    [
        ("timeout_ms", struct.pack("<I", 30001), errno.E2BIG),
        ("flags", struct.pack("<Q", 0x80), errno.EINVAL),
        ("flags", struct.pack("<Q", C.SCX_OPS_HAS_CPU_PREEMPT), errno.EINVAL),
        ("dispatch_max_batch", struct.pack("<I", 0x80000000), errno.E2BIG),
        ("name", b"bad name\0", errno.EINVAL),
        ("name", b"\0", errno.EINVAL),
    ],
)
def test_init_member_refusals_sx_r6(field: str, raw: bytes, err: int) -> None:
    """SX-R6: timeout above 30 s E2BIG, unknown flags EINVAL, batch > INT_MAX E2BIG, bad names EINVAL."""
    k, m = _kernel()
    with _patched(k, field, raw).load(k) as coll:
        with pytest.raises(BpfError) as ei:
            coll.maps["sx_fifo"].attach_struct_ops()
        assert ei.value.errno == err
        assert k.sched_ext.sch is None  # type: ignore[attr-defined]
    m.close()


def test_init_member_accepts_limits_sx_r6() -> None:
    """SX-R6: 30000 ms and every known flag bit are accepted; the name is copied."""
    k, m = _kernel()
    spec = _patched(k, "timeout_ms", struct.pack("<I", 30000))
    with spec.load(k) as coll, coll.maps["sx_fifo"].attach_struct_ops():
        sch = k.sched_ext.sch  # type: ignore[attr-defined]
        assert sch is not None and sch.name == "sx_fifo" and sch.timeout_ns == 30_000_000_000
        assert sch.exit_dump_len == C.SCX_EXIT_DUMP_DFL_LEN
    m.close()


def test_update_is_eopnotsupp_sx_r8() -> None:
    """SX-R8: replacing a live scheduler through BPF_LINK_UPDATE is -EOPNOTSUPP."""
    k, m = _kernel()
    with Collection.open(SCHED / "sx_fifo.bpf.o").load(k) as a, Collection.open(SCHED / "sx_vtime.bpf.o").load(k) as b:
        with a.maps["sx_fifo"].attach_struct_ops() as link, pytest.raises(BpfError) as ei:
            link.update_map(b.maps["sx_vtime"])
        assert ei.value.errno == errno.EOPNOTSUPP
    m.close()


def test_reattach_after_detach_sx_r13() -> None:
    """SX-R13: detaching disables synchronously (SCX_EXIT_UNREG); a new scheduler may attach."""
    k, m = _kernel()
    with Collection.open(SCHED / "sx_fifo.bpf.o").load(k) as a, Collection.open(SCHED / "sx_vtime.bpf.o").load(k) as b:
        with a.maps["sx_fifo"].attach_struct_ops():
            m.run(50_000_000)
        assert k.sched_ext.sch is None  # type: ignore[attr-defined]
        assert m.exits[-1].kind == C.SCX_EXIT_UNREG and m.exits[-1].reason == "unregistered from user space"
        assert a.get_global("exit_kind") == C.SCX_EXIT_UNREG
        with b.maps["sx_vtime"].attach_struct_ops():
            assert k.sched_ext.sch.name == "sx_vtime"  # type: ignore[attr-defined]
    m.close()


def test_sleepable_only_on_allowed_members_sx_r7() -> None:
    """SX-R7: a sleepable program on enqueue fails to load with -EINVAL."""
    k, m = _kernel()
    spec = Collection.open(SCHED / "sx_fifo.bpf.o")
    p = spec.spec.programs["sx_fifo_enqueue"]
    spec.spec.programs["sx_fifo_enqueue"] = dataclasses.replace(p, sleepable=True)
    with pytest.raises(BpfError) as ei:
        spec.load(k)
    assert ei.value.errno == errno.EINVAL
    m.close()


def test_sleepable_kfunc_needs_sleepable_program_sx_k3() -> None:
    """SX-K3: scx_bpf_create_dsq (KF_SLEEPABLE) from a non-sleepable init is refused at load."""
    k, m = _kernel()
    spec = Collection.open(SCHED / "sx_fifo.bpf.o")
    p = spec.spec.programs["sx_fifo_init"]
    spec.spec.programs["sx_fifo_init"] = dataclasses.replace(p, sleepable=False)
    with pytest.raises(BpfError) as ei:
        spec.load(k)
    assert ei.value.errno == errno.EACCES
    assert "sx_fifo_init" in str(ei.value)
    m.close()


def test_task_writes_limited_sx_r5() -> None:
    """SX-R5: only scx.slice, scx.dsq_vtime and scx.disallow are writable through a task pointer."""
    k, _ = _kernel()
    desc = k.find_struct_ops("sched_ext_ops")
    assert desc is not None
    access = desc.ops.verifier_ops.btf_struct_access
    assert access is not None
    ts = k.vmlinux.spec.find("task_struct", btflib.Struct)
    from structops.kernel.btfview import field_path

    for path, size, ok in (
        ("scx.slice", 8, True),
        ("scx.dsq_vtime", 8, True),
        ("scx.disallow", 1, True),
        ("scx.weight", 4, False),
        ("pid", 4, False),
    ):
        assert (access("task_struct", field_path(ts, path).offset, size) == 0) is ok, path
