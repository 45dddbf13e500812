"""The sweep output directory: journal, resume bookkeeping, table order and dtypes (structops.sweep.store)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from structops.sweep import parse_grid
from structops.sweep.engine import run
from structops.sweep.store import Store, columns_for, outcome_rows, table
from structops.sweep.worker import Outcome

GRID = {"objects": ["reno", "dctcp_like"], "flows": [1, 2], "duration": "100ms"}


def _fake_outcome(point_id: str, flows: int, error: str | None = None) -> Outcome:
    rows = [
        {"cc": "so_x", "flow": f, "throughput_mbps": 1.5 * (f + 1), "retransmits": f, "jain": 0.9, "events": 10}
        for f in range(flows)
    ]
    return Outcome(point_id, [] if error else rows, error)


def test_rows_per_flow_or_one_error_row() -> None:
    grid = parse_grid(GRID)
    p = grid.points[1]
    ok = outcome_rows(p, _fake_outcome(p.point_id, 2))
    assert [(r["point"], r["status"], r["flow"], r["flows"]) for r in ok] == [(1, "ok", 0, 2), (1, "ok", 1, 2)]
    (bad,) = outcome_rows(p, _fake_outcome(p.point_id, 2, "ELFError: bad"))
    assert bad["status"] == "error" and bad["error"] == "ELFError: bad" and "flow" not in bad


def test_table_is_in_grid_order_with_nullable_dtypes() -> None:
    grid = parse_grid(GRID)
    rows = []
    for p in reversed(grid.points):
        rows += outcome_rows(p, _fake_outcome(p.point_id, p.options["flows"], "boom" if p.index == 2 else None))
    rows.append({"point_id": "0123456789abcdef", "kind": "tcp", "status": "ok", "flow": 0})  # not in the grid
    frame = table(grid, rows)
    assert list(frame.columns[: len(columns_for("tcp"))]) == [c for c, _ in columns_for("tcp")]
    assert frame["point"].tolist()[:-1] == [0, 1, 1, 2, 3, 3] and pd.isna(frame["point"].iloc[-1])
    assert str(frame["flow"].dtype) == "Int64" and pd.isna(frame.loc[frame["status"] == "error", "flow"]).all()
    assert str(frame["ecn_threshold_pkts"].dtype) == "Int64" and frame["ecn_threshold_pkts"].isna().all()


def test_journal_then_finish_then_previous(tmp_path: Path) -> None:
    grid = parse_grid(GRID)
    store = Store(tmp_path / "out")
    store.prepare(resume=False)
    all_rows = []
    for p in grid.points[:3]:
        rows = outcome_rows(p, _fake_outcome(p.point_id, p.options["flows"]))
        store.append(p, rows, "flow,t_us\n0,1\n" if p.index == 0 else None)
        all_rows += rows
    lines = store.journal.read_text().splitlines()
    assert [json.loads(line)["point_id"] for line in lines] == [p.point_id for p in grid.points[:3]]
    assert (store.out / "traces" / f"{grid.points[0].point_id}.csv").read_text() == "flow,t_us\n0,1\n"
    # a kill mid-write leaves a cut line: it is ignored
    with store.journal.open("a") as fh:
        fh.write('{"point_id": "abc", "rows": [')
    assert {r["point_id"] for r in store.previous()} == {p.point_id for p in grid.points[:3]}
    frame = store.finish(grid, all_rows, {"ran": 3})
    assert not store.journal.exists()
    assert json.loads((store.out / "sweep.json").read_text()) == {"ran": 3}
    back = pd.read_parquet(store.parquet)
    pd.testing.assert_frame_equal(back, frame)
    csv_back = pd.read_csv(store.csv)
    assert csv_back["point_id"].tolist() == frame["point_id"].tolist()
    assert len(store.previous()) == len(frame)
    # without --resume a stale journal is forgotten
    store.append(grid.points[3], [], None)
    Store(store.out).prepare(resume=False)
    assert not store.journal.exists()


def test_resume_with_everything_done_runs_nothing(tmp_path: Path) -> None:
    """All points ok in OUT: no cluster is started, the table is rewritten unchanged."""
    grid = parse_grid(GRID)
    store = Store(tmp_path)
    store.prepare(resume=False)
    rows = [r for p in grid.points for r in outcome_rows(p, _fake_outcome(p.point_id, p.options["flows"]))]
    before = store.finish(grid, rows, {})
    after = run(grid, out=tmp_path, resume=True)
    pd.testing.assert_frame_equal(after, before)
    assert after.attrs["sweep"]["ran"] == 0 and after.attrs["sweep"]["resumed"] == len(grid)


def test_resume_reruns_failed_points_only(tmp_path: Path) -> None:
    """Failed points of an earlier sweep run again on --resume; ok ones are kept."""
    grid = parse_grid(GRID)
    store = Store(tmp_path)
    store.prepare(resume=False)
    rows = []
    for p in grid.points:
        rows += outcome_rows(p, _fake_outcome(p.point_id, p.options["flows"], None if p.index else "crash"))
    store.finish(grid, rows, {})
    seen = []
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, Client(cluster) as client:
        frame = run(grid, client, out=tmp_path, resume=True, on_point=lambda p, o: seen.append(p.index))
    assert seen == [0]
    assert (frame["status"] == "ok").all() and frame.attrs["sweep"]["ran"] == 1
    assert frame.loc[frame["point"] == 0, "cc"].tolist() == ["so_reno"]  # the real job ran
    assert frame.loc[frame["point"] == 1, "cc"].tolist() == ["so_x", "so_x"]  # kept from OUT
