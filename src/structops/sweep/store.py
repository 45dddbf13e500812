"""The sweep output directory: ``results.parquet``, ``results.csv``, traces and the journal.

Layout of ``OUT/``:

* ``results.parquet`` / ``results.csv`` -- the table, one row per point and flow (a
  failed point has one row with its ``error`` and empty results), in grid order;
* ``journal.jsonl`` -- one line per point as it completes, so an interrupted sweep
  loses nothing; merged into the table (and removed) when the sweep finishes;
* ``traces/<point_id>.csv`` -- per-point traces when the grid asks for them;
* ``sweep.json`` -- what the last sweep did (points run, skipped, failed, wall time).

``--resume`` reads the table and the journal and skips every point that has ``status
== "ok"``; failed points run again.  Rows of points that are no longer in the grid are
kept, after the grid's points.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from structops.sweep.grid import Grid, Point
from structops.sweep.kinds import get_kind
from structops.sweep.worker import Outcome

__all__ = ["COMMON_COLUMNS", "Store", "columns_for", "outcome_rows", "table", "to_frame"]

#: Columns every sweep table starts with, and their pandas dtypes.
COMMON_COLUMNS: tuple[tuple[str, str], ...] = (
    ("point", "Int64"),
    ("point_id", "string"),
    ("kind", "string"),
    ("algorithm", "string"),
    ("status", "string"),
    ("error", "string"),
)

RESULTS_PARQUET = "results.parquet"
RESULTS_CSV = "results.csv"
JOURNAL = "journal.jsonl"


def columns_for(kind_name: str) -> list[tuple[str, str]]:
    """All columns of a ``kind_name`` sweep table, in order, with their dtypes."""
    kind = get_kind(kind_name)
    return [*COMMON_COLUMNS, *kind.option_columns, *kind.result_columns]


def outcome_rows(point: Point, outcome: Outcome) -> list[dict[str, Any]]:
    """The table rows of one point: one per flow, or one carrying the error."""
    base = {
        "point": point.index,
        "point_id": point.point_id,
        "kind": point.kind,
        "algorithm": point.algorithm,
        "status": "ok" if outcome.error is None else "error",
        "error": outcome.error,
        **point.options,
    }
    if outcome.error is not None or not outcome.rows:
        return [base]
    return [{**base, **row} for row in outcome.rows]


def _clean(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def to_frame(rows: Iterable[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """A DataFrame of ``rows`` with exactly ``columns`` (extra keys kept after them)."""
    records = [dict(r) for r in rows]
    names = [c for c, _ in columns]
    extra = sorted({k for r in records for k in r} - set(names))
    data: dict[str, list[Any]] = {c: [_clean(r.get(c)) for r in records] for c in [*names, *extra]}
    frame = pd.DataFrame(data)
    for name, dtype in columns:
        frame[name] = frame[name].astype(dtype)
    return frame


class Store:
    """The output directory of a sweep (see the module docstring for its layout)."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)

    @property
    def parquet(self) -> Path:
        """``OUT/results.parquet``."""
        return self.out / RESULTS_PARQUET

    @property
    def csv(self) -> Path:
        """``OUT/results.csv``."""
        return self.out / RESULTS_CSV

    @property
    def journal(self) -> Path:
        """``OUT/journal.jsonl``: points completed by a sweep that has not finished."""
        return self.out / JOURNAL

    def prepare(self, resume: bool) -> None:
        """Create OUT; without ``resume`` forget the journal of an earlier unfinished sweep."""
        self.out.mkdir(parents=True, exist_ok=True)
        if not resume and self.journal.exists():
            self.journal.unlink()

    def previous(self) -> list[dict[str, Any]]:
        """Rows already in OUT (table, then journal; the journal wins for a point in both)."""
        by_point: dict[str, list[dict[str, Any]]] = {}
        if self.parquet.is_file():
            table = pd.read_parquet(self.parquet)
            for row in table.to_dict("records"):
                by_point.setdefault(str(row["point_id"]), []).append({k: _clean(v) for k, v in row.items()})
        if self.journal.is_file():
            with self.journal.open() as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a kill
                    by_point[str(entry["point_id"])] = list(entry["rows"])
        return [row for rows in by_point.values() for row in rows]

    def append(self, point: Point, rows: list[dict[str, Any]], trace: str | None) -> None:
        """Journal one completed point (and write its trace)."""
        if trace is not None:
            traces = self.out / "traces"
            traces.mkdir(exist_ok=True)
            (traces / f"{point.point_id}.csv").write_text(trace)
        line = json.dumps({"point_id": point.point_id, "rows": rows}, default=str)
        with self.journal.open("a") as fh:
            fh.write(line + "\n")
            fh.flush()

    def finish(self, grid: Grid, rows: list[dict[str, Any]], meta: Mapping[str, Any]) -> pd.DataFrame:
        """Write the table (grid order; foreign points last), drop the journal, write sweep.json."""
        frame = table(grid, rows)
        tmp = self.parquet.with_suffix(".parquet.tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, self.parquet)
        tmp_csv = self.csv.with_suffix(".csv.tmp")
        frame.to_csv(tmp_csv, index=False)
        os.replace(tmp_csv, self.csv)
        if self.journal.exists():
            self.journal.unlink()
        (self.out / "sweep.json").write_text(json.dumps(dict(meta), indent=2, default=str) + "\n")
        return frame


def table(grid: Grid, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The sweep table of ``rows``: grid order, then flow; points not in ``grid`` last."""
    index = {p.point_id: p.index for p in grid.points}
    for row in rows:
        row["point"] = index.get(str(row["point_id"]))
    rows.sort(
        key=lambda r: (
            r["point"] is None,
            r["point"] if r["point"] is not None else 0,
            str(r["point_id"]),
            r.get("flow") if r.get("flow") is not None else -1,
        )
    )
    return to_frame(rows, columns_for(grid.kind))
