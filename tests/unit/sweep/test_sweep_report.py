"""Sweep summaries and plots computed from a known table (structops.sweep.report)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

from structops.cli import main
from structops.sweep import parse_grid
from structops.sweep.report import _series, format_summary, point_table, summary, write_plots
from structops.sweep.store import Store, outcome_rows
from structops.sweep.worker import Outcome

GRID = {
    "objects": ["reno", "cubic_like"],
    "buffer": ["0.5bdp", "2bdp"],
    "loss": [0, 0.01],
    "flows": [1, 2],
    "seeds": [1, 2],
    "duration": "100ms",
}


def _metric(p_options: dict[str, object], seed_bump: float) -> float:
    base = 10.0 if p_options["object"] == "reno" else 12.0
    return base + (2.0 if p_options["buffer"] == "2bdp" else 0.0) - 100 * float(p_options["loss"]) + seed_bump  # type: ignore[arg-type]


def _table(tmp_path: Path, fail_index: int | None = None) -> pd.DataFrame:
    """Synthetic rows: per-point total = a known function of the options, seed 2 adds 1 Mbit/s."""
    grid = parse_grid(GRID)
    rows = []
    for p in grid.points:
        total = _metric(dict(p.options), 1.0 if p.options["seed"] == 2 else 0.0)
        n = int(p.options["flows"])
        flows = [
            {
                "cc": "so_reno" if p.options["object"] == "reno" else "so_cubic",
                "flow": f,
                "throughput_mbps": total / n,
                "retransmits": 2,
                "avg_rtt_ms": 25.0 + f,
                "queue_delay_ms": 5.0 + f,
                "jain": 1.0 if n == 1 else 0.8,
                "utilisation": total / 20,
                "total_mbps": total,
                "events": 1,
            }
            for f in range(n)
        ]
        err = "VerifierError: no" if p.index == fail_index else None
        rows += outcome_rows(p, Outcome(p.point_id, [] if err else flows, err))
    store = Store(tmp_path)
    store.prepare(False)
    return store.finish(grid, rows, {})


def test_point_table_aggregates_flows(tmp_path: Path) -> None:
    points = point_table(_table(tmp_path))
    assert len(points) == 32
    two = points[points["flows"] == 2].iloc[0]
    assert two["avg_rtt_ms"] == 25.5 and two["queue_delay_ms"] == 5.5 and two["retransmits"] == 4


def test_summary_per_algorithm(tmp_path: Path) -> None:
    frame = summary(_table(tmp_path, fail_index=0)).set_index("algorithm")
    assert frame.loc["reno", "points"] == 16 and frame.loc["reno", "failed"] == 1
    assert frame.loc["cubic_like", "failed"] == 0
    # cubic: mean over buffer (0, +2), loss (0, -1), seed (0, +1) of 12 + ... = 12 + 1 - 0.5 + 0.5
    assert frame.loc["cubic_like", "mbps"] == pytest.approx(13.0)
    assert frame.loc["cubic_like", "utilisation_pct"] == pytest.approx(65.0)
    assert frame.loc["cubic_like", "jain"] == pytest.approx(0.9)
    assert frame.loc["cubic_like", "cc"] == "so_cubic"
    text = format_summary(frame.reset_index())
    assert text.splitlines()[0].split()[:4] == ["algorithm", "cc", "points", "failed"]
    assert "cubic_like" in text and "13.00" in text


def test_series_mean_and_std_over_seeds(tmp_path: Path) -> None:
    points = point_table(_table(tmp_path))
    series = _series(points, "buffer_bdp", "total_mbps")
    xs, means, stds = series["reno"]
    assert len(xs) == 2 and xs[0] < xs[1]
    # per seed, the other options averaged: seed 1 -> 10 - 0.5 (+2 at 2bdp), seed 2 one more
    assert means == pytest.approx([10.0, 12.0])
    assert stds == pytest.approx([pd.Series([9.5, 10.5]).std()] * 2)


def test_plots_are_written_or_skipped(tmp_path: Path) -> None:
    tab = _table(tmp_path / "out")
    notes = write_plots(tab, tmp_path / "plots")
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == [
        "jain_vs_flows.png",
        "queue_delay_vs_buffer.png",
        "throughput_vs_buffer.png",
        "throughput_vs_loss.png",
    ]
    assert all(n.startswith("wrote ") for n in notes)
    one_flow = tab[tab["flows"] == 1]
    notes = write_plots(one_flow, tmp_path / "plots2")
    assert "jain_vs_flows: skipped (the grid has one flows value)" in notes
    assert (tmp_path / "plots2" / "throughput_vs_loss.png").stat().st_size > 1000


def test_sweep_plot_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _table(tmp_path / "out")
    out = io.StringIO()
    assert main(["sweep-plot", str(tmp_path / "out")], out) == 0
    text = out.getvalue()
    assert "reno" in text and "wrote " in text and (tmp_path / "out" / "summary.csv").is_file()
    assert len(list((tmp_path / "out" / "plots").glob("*.png"))) == 4
    shutil.rmtree(tmp_path / "out")
    assert main(["sweep-plot", str(tmp_path / "out")], io.StringIO()) == 2
    assert "no sweep results at" in capsys.readouterr().err


def test_summary_of_failed_points_only(tmp_path: Path) -> None:
    grid = parse_grid({"objects": "reno", "flows": [1, 2], "duration": "100ms"})
    rows = [r for p in grid.points for r in outcome_rows(p, Outcome(p.point_id, [], "ELFError: junk"))]
    store = Store(tmp_path)
    store.prepare(False)
    frame = summary(store.finish(grid, rows, {}))
    assert frame[["algorithm", "points", "failed"]].values.tolist() == [["reno", 2, 2]]
    assert frame["mbps"].isna().all()
    header, _rule, line = format_summary(frame).splitlines()
    assert len(line) == len(header) and line.split()[-6:] == ["-"] * 6
    assert write_plots(store.finish(grid, rows, {}), tmp_path / "p") == ["no successful points: nothing to plot"]
