"""The sweep task run in-process: same results as ``structops run``, failures become error rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from structops.run import RunConfig, example_path, run_job
from structops.sweep import parse_grid
from structops.sweep.worker import Task, execute

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


def _task(grid_table: dict[str, object], base: Path | None = None, trace: bool = False) -> Task:
    grid = parse_grid(grid_table, base)
    (point,) = grid.points
    return Task(point.kind, point.point_id, dict(point.options), trace, grid.blobs)


def test_point_matches_a_plain_structops_run_job() -> None:
    task = _task(
        {"objects": "cubic_like", "flows": 2, "bandwidth": "10mbit", "duration": "400ms", "loss": 0.01, "seeds": 7}
    )
    outcome = execute(task)
    assert outcome.error is None and outcome.point_id == task.point_id and outcome.wall_s > 0
    ref = run_job(
        RunConfig(
            obj=example_path("cubic_like"),
            flows=2,
            bandwidth_bps=10_000_000,
            duration_us=400_000,
            loss=0.01,
            seed=7,
        )
    )
    assert [r["flow"] for r in outcome.rows] == [f.flow_id for f in ref.flows]
    assert [r["throughput_mbps"] for r in outcome.rows] == [f.throughput_bps / 1e6 for f in ref.flows]
    assert [r["retransmits"] for r in outcome.rows] == [f.retransmits for f in ref.flows]
    assert [r["avg_rtt_ms"] for r in outcome.rows] == [f.avg_rtt_us / 1000 for f in ref.flows]
    assert all(r["jain"] == ref.jain and r["utilisation"] == ref.utilisation for r in outcome.rows)
    assert outcome.rows[0]["cc"] == ref.cc_name == "so_cubic"
    assert outcome.rows[0]["queue_delay_ms"] == pytest.approx(ref.flows[0].avg_rtt_us / 1000 - 20)
    assert outcome.trace is None


def test_same_point_twice_gives_identical_rows() -> None:
    task = _task({"objects": "reno", "flows": 3, "duration": "300ms", "loss": 0.02, "seeds": 3})
    assert execute(task).rows == execute(task).rows


def test_trace_is_the_structops_run_csv() -> None:
    outcome = execute(_task({"objects": "reno", "flows": 2, "duration": "500ms"}, trace=True))
    assert outcome.trace is not None
    rows = list(csv.reader(io.StringIO(outcome.trace)))
    assert rows[0][:3] == ["flow", "t_us", "cwnd"]
    assert {r[0] for r in rows[1:]} == {"0", "1"}


def test_swap_point_runs_the_link_update() -> None:
    outcome = execute(
        _task({"objects": "reno", "swap": {"object": "reno_v2", "at": "0.2s"}, "flows": 2, "duration": "400ms"})
    )
    assert outcome.error is None
    assert [r["version"].split()[0] for r in outcome.rows] == ["so_reno", "so_reno_v2"]


def test_bad_object_is_an_error_not_an_exception(tmp_path: Path) -> None:
    (tmp_path / "junk.bpf.o").write_bytes(b"not an elf file at all")
    outcome = execute(_task({"objects": "junk.bpf.o", "duration": "100ms"}, tmp_path))
    assert outcome.rows == [] and outcome.error is not None
    assert outcome.error.startswith("ELFError: not an ELF object")


def test_verifier_refusal_is_recorded() -> None:
    outcome = execute(_task({"objects": str(TESTDATA / "bad_license.bpf.o"), "duration": "100ms"}))
    assert outcome.error is not None and outcome.error.startswith("VerifierError: ")
    assert "GPL compatible license" in outcome.error


def test_wrong_map_name_is_recorded() -> None:
    outcome = execute(_task({"objects": {"example": "reno", "map": "nope"}, "duration": "100ms"}))
    assert outcome.error is not None and "no struct_ops map 'nope'" in outcome.error
