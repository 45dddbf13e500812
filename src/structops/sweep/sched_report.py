"""Sched sweep reports: the per-scheduler summary and the plots against the number of CPUs.

From a ``kind = "sched"`` table (one row per point and task) :func:`point_table` makes
one row per point: CPU busy percentage, per-group Jain index, mean task wait, mean of
the tasks' p99 wait, context switches, and whether the scheduler was ejected (its exit
kind).  :func:`summary` averages per scheduler; :func:`write_plots` draws busy %, p99
wait and Jain index against the number of CPUs, each scheduler a line, mean over seeds
with the standard deviation as error bars (:func:`structops.sweep.report._series`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from structops.sweep.report import _draw, _each, _num, _per_algorithm, _points, _series, _text_table

__all__ = ["format_summary", "point_table", "summary", "write_plots"]

_KEYS = ("point", "point_id", "algorithm", "object", "scheduler", "status", "cpus", "workload", "duration_us", "seed")


def point_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per point: options and aggregate metrics (failed points keep NaN metrics)."""
    points = _points(
        table,
        _KEYS,
        **_each("first", "busy_pct", "jain", "exit_kind"),
        **_each("mean", "wait_ms", "wait_p99_ms"),
        switches=("nr_switches", "sum"),
    )
    points["ejected"] = points["exit_kind"].notna() & (points["status"] == "ok")
    points.loc[points["status"] != "ok", "switches"] = pd.NA
    return points


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per scheduler: points, failures, ejections, and the mean of each point metric."""
    return _per_algorithm(
        point_table(table),
        ("switches",),
        scheduler=("scheduler", "first"),
        ejected=("ejected", "sum"),
        **_each("mean", "busy_pct", "jain", "wait_ms", "wait_p99_ms", "switches"),
    )


#: The summary table's columns: title and alignment/width.
_SUMMARY_COLUMNS = (
    ("scheduler", "<20"), ("name", "<12"), ("points", ">6"), ("failed", ">6"), ("ejected", ">7"),
    ("busy %", ">7"), ("Jain", ">6"), ("wait ms", ">8"), ("p99 ms", ">8"), ("switches", ">9"),
)  # fmt: skip


def format_summary(frame: pd.DataFrame) -> str:
    """The sched summary as an aligned text table."""
    return _text_table(_SUMMARY_COLUMNS, map(_summary_row, frame.itertuples(index=False)))


def _summary_row(row: Any) -> str:
    name = "-" if pd.isna(row.scheduler) else str(row.scheduler)
    ejected = 0 if pd.isna(row.ejected) else int(row.ejected)
    return (
        f"{row.algorithm!s:<20} {name:<12} {row.points:>6} {row.failed:>6} {ejected:>7} "
        f"{_num(row.busy_pct, '7.1f')} {_num(row.jain, '6.3f')} {_num(row.wait_ms, '8.2f')} "
        f"{_num(row.wait_p99_ms, '8.2f')} {_num(row.switches, '9.1f')}"
    )


def write_plots(table: pd.DataFrame, out_dir: str | Path) -> list[str]:
    """Busy %, p99 wait and Jain index vs CPUs (PNG); one line per plot written or skipped."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["matplotlib is not installed: skipping the plots (pip install matplotlib)"]
    points = point_table(table)
    points = points[points["status"] == "ok"].copy()
    if points.empty:
        return ["no successful points: nothing to plot"]
    if points["cpus"].nunique() < 2:
        return ["sched plots: skipped (the grid has one cpus value)"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    notes = []
    for name, y, ylabel in (
        ("busy_vs_cpus", "busy_pct", "CPU busy (%)"),
        ("wait_p99_vs_cpus", "wait_p99_ms", "p99 wait (ms)"),
        ("jain_vs_cpus", "jain", "Jain's index within groups"),
    ):
        series = _series(points, "cpus", y)
        if not series:
            notes.append(f"{name}: skipped (no {y} values)")
            continue
        path = _draw(plt, series, out / f"{name}.png", "CPUs", ylabel)
        notes.append(f"wrote {path}")
    return notes
