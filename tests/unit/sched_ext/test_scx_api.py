"""The SchedSim API: attach, run, inspect tasks, DSQs and maps mid-run (docs/sched-ext.md)."""

from __future__ import annotations

from pathlib import Path

from structops.kernel.subsys.sched_ext import consts as C
from structops.schedsim import SchedSim

SCHED = Path(__file__).resolve().parents[3] / "testdata" / "sched"


def test_inspect_mid_run() -> None:
    """Mid-run: waiting tasks sit in DSQ 0 in vtime order; globals are live; detach hands tasks to fair."""
    with SchedSim(cpus=2, seed=1) as sim:
        sim.add_group("hog", count=6)
        sched = sim.load(SCHED / "sx_vtime.bpf.o")
        sim.attach(sched)
        sim.run("100ms")
        waiting = sim.dsq(0)
        assert len(waiting) == 4 and all(t.sched_class == "scx" and not t.running for t in waiting)
        vt = [t.dsq_vtime for t in waiting]
        assert vt == sorted(vt)
        assert sched.get_global("nr_queued") > 0
        assert sim.scheduler is not None and sim.scheduler.name == "sx_vtime"
        running = [t for t in sim.tasks if t.running]
        assert len(running) == 2 and {t.cpu for t in running} == {0, 1}
        sim.detach()
        assert sim.exit is not None and sim.exit.kind == C.SCX_EXIT_UNREG
        assert sim.scheduler is None and all(t.sched_class == "fair" for t in sim.tasks)
        before = sum(t.runtime_ns for t in sim.tasks)
        sim.run(0.05)
        assert sum(t.runtime_ns for t in sim.tasks) - before == 2 * 50_000_000


def test_select_cpu_dfl_prefers_an_idle_core_sx_i3() -> None:
    """SX-I3: with SMT, a waking task goes to a CPU whose whole core is idle, not to a busy CPU's sibling."""
    with SchedSim(cpus=4, smt=2, seed=1) as sim:
        sched = sim.load(SCHED / "sx_fifo.bpf.o")
        sim.attach(sched)
        first = sim.add_group("a")[0]
        sim.run("10ms")
        assert first.running
        core_of = {0: 0, 1: 0, 2: 1, 3: 1}
        second = sim.add_group("b", start_ns=sim.now + 1)[0]
        sim.run("10ms")
        assert second.running and core_of[second.cpu] != core_of[first.cpu]
        assert sched.get_global("nr_local") == 2  # both went straight to an idle CPU's local DSQ


def test_dsq_iterator_and_move_sx_d19() -> None:
    """SX-K16/SX-D19: iterate a user DSQ and move tasks to the local DSQ with a slice override."""
    from structops.schedsim.pyops import PythonScheduler, attach_python

    moved: list[int] = []

    class IterMove(PythonScheduler):
        name = "itermove"

        def init(self) -> int:
            return self.kf("scx_bpf_create_dsq", 7, (1 << 64) - 1)

        def enqueue(self, p: int, enq_flags: int) -> int:
            self.kf("scx_bpf_dsq_insert", p, 7, 0, enq_flags)
            return 0

        def dispatch(self, cpu: int, prev: int) -> int:
            it = self.machine.scratch(48).addr
            assert self.kf("bpf_iter_scx_dsq_new", it, 7, 0) == 0
            p = self.kf("bpf_iter_scx_dsq_next", it)
            if p:
                self.kf("scx_bpf_dsq_move_set_slice", it, 3_000_000)
                if self.kf("scx_bpf_dsq_move", it, p, (1 << 63) | 2, 0):
                    moved.append(p)
            self.kf("bpf_iter_scx_dsq_destroy", it)
            return 0

    with SchedSim(cpus=2, seed=1) as sim:
        sim.add_group("hog", count=4)
        sch = attach_python(sim.machine, IterMove(sim.machine))
        sim.run("200ms")
        assert not sch.exit.kind and moved
        assert all(t.runtime_ns > 0 for t in sim.tasks)
        # 3 ms slices: ticks are 4 ms apart, so every run lasts one tick
        assert sum(t.nr_switches for t in sim.tasks) >= 80  # 20 ms slices would give about 20
