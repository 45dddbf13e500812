"""Sweep reports: the per-algorithm summary table and the usual congestion-control plots.

From the sweep table (one row per point and flow) :func:`point_table` makes one row per
point (aggregate throughput, utilisation, Jain's index, mean RTT and queueing delay,
retransmits); :func:`summary` averages those per algorithm; :func:`write_plots` draws

* throughput vs buffer size, queueing delay vs buffer size,
* throughput vs loss rate,
* Jain's index vs number of flows,

each algorithm a line, each x value the mean over seeds of the point metric (averaged
first over the grid's other options) with the standard deviation over seeds as error
bars.  Throughput is in Mbit/s when the grid has one bandwidth and in percent of the
bottleneck (utilisation) otherwise.  A plot whose x option has a single value in the
grid is skipped with a note.  Sched sweeps are reported by
:mod:`structops.sweep.sched_report` (the same functions dispatch on the table's kind).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

__all__ = ["format_summary", "load", "point_table", "summary", "write_plots"]

_POINT_KEYS = (
    "point",
    "point_id",
    "algorithm",
    "object",
    "cc",
    "status",
    "flows",
    "bandwidth_bps",
    "rtt_us",
    "buffer",
    "buffer_pkts",
    "buffer_bdp",
    "loss",
    "ecn_threshold_pkts",
    "duration_us",
    "seed",
)


def load(out: str | Path) -> pd.DataFrame:
    """The table of a sweep output directory (``OUT/results.parquet``)."""
    path = Path(out)
    if path.is_dir():
        path = path / "results.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"no sweep results at {path} (run `structops sweep GRID.toml --out DIR` first)")
    return pd.read_parquet(path)


def _kind(table: pd.DataFrame) -> str:
    kinds = set(table["kind"].dropna().unique()) if "kind" in table else {"tcp"}
    if len(kinds) > 1:
        raise ValueError(f"the table mixes sweep kinds ({', '.join(sorted(kinds))}); report them separately")
    kind = next(iter(kinds), "tcp")
    if kind not in ("tcp", "sched"):
        raise ValueError(f"no summary or plots for {kind!r} sweeps")
    return str(kind)


def point_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per point: its options and aggregate metrics (failed points keep NaN metrics)."""
    if table.empty:
        return table.copy()
    if _kind(table) == "sched":
        from structops.sweep import sched_report

        return sched_report.point_table(table)
    points = _points(
        table,
        _POINT_KEYS,
        **_each("first", "total_mbps", "utilisation", "jain"),
        **_each("mean", "avg_rtt_ms", "queue_delay_ms"),
        retransmits=("retransmits", "sum"),
    )
    points.loc[points["status"] != "ok", "retransmits"] = pd.NA
    return points


def _each(how: str, *columns: str) -> dict[str, tuple[str, str]]:
    """Named aggregations applying ``how`` to each of ``columns``, each keeping its column's name."""
    return {column: (column, how) for column in columns}


def _points(table: pd.DataFrame, keys: tuple[str, ...], **metrics: tuple[str, Any]) -> pd.DataFrame:
    """One row per point of ``table``: the first value of each of ``keys`` beside the ``metrics`` aggregates."""
    present = [k for k in keys if k in table.columns]
    grouped = table.groupby("point_id", sort=False, dropna=False)
    first = grouped[present].first().reset_index(drop=True)
    return pd.concat([first, grouped.agg(**metrics).reset_index(drop=True)], axis=1)


def _per_algorithm(points: pd.DataFrame, floats: tuple[str, ...], **means: tuple[str, Any]) -> pd.DataFrame:
    """Per algorithm: point and failure counts joined with the ``means`` over the ok points (``floats`` as float64)."""
    ok = points[points["status"] == "ok"].copy()
    for column in floats:
        ok[column] = ok[column].astype("float64")
    counts = points.groupby("algorithm").agg(
        points=("point_id", "count"), failed=("status", lambda s: int((s != "ok").sum()))
    )
    return counts.join(ok.groupby("algorithm").agg(**means), how="left").reset_index()


def _num(value: Any, spec: str) -> str:
    """``value`` formatted with ``spec``, or a right-aligned dash when it is missing."""
    width = int(spec.split(".")[0])
    return f"{'-':>{width}}" if pd.isna(value) else format(float(value), spec)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per algorithm: points, failures, and the mean of each point metric over its points."""
    if not table.empty and _kind(table) == "sched":
        from structops.sweep import sched_report

        return sched_report.summary(table)
    points = point_table(table)
    points["utilisation_pct"] = points["utilisation"].astype("float64") * 100
    return _per_algorithm(
        points,
        ("retransmits",),
        cc=("cc", "first"),
        mbps=("total_mbps", "mean"),
        **_each("mean", "utilisation_pct", "jain", "avg_rtt_ms", "queue_delay_ms", "retransmits"),
    )


#: The summary table's columns: title and alignment/width.
_SUMMARY_COLUMNS = (
    ("algorithm", "<24"), ("cc", "<12"), ("points", ">6"), ("failed", ">6"), ("Mbit/s", ">8"),
    ("util %", ">7"), ("Jain", ">6"), ("rtt ms", ">8"), ("queue ms", ">8"), ("retrans", ">8"),
)  # fmt: skip


def format_summary(frame: pd.DataFrame) -> str:
    """The summary as an aligned text table."""
    if "busy_pct" in frame.columns:
        from structops.sweep import sched_report

        return sched_report.format_summary(frame)
    return _text_table(_SUMMARY_COLUMNS, map(_summary_row, frame.itertuples(index=False)))


def _summary_row(row: Any) -> str:
    cc = "-" if pd.isna(row.cc) else str(row.cc)
    return (
        f"{row.algorithm!s:<24} {cc:<12} {row.points:>6} {row.failed:>6} {_num(row.mbps, '8.2f')} "
        f"{_num(row.utilisation_pct, '7.1f')} {_num(row.jain, '6.3f')} {_num(row.avg_rtt_ms, '8.2f')} "
        f"{_num(row.queue_delay_ms, '8.2f')} {_num(row.retransmits, '8.1f')}"
    )


def _text_table(columns: tuple[tuple[str, str], ...], rows: Iterable[str]) -> str:
    """A header of the ``columns`` (title, format spec), a dashed rule as wide, then ``rows``, one a line."""
    header = " ".join(format(title, spec) for title, spec in columns)
    return "\n".join([header, "-" * len(header), *rows]) + "\n"


def _series(points: pd.DataFrame, x: str, y: str) -> dict[str, tuple[list[float], list[float], list[float]]]:
    """Per algorithm: x values, mean over seeds, std over seeds (other options averaged first)."""
    data = points[["algorithm", x, "seed", y]].dropna().copy()
    data[x] = data[x].astype("float64")
    data[y] = data[y].astype("float64")
    per_seed = data.groupby(["algorithm", x, "seed"], as_index=False)[y].mean()
    stats = per_seed.groupby(["algorithm", x])[y].agg(["mean", "std"]).reset_index()
    out: dict[str, tuple[list[float], list[float], list[float]]] = {}
    for algo, part in stats.groupby("algorithm", sort=True):
        part = part.sort_values(x)
        out[str(algo)] = (
            [float(v) for v in part[x]],
            [float(v) for v in part["mean"]],
            [0.0 if pd.isna(v) else float(v) for v in part["std"]],
        )
    return out


def _draw(
    plt: Any,
    series: dict[str, tuple[list[float], list[float], list[float]]],
    path: Path,
    xlabel: str,
    ylabel: str,
    linthresh: float | None = None,
) -> Path:
    """Draw ``series`` (one error-bar line per algorithm) into the PNG ``path``; symlog x axis when ``linthresh``."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for algo, (xs, ys, errs) in series.items():
        ax.errorbar(xs, ys, yerr=errs, label=algo, marker="o", capsize=3, linewidth=1.2)
    if linthresh is not None:
        ax.set_xscale("symlog", linthresh=linthresh)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel} vs {xlabel} (mean over seeds, error bars: std)", fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_plots(table: pd.DataFrame, out_dir: str | Path) -> list[str]:
    """Draw the four plots into ``out_dir`` (PNG); return one line per plot written or skipped."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["matplotlib is not installed: skipping the plots (pip install matplotlib)"]
    if not table.empty and _kind(table) == "sched":
        from structops.sweep import sched_report

        return sched_report.write_plots(table, out_dir)
    points = point_table(table)
    points = points[points["status"] == "ok"].copy()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if points.empty:
        return ["no successful points: nothing to plot"]
    points["utilisation_pct"] = points["utilisation"].astype("float64") * 100
    one_bw = points["bandwidth_bps"].nunique() == 1
    tput, tput_label = ("total_mbps", "throughput (Mbit/s)") if one_bw else ("utilisation_pct", "utilisation (%)")
    labels = points["buffer"].astype("string")
    by_bdp = bool(labels.str.endswith("bdp").fillna(False).all())
    buf, buf_label = ("buffer_bdp", "buffer (BDP multiples)") if by_bdp else ("buffer_pkts", "buffer (packets)")
    plots = [
        ("throughput_vs_buffer", buf, buf_label, tput, tput_label, False),
        ("queue_delay_vs_buffer", buf, buf_label, "queue_delay_ms", "queueing delay (ms)", False),
        ("throughput_vs_loss", "loss", "loss probability", tput, tput_label, True),
        ("jain_vs_flows", "flows", "flows", "jain", "Jain's fairness index", False),
    ]
    notes: list[str] = []
    for name, x, xlabel, y, ylabel, symlog in plots:
        if points[x].nunique() < 2:
            notes.append(f"{name}: skipped (the grid has one {x} value)")
            continue
        series = _series(points, x, y)
        if not series:
            notes.append(f"{name}: skipped (no {y} values)")
            continue
        linthresh = None
        if symlog:
            linthresh = min(v for v in points[x] if v > 0) if (points[x] > 0).any() else 1e-4
        path = _draw(plt, series, out / f"{name}.png", xlabel, ylabel, linthresh)
        notes.append(f"wrote {path}")
    return notes
