"""The shipped ``sx_central`` example (testdata/sched/sx_central.bpf.c): one CPU dispatches
for all, driven by a 1 ms BPF timer (issue 13 item 6).

Kernel facts it relies on: a BPF timer re-armed from its callback fires every period on
the simulated clock; ``scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, ...)`` from the
central CPU's dispatch puts ``p`` on another CPU's local DSQ (SX-D1); ``scx_bpf_kick_cpu``
with SCX_KICK_PREEMPT makes the central CPU give up its task and dispatch again; a CPU whose
dispatch finds nothing keeps running its previous task (no SCX_OPS_ENQ_LAST).
"""

from __future__ import annotations

import io

from structops.cli import main
from structops.schedsim.examples import EXAMPLES, example_path
from structops.schedsim.job import SchedConfig, run_sched
from structops.schedsim.workload import Group

SECOND = 1_000_000_000


def test_central_keeps_every_cpu_busy_and_serves_every_task() -> None:
    res = run_sched(SchedConfig(example_path("central"), cpus=4, duration_ns=SECOND, workload=(Group("hog", count=8),)))
    assert res.exit is None
    assert res.scheduler == "sx_central"
    assert [c.busy_ns for c in res.machine.cpus] == [SECOND] * 4
    runtimes = [t.runtime_ns for t in res.machine.tasks]
    assert min(runtimes) > SECOND // 8 // 2  # each of 8 hogs on 4 CPUs gets a fair-ish share
    m = res.maps
    assert 990 <= m["nr_ticks"] <= 1000  # the 1 ms timer fired every period of the second
    assert m["nr_remote"] > 0 and m["nr_self"] > 0 and m["nr_preempts"] > 0
    assert m["nr_lost"] == 0 and m["nr_queue_full"] == 0
    # every enqueue was handed out by the central CPU, except those still queued (at most
    # one entry per task: a task waits in the queue once)
    waiting = m["nr_enqueued"] - m["nr_remote"] - m["nr_self"]
    assert 0 <= waiting <= 8


def test_one_task_per_cpu_is_placed_once_and_never_preempted() -> None:
    """One hog per CPU: the central CPU places both tasks once (one remote, one for itself);
    afterwards a CPU whose dispatch finds nothing keeps its task, nothing waits in the queue,
    so the timer never preempts the central CPU."""
    dur = SECOND // 5
    res = run_sched(SchedConfig(example_path("central"), cpus=2, duration_ns=dur, workload=(Group("hog", count=2),)))
    assert res.exit is None
    assert [c.busy_ns for c in res.machine.cpus] == [dur] * 2
    assert [t.runtime_ns for t in res.machine.tasks] == [dur] * 2
    m = res.maps
    assert (m["nr_enqueued"], m["nr_remote"], m["nr_self"], m["nr_preempts"]) == (2, 1, 1, 0)
    assert m["nr_ticks"] == 200


def test_central_is_a_shipped_example_of_the_cli() -> None:
    assert "central" in EXAMPLES
    out = io.StringIO()
    status = main(["sched", "--example", "central", "--cpus", "2", "--duration", "0.1s"], out)
    text = out.getvalue()
    assert status == 0, text
    assert "sx_central" in text and "nr_ticks=" in text
