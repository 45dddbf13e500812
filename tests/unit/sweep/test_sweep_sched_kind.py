"""The ``sched`` sweep kind against the ``structops sched --json`` contract of issue 13.

Until the ``structops sched`` command exists the kind is unavailable (a GridError says
so); the JSON-to-rows translation and the command line it builds are checked here
with a stand-in for the command's output shaped as issue 13 specifies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import structops.sweep.sched as sched_kind
from structops.sweep import GridError, parse_grid
from structops.sweep.kinds import ObjectResolver

REPORT = {
    "scheduler": "simple",
    "cpus": [{"cpu": 0, "busy_ns": 900_000_000}, {"cpu": 1, "busy_ns": 700_000_000}],
    "duration_ns": 1_000_000_000,
    "exit": None,
    "tasks": [
        {
            "pid": 10,
            "comm": "hog",
            "group": "hogs",
            "nice": 0,
            "weight": 100,
            "runtime_ns": 600_000_000,
            "wait_ns": 400_000_000,
            "nr_switches": 7,
            "nr_migrations": 1,
        },
        {
            "pid": 11,
            "comm": "hog",
            "group": "hogs",
            "nice": 10,
            "weight": 11,
            "runtime_ns": 66_000_000,
            "wait_ns": 900_000_000,
            "nr_switches": 3,
            "nr_migrations": 0,
        },
    ],
}


def test_unavailable_kind_is_a_grid_error() -> None:
    if sched_kind.UNAVAILABLE is None:
        pytest.skip("structops sched exists: the kind is registered")
    with pytest.raises(GridError, match=r"kind 'sched' is not available in this installation \(.*structops sched"):
        parse_grid({"kind": "sched", "objects": "x.bpf.o"})


def test_rows_from_the_json_report() -> None:
    rows = sched_kind.SchedKind._rows(REPORT, {"duration_us": 1_000_000, "cpus": 2})
    assert [r["pid"] for r in rows] == [10, 11]
    assert rows[0]["runtime_ms"] == 600.0 and rows[1]["wait_ms"] == 900.0
    assert rows[0]["cpu_share"] == pytest.approx(0.3) and rows[0]["busy_pct"] == pytest.approx(80.0)
    assert rows[0]["scheduler"] == "simple" and rows[0]["exit_kind"] is None
    # one group; runtime per unit of weight: 6e6 and 6e6 -> perfectly fair
    assert rows[0]["jain"] == pytest.approx(1.0)
    two_groups = dict(
        REPORT, tasks=[*REPORT["tasks"], {**REPORT["tasks"][0], "pid": 12, "group": "io", "runtime_ns": 1}]
    )
    # the io group alone is fair too; a third hog with a tenth of the share is not
    assert sched_kind.SchedKind._rows(two_groups, {"duration_us": 1, "cpus": 2})[0]["jain"] == pytest.approx(1.0)
    unfair = dict(REPORT, tasks=[*REPORT["tasks"], {**REPORT["tasks"][0], "pid": 12, "runtime_ns": 60_000_000}])
    assert sched_kind.SchedKind._rows(unfair, {"duration_us": 1, "cpus": 2})[0]["jain"] == pytest.approx(
        (6 + 6 + 0.6) ** 2 / (3 * (36 + 36 + 0.36))
    )
    ejected = dict(REPORT, exit={"kind": "SCX_EXIT_ERROR_STALL", "reason": "watchdog", "msg": "stalled"})
    assert sched_kind.SchedKind._rows(ejected, {"duration_us": 1, "cpus": 2})[0]["exit_kind"] == "SCX_EXIT_ERROR_STALL"


def test_command_line_of_a_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "s.bpf.o").write_bytes(b"sched object")
    (tmp_path / "mix.toml").write_text("[[group]]\nname = 'hogs'\n")
    kind = sched_kind.SchedKind()
    resolver = ObjectResolver(tmp_path, kind.example_path)
    axes = {a.key: a for a in kind.axes(resolver)}
    options: dict[str, Any] = {
        **axes["objects"].parse("s.bpf.o"),
        **axes["workload"].parse("mix.toml"),
        "cpus": 8,
        "duration_us": axes["duration"].parse("500ms"),
        "seed": 3,
    }
    files = {}
    for digest, data in resolver.blobs.items():
        files[digest] = tmp_path / f"{digest}.bin"
        files[digest].write_bytes(data)
    seen: list[list[str]] = []

    def fake(argv: list[str]) -> tuple[int, str, str]:
        seen.append(argv)
        workload = Path(argv[argv.index("--workload") + 1])
        assert workload.name == "mix.toml" and workload.read_text().startswith("[[group]]")
        return 0, json.dumps(REPORT), ""

    monkeypatch.setattr(sched_kind, "_invoke", fake)
    run = kind.run_point(options, files, False)
    (argv,) = seen
    assert argv[:4] == ["sched", str(files[options["object_sha256"]]), "--json", "--no-progress"]
    assert argv[argv.index("--cpus") + 1] == "8" and argv[argv.index("--duration") + 1] == "0.5s"
    assert argv[argv.index("--seed") + 1] == "3" and "--trace" not in argv
    assert len(run.rows) == 2
    monkeypatch.setattr(sched_kind, "_invoke", lambda argv: (2, "", "structops sched: error: bad workload\n"))
    with pytest.raises(RuntimeError, match="exited with status 2: structops sched: error: bad workload"):
        kind.run_point(options, files, False)


@pytest.mark.skipif(sched_kind.UNAVAILABLE is not None, reason=str(sched_kind.UNAVAILABLE))
def test_point_is_the_structops_sched_job(tmp_path: Path) -> None:
    """A sched point (real job, in-process) gives the rows of `structops sched --json` for the same options."""
    import io

    from structops.cli import main
    from structops.schedsim.examples import example_path
    from structops.sweep.worker import Task, execute

    (tmp_path / "w.toml").write_text('[[group]]\nname = "hog"\ncount = 3\n[[group]]\nname = "nice"\nnice = 5\n')
    grid = parse_grid(
        {"kind": "sched", "objects": "vtime", "cpus": 2, "duration": "100ms", "workload": "w.toml", "seeds": 4},
        tmp_path,
    )
    (point,) = grid.points
    outcome = execute(Task("sched", point.point_id, dict(point.options), False, grid.blobs))
    assert outcome.error is None
    out = io.StringIO()
    argv = ["sched", str(example_path("vtime")), "--json", "--cpus", "2", "--duration", "100ms", "--seed", "4"]
    assert main([*argv, "--workload", str(tmp_path / "w.toml")], out) == 0
    report = json.loads(out.getvalue())
    assert [(r["pid"], r["comm"], r["group"]) for r in outcome.rows] == [
        (t["pid"], t["comm"], t["group"]) for t in report["tasks"]
    ]
    assert [r["runtime_ms"] * 1e6 for r in outcome.rows] == pytest.approx([t["runtime_ns"] for t in report["tasks"]])
    assert {r["scheduler"] for r in outcome.rows} == {report["scheduler"]}
    bad = parse_grid({"kind": "sched", "objects": str(tmp_path / "w.toml"), "duration": "10ms"})
    failed = execute(Task("sched", bad.points[0].point_id, dict(bad.points[0].options), False, bad.blobs))
    assert failed.error is not None and failed.error.startswith("RuntimeError: structops sched exited with status")


@pytest.mark.skipif(sched_kind.UNAVAILABLE is not None, reason=str(sched_kind.UNAVAILABLE))
def test_sched_summary_and_plots(tmp_path: Path) -> None:
    from structops.sweep.report import format_summary, summary, write_plots
    from structops.sweep.store import Store, outcome_rows
    from structops.sweep.worker import Outcome

    grid = parse_grid({"kind": "sched", "objects": ["fifo", "vtime"], "cpus": [2, 4], "seeds": [1, 2]})
    rows = []
    for p in grid.points:
        busy = 50.0 * p.options["cpus"] / 2 + p.options["seed"]  # 51/52 at 2 CPUs, 101/102 at 4
        report = dict(REPORT, per_cpu=[{"cpu": 0, "busy_ns": busy * 1e7}], cpus=1)
        if p.options["object"] == "vtime" and p.options["cpus"] == 4 and p.options["seed"] == 2:
            report["exit"] = {"kind": "SCX_EXIT_ERROR_STALL", "reason": "stall", "msg": "m"}
        task_rows = sched_kind.SchedKind._rows(report, p.options)
        rows += outcome_rows(
            p, Outcome(p.point_id, [] if p.index == 0 else task_rows, "boom" if p.index == 0 else None)
        )
    store = Store(tmp_path)
    store.prepare(False)
    frame = summary(store.finish(grid, rows, {})).set_index("algorithm")
    assert frame.loc["fifo", "points"] == 4 and frame.loc["fifo", "failed"] == 1
    assert frame.loc["vtime", "ejected"] == 1 and frame.loc["fifo", "ejected"] == 0
    assert frame.loc["vtime", "busy_pct"] == pytest.approx((51 + 52 + 101 + 102) / 4)
    assert frame.loc["vtime", "wait_ms"] == pytest.approx(650.0)
    text = format_summary(frame.reset_index())
    assert text.splitlines()[0].split()[:5] == ["scheduler", "name", "points", "failed", "ejected"]
    notes = write_plots(store.finish(grid, rows, {}), tmp_path / "plots")
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["busy_vs_cpus.png", "jain_vs_cpus.png"]
    assert notes[1] == "wait_p99_vs_cpus: skipped (no wait_p99_ms values)"  # the report has no percentiles
