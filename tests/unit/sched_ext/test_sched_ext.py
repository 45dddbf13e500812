"""sched_ext on the embedded kernel: registration rules and scheduling behaviour (SX-*)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from structops.api import Collection
from structops.errors import BpfError
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.subsys.sched_ext import consts as C
from structops.kernel.subsys.sched_ext.bstr import format_bstr
from structops.schedsim.machine import Machine

SCHED = Path(__file__).resolve().parents[3] / "testdata" / "sched"
MS = 1_000_000


def _setup(obj: str, nr_cpus: int = 4, tasks: int = 8, nice_split: bool = False, **knobs: object):
    k = EmulatedKernel()
    m = Machine(k, nr_cpus)
    k.sched_ext.machine = m  # type: ignore[attr-defined]
    for i in range(tasks):
        m.add_task(f"hog{i}", group="a" if i < tasks // 2 else "b", nice=10 if nice_split and i >= tasks // 2 else 0)
    spec = Collection.open(SCHED / obj)
    for name, value in knobs.items():
        spec.set_global(name, value)
    coll = spec.load(k)
    return k, m, coll


def test_scx_weight_scale_sx_t5() -> None:
    """SX-T5: nice 0 = 100, nice 10 = 11, nice -20 = 8668, nice 19 = 1."""
    got = {n: C.scx_weight(C.NICE_TO_WEIGHT[n + 20]) for n in (0, 10, -20, 19, -1, 1)}
    assert got == {0: 100, 10: 11, -20: 8668, 19: 1, -1: 125, 1: 80}


def test_bstr_formats_like_bpf_snprintf_sx_k31() -> None:
    """SX-K31: %d is a signed 32-bit view of the u64 slot; %s reads kernel memory."""
    out = format_bstr(b"bad %d at %s (%llx)", [(1 << 64) - 3, 0x10, 0xABC], lambda a: b"enqueue")
    assert out == "bad -3 at enqueue (abc)"


def test_vtime_shares_cpu_by_weight_and_all_cpus_busy() -> None:
    """Weighted vtime: nice 0 tasks get ~100/11 the CPU of nice 10 tasks; every CPU busy."""
    k, m, coll = _setup("sx_vtime.bpf.o", tasks=16, nice_split=True)
    with coll, coll.maps["sx_vtime"].attach_struct_ops():
        m.run(4000 * MS)
        assert k.sched_ext.sch is not None and not k.sched_ext.sch.exit.kind
        heavy = sum(t.runtime_ns for t in m.tasks if t.nice == 0)
        light = sum(t.runtime_ns for t in m.tasks if t.nice == 10)
        assert 100 / 11 * 0.7 < heavy / light < 100 / 11 * 1.3
        assert all(c.busy_ns >= 0.99 * 4000 * MS for c in m.cpus)
        assert all(t.sched_class == "scx" and t.runtime_ns > 0 for t in m.tasks)
    assert m.exits[-1].kind == C.SCX_EXIT_UNREG
    assert all(t.sched_class == "fair" for t in m.tasks)
    m.close()


def test_fifo_ignores_weight() -> None:
    """FIFO: round robin over 20 ms slices, so nice does not change the share."""
    _k, m, coll = _setup("sx_fifo.bpf.o", nice_split=True)
    with coll, coll.maps["sx_fifo"].attach_struct_ops():
        m.run(4000 * MS)
        heavy = sum(t.runtime_ns for t in m.tasks if t.nice == 0)
        light = sum(t.runtime_ns for t in m.tasks if t.nice == 10)
        assert 0.8 < heavy / light < 1.25
        assert coll.get_global("nr_enqueued") > 0
    m.close()


def test_second_attach_is_ebusy_sx_r9() -> None:
    """SX-R9: one scheduler at a time."""
    k, m, coll = _setup("sx_fifo.bpf.o")
    coll2 = Collection.open(SCHED / "sx_vtime.bpf.o").load(k)
    with coll, coll2, coll.maps["sx_fifo"].attach_struct_ops():
        with pytest.raises(BpfError) as ei:
            coll2.maps["sx_vtime"].attach_struct_ops()
        assert ei.value.errno == errno.EBUSY
    m.close()


def test_scx_bpf_error_ejects_with_message_sx_k31() -> None:
    """scx_bpf_error("...%d", n) -> SCX_EXIT_ERROR_BPF with the formatted message; tasks go fair."""
    _k, m, coll = _setup("sx_fifo.bpf.o", error_after=5)
    with coll, coll.maps["sx_fifo"].attach_struct_ops():
        m.run(500 * MS)
        ex = m.exits[-1]
        assert ex.kind == C.SCX_EXIT_ERROR_BPF and ex.reason == "scx_bpf_error"
        assert ex.msg == "sx_fifo: error after 5 enqueues"
        assert coll.get_global("exit_kind") == C.SCX_EXIT_ERROR_BPF
        before = [t.runtime_ns for t in m.tasks]
        m.run(200 * MS)
        assert all(t.sched_class == "fair" for t in m.tasks)
        assert all(t.runtime_ns > b for t, b in zip(m.tasks, before, strict=True))
    m.close()


def test_watchdog_stall_sx_e7() -> None:
    """A scheduler that never dispatches is ejected after timeout_ms (5 s) with SCX_EXIT_ERROR_STALL."""
    _k, m, coll = _setup("sx_fifo.bpf.o", no_dispatch=True)
    with coll, coll.maps["sx_fifo"].attach_struct_ops():
        m.run(4000 * MS)
        assert not m.exits
        m.run(4000 * MS)
        ex = m.exits[-1]
        assert ex.kind == C.SCX_EXIT_ERROR_STALL
        assert "failed to run for 5." in ex.msg or "failed to run for 6." in ex.msg or "failed to run for 7." in ex.msg
        before = sum(t.runtime_ns for t in m.tasks)
        m.run(500 * MS)
        assert sum(t.runtime_ns for t in m.tasks) - before >= 4 * 499 * MS
    m.close()


def test_dispatch_kfunc_from_enqueue_is_a_runtime_error_sx_k2() -> None:
    """SX-K2 (6.18 checks at run time, not at load): move_to_local from enqueue ejects."""
    _k, m, coll = _setup("sx_fifo.bpf.o", bad_kfunc=True)
    with coll, coll.maps["sx_fifo"].attach_struct_ops():
        m.run(200 * MS)
        ex = m.exits[-1]
        assert ex.kind == C.SCX_EXIT_ERROR
        assert ex.msg == "kfunc with mask 0x2 called from an operation only allowing 0x4"
    m.close()


def test_bpf_vtime_and_python_twin_decide_identically() -> None:
    """The BPF example and its Python twin on the same core: identical per-task runtimes and switches."""
    from structops.schedsim.job import add_workload
    from structops.schedsim.policies import VtimePy
    from structops.schedsim.pyops import attach_python
    from structops.schedsim.workload import Group

    groups = [
        Group("hog", count=6, nice=0),
        Group("bg", count=4, nice=10),
        Group("io", count=4, run_ns=MS, sleep_ns=3 * MS),
    ]

    def run(bpf: bool) -> list[tuple[int, int, int]]:
        k = EmulatedKernel()
        m = Machine(k, 4, smt=2, seed=3)
        k.sched_ext.machine = m  # type: ignore[attr-defined]
        add_workload(m, groups)
        if bpf:
            with Collection.open(SCHED / "sx_vtime.bpf.o").load(k) as coll, coll.maps["sx_vtime"].attach_struct_ops():
                m.run(600 * MS)
                out = [(t.runtime_ns, t.nr_switches, t.nr_migrations) for t in m.tasks]
        else:
            attach_python(m, VtimePy(m))
            m.run(600 * MS)
            out = [(t.runtime_ns, t.nr_switches, t.nr_migrations) for t in m.tasks]
        m.close()
        return out

    a, b = run(True), run(False)
    assert a == b
    assert all(r > 0 for r, _, _ in a)


def test_queue_map_scheduler_with_task_storage() -> None:
    """sx_qmap: pids through a QUEUE map, per-task counters in TASK_STORAGE, acquire/release of tasks."""
    from structops.schedsim.job import add_workload
    from structops.schedsim.workload import Group

    k = EmulatedKernel()
    m = Machine(k, 4)
    k.sched_ext.machine = m  # type: ignore[attr-defined]
    add_workload(m, [Group("hog", count=8), Group("short", count=2, run_ns=MS, sleep_ns=2 * MS, exit_ns=300 * MS)])
    with Collection.open(SCHED / "sx_qmap.bpf.o").load(k) as coll, coll.maps["sx_qmap"].attach_struct_ops():
        m.run(1000 * MS)
        assert k.sched_ext.sch is not None and not k.sched_ext.sch.exit.kind
        assert all(c.busy_ns == 1000 * MS for c in m.cpus)
        assert all(t.runtime_ns > 0 for t in m.tasks)
        enq = coll.get_global("nr_enqueued")
        # a pid still queued when its task exited is "lost" when popped (bpf_task_from_pid: NULL)
        assert enq > 0 and coll.get_global("nr_lost") <= 2 and coll.get_global("nr_overflow") == 0
        assert coll.get_global("nr_dispatched") + coll.get_global("nr_local") <= enq
        storage, _ = k.root.get_map(coll.maps["task_ctxs"].fd)
        live = [t for t in m.tasks if not t.dead]
        assert sorted(storage.owners()) == sorted(t.addr for t in live)  # exited tasks lost theirs
        queued = [int.from_bytes(storage.value_of(t.addr)[8:16], "little") for t in live]
        assert all(q > 0 for q in queued)
    m.close()
