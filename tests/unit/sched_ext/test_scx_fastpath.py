"""The simulator's fast op-call path decides exactly like the general one (issue 13 speed work).

Ops run inside one RCU read-side section per batch of events and skip the trampoline
wrapper while BPF stats are off; with stats on (SX ops are BPF programs like any other:
``run_cnt`` counts them) the trampoline path runs.  Both must give the same trace.
"""

from __future__ import annotations

from pathlib import Path

from structops.schedsim import SchedSim

SCHED = Path(__file__).resolve().parents[3] / "testdata" / "sched"


def _trace(stats: bool) -> tuple[list[tuple[int, int, int, int]], int, int]:
    with SchedSim(cpus=4, seed=7) as sim:
        sim.add_group("hog", count=6, nice=5)
        sim.add_group("io", count=4, run_ns=1_000_000, sleep_ns=3_000_000)
        sim.kernel.stats.sysctl = stats
        sched = sim.load(SCHED / "sx_vtime.bpf.o")
        sim.attach(sched)
        sim.run("150ms")
        sch = sim.scheduler
        assert sch is not None
        run_cnt = sch._tramp["running"].prog.stats.run_cnt
        readers = sim.kernel.rcu.active_readers()
        trace = [(t.pid, t.runtime_ns, t.nr_switches, t.nr_migrations) for t in sim.tasks]
        return trace, run_cnt, readers


def test_stats_on_counts_ops_and_changes_no_decision() -> None:
    """BPF_ENABLE_STATS on: ops go through the trampoline (run_cnt grows); the trace is the same."""
    fast, cnt_off, readers_off = _trace(False)
    slow, cnt_on, readers_on = _trace(True)
    assert fast == slow
    assert cnt_off == 0 and cnt_on > 0
    assert sum(n for _, _, n, _ in slow) >= cnt_on  # ops.running once per switch to a new task at most
    assert readers_off == readers_on == 0  # no read-side section left open between runs


def test_rcu_callbacks_queued_by_an_event_run_after_its_batch() -> None:
    """call_rcu from inside an event waits for the batch's read-side section, then runs within the run."""
    with SchedSim(cpus=2, seed=1) as sim:
        sim.add_group("hog", count=3)
        sched = sim.load(SCHED / "sx_vtime.bpf.o")
        sim.attach(sched)
        m = sim.machine
        tick = m._handlers["tick"]
        queued: list[int] = []
        done: list[int] = []

        def tick_and_queue(data: object) -> None:
            tick(data)
            if not queued:
                queued.append(m.now)
                sim.kernel.rcu.call_rcu(lambda: done.append(m.now))
                assert not done and sim.kernel.rcu.in_reader()  # deferred: the event runs inside a section

        m._handlers["tick"] = tick_and_queue
        sim.run("50ms")
        assert queued and done and done[0] >= queued[0]
        assert sim.kernel.rcu.pending_callbacks() == 0 and not sim.kernel.rcu.in_reader()
