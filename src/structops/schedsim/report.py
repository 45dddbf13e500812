"""Summaries of a ``structops sched`` run: text, the ``--json`` object, Perfetto trace, PNG timeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from structops.kernel.subsys.sched_ext.consts import NICE_TO_WEIGHT, scx_weight

if TYPE_CHECKING:
    from structops.schedsim.job import SchedResult
    from structops.schedsim.model import Task

__all__ = ["percentile", "print_summary", "to_json", "write_plot", "write_trace"]


def percentile(values: list[int], q: float) -> int:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))
    return s[k]


def _weight(t: Task) -> int:
    """sched_ext weight of the task (nice 0 = 100, SX-T5)."""
    w = t.load_weight if t.load_weight else NICE_TO_WEIGHT[t.nice + 20]
    return scx_weight(w)


def _exit(res: SchedResult) -> dict[str, Any] | None:
    e = res.exit
    if e is None:
        return None
    return {"kind": e.kind_name, "reason": e.reason, "msg": e.msg}


def to_json(res: SchedResult) -> dict[str, Any]:
    """The ``--json`` object (issue 13 schema; the per-CPU list is ``per_cpu``)."""
    m = res.machine
    return {
        "scheduler": res.scheduler,
        "cpus": res.cpus,
        "duration_ns": res.duration_ns,
        "exit": _exit(res),
        "tasks": [
            {
                "pid": t.pid,
                "comm": t.comm,
                "group": t.group,
                "nice": t.nice,
                "weight": _weight(t),
                "runtime_ns": t.runtime_ns,
                "wait_ns": t.wait_ns,
                "wait_p50_ns": percentile(t.waits, 50),
                "wait_p99_ns": percentile(t.waits, 99),
                "nr_switches": t.nr_switches,
                "nr_migrations": t.nr_migrations,
            }
            for t in m.tasks
        ],
        "per_cpu": [{"cpu": c.id, "busy_ns": c.busy_ns} for c in m.cpus],
        "maps": res.maps,
    }


def print_summary(res: SchedResult, out: TextIO) -> None:
    """Human-readable summary: scheduler, per-group share and latency, CPUs, exit, maps."""
    m = res.machine
    total = sum(t.runtime_ns for t in m.tasks) or 1
    print(f"scheduler {res.scheduler} on {res.cpus} CPUs for {res.duration_ns / 1e9:g} s (simulated)", file=out)
    groups: dict[str, list[Task]] = {}
    for t in m.tasks:
        groups.setdefault(t.group, []).append(t)
    head = f"{'group':<12} {'tasks':>5} {'nice':>5} {'cpu share':>9} {'wait p50':>10} {'wait p99':>10}"
    print(f"{head} {'switches':>9} {'migr':>6}", file=out)
    for name, ts in groups.items():
        waits = [w for t in ts for w in t.waits]
        share = 100 * sum(t.runtime_ns for t in ts) / total
        print(
            f"{name:<12} {len(ts):>5} {ts[0].nice:>5} {share:>8.1f}% {percentile(waits, 50) / 1e6:>8.2f}ms "
            f"{percentile(waits, 99) / 1e6:>8.2f}ms {sum(t.nr_switches for t in ts):>9} "
            f"{sum(t.nr_migrations for t in ts):>6}",
            file=out,
        )
    busy = " ".join(f"{100 * c.busy_ns / res.duration_ns:.0f}%" for c in m.cpus)
    print(f"cpu busy: {busy}", file=out)
    starved = [t.comm for t in m.tasks if t.started and t.runtime_ns == 0]
    if starved:
        print(f"never ran: {', '.join(starved[:10])}{' ...' if len(starved) > 10 else ''}", file=out)
    e = _exit(res)
    if e is None:
        print("exit: none (the scheduler ran until it was detached)", file=out)
    else:
        print(f"exit: {e['kind']} ({e['reason']}){': ' + e['msg'] if e['msg'] else ''}", file=out)
    if res.maps:
        print("maps: " + " ".join(f"{k}={v}" for k, v in res.maps.items()), file=out)


def write_trace(res: SchedResult, path: str | Path) -> None:
    """Chrome/Perfetto trace-event JSON: one thread per CPU, one slice per run of a task."""
    m = res.machine
    names = {t.pid: t for t in m.tasks}
    events: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": 0, "args": {"name": f"{res.scheduler} ({res.cpus} CPUs)"}},
    ]
    for c in m.cpus:
        events.append({"ph": "M", "name": "thread_name", "pid": 0, "tid": c.id, "args": {"name": f"CPU {c.id}"}})
        for start, end, pid in c.timeline:
            t = names[pid]
            events.append(
                {
                    "ph": "X",
                    "name": t.comm,
                    "cat": t.group,
                    "pid": 0,
                    "tid": c.id,
                    "ts": start / 1000,
                    "dur": (end - start) / 1000,
                    "args": {"pid": pid, "group": t.group},
                }
            )
    Path(path).write_text(json.dumps({"traceEvents": events, "displayTimeUnit": "ms"}))


def write_plot(res: SchedResult, path: str | Path) -> None:
    """A per-CPU timeline PNG (one colour per task group); needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = res.machine
    groups = sorted({t.group for t in m.tasks})
    cmap = plt.get_cmap("tab10")
    colour = {g: cmap(i % 10) for i, g in enumerate(groups)}
    group_of = {t.pid: t.group for t in m.tasks}
    fig, ax = plt.subplots(figsize=(10, 0.4 * res.cpus + 1.5))
    for c in m.cpus:
        for g in groups:
            bars = [(s / 1e6, (e - s) / 1e6) for s, e, pid in c.timeline if group_of[pid] == g]
            if bars:
                ax.broken_barh(bars, (c.id - 0.4, 0.8), facecolors=colour[g], label=g if c.id == 0 else None)
    ax.set_xlabel("simulated time (ms)")
    ax.set_ylabel("CPU")
    ax.set_yticks(range(res.cpus))
    ax.set_title(f"{res.scheduler}: per-CPU timeline")
    from matplotlib.patches import Patch

    handles = [Patch(color=colour[g]) for g in groups]
    ax.legend(handles, groups, loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
