"""``structops sched``: summary, --json schema, trace, bad input (exit 2)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from structops.cli import main


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    status = main(["sched", *argv], out)
    return status, out.getvalue()


def test_json_schema_and_determinism(tmp_path: Path) -> None:
    """One JSON object; every task served; every CPU busy; the same seed gives the same result."""
    argv = ["--example", "vtime", "--cpus", "2", "--duration", "0.3s", "--json", "--seed", "7"]
    status, text = _run([*argv, "--trace", str(tmp_path / "t.json")])
    assert status == 0
    report = json.loads(text)
    assert report["scheduler"] == "sx_vtime" and report["cpus"] == 2 and report["duration_ns"] == 300_000_000
    assert report["exit"] is None
    assert {"pid", "comm", "group", "nice", "weight", "runtime_ns", "wait_ns", "nr_switches", "nr_migrations"} <= set(
        report["tasks"][0]
    )
    assert all(t["runtime_ns"] > 0 for t in report["tasks"])
    assert [c["busy_ns"] for c in report["per_cpu"]] == [300_000_000, 300_000_000]
    trace = json.loads((tmp_path / "t.json").read_text())
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert sum(e["dur"] for e in slices) == pytest.approx(2 * 300_000, rel=1e-6)
    assert _run(argv)[1] == text


def test_summary_text() -> None:
    """The text summary names the scheduler, the groups and the exit."""
    status, text = _run(["--example", "fifo", "--cpus", "2", "--duration", "0.2s"])
    assert status == 0
    assert "scheduler sx_fifo on 2 CPUs" in text and "cpu " in text and "exit: none" in text


def test_workload_file(tmp_path: Path) -> None:
    """Groups from TOML: nice, affinity, run/sleep, start/exit."""
    wl = tmp_path / "w.toml"
    wl.write_text(
        '[[group]]\nname = "pinned"\ncount = 2\naffinity = "1"\n\n'
        '[[group]]\nname = "io"\nrun_ms = 1\nsleep_ms = 4\nstart_ms = 50\nexit_ms = 150\n'
    )
    status, text = _run(["--example", "vtime", "--cpus", "2", "--duration", "0.3s", "--workload", str(wl), "--json"])
    assert status == 0
    tasks = {t["comm"]: t for t in json.loads(text)["tasks"]}
    assert set(tasks) == {"pinned0", "pinned1", "io"}
    assert tasks["pinned0"]["runtime_ns"] + tasks["pinned1"]["runtime_ns"] <= 300_000_000
    assert 0 < tasks["io"]["runtime_ns"] <= 100_000_000 // 5 + 1_000_000


@pytest.mark.parametrize(
    ("argv", "content", "needle"),
    [
        (["--cpus", "0"], None, "--cpus must be between 1 and 256"),
        (["--duration", "soon"], None, "bad time"),
        (["--workload", "{wl}"], "[[group]]\nname='x'\nnice=40\n", "nice must be an integer from -20 to 19"),
        (["--workload", "{wl}"], "[[group]]\nname='x'\ncolor=1\n", "unknown key(s) color"),
        (["--workload", "{wl}"], "[[group]\n", "not valid TOML"),
        (["--workload", "{wl}"], "[[group]]\naffinity='7'\n", "affinity names CPU 7"),
        (["--workload", "{wl}"], "x = 1\n", "unknown top-level key"),
    ],
)
def test_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], content: str | None, needle: str
) -> None:
    """Bad options and workload files: one clear message, exit 2."""
    wl = tmp_path / "bad.toml"
    if content is not None:
        wl.write_text(content)
    argv = [a.replace("{wl}", str(wl)) for a in argv]
    status, out = _run(
        ["--example", "fifo", "--cpus", "2", *argv] if "--cpus" not in argv else ["--example", "fifo", *argv]
    )
    assert status == 2 and out == ""
    assert needle in capsys.readouterr().err


def test_object_and_example_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    """OBJ and --example: exactly one."""
    assert _run([])[0] == 2
    assert "exactly one of OBJ or --example" in capsys.readouterr().err


def test_object_without_sched_ext_ops_and_bad_map(capsys: pytest.CaptureFixture[str]) -> None:
    """An object that is not a scheduler, or a --map it does not have: exit 2 with the reason."""
    reno = Path(__file__).resolve().parents[3] / "testdata" / "reno.bpf.o"
    assert _run([str(reno), "--duration", "0.01s"])[0] == 2
    assert "no sched_ext_ops struct_ops map" in capsys.readouterr().err
    assert _run(["--example", "fifo", "--map", "nope", "--duration", "0.01s"])[0] == 2
    assert "--map nope: no such map (sched_ext_ops maps: sx_fifo)" in capsys.readouterr().err
