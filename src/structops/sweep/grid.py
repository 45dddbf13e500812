"""The sweep grid: a TOML file (or mapping) whose cartesian product is the set of points.

::

    kind = "tcp"                                   # the job each point runs (default tcp)
    objects = ["reno", "cubic_like", "my_cc.bpf.o"]
    flows = [1, 4]
    bandwidth = ["20mbit", "100mbit"]
    buffer = ["0.5bdp", "1bdp", "2bdp"]
    loss = [0, 0.001]
    duration = "10s"
    seeds = [1, 2, 3]
    traces = false                                 # per-point CSV traces in OUT/traces/
    exclude = [{ objects = "reno", loss = 0.001 }] # drop points matching every key

Each key takes a value, a list or a range table (:mod:`structops.sweep.axes`); the keys
a kind understands are its axes (:mod:`structops.sweep.tcp`).  A point's id is a digest
of its kind, its options and its objects' bytes, so the same point has the same id in an
edited grid (``--resume`` relies on it) and a rebuilt object gets new ids.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from structops._toml import read_toml
from structops.sweep.axes import Axis, GridError, expand_values
from structops.sweep.kinds import Kind, ObjectResolver, get_kind

__all__ = ["MAX_POINTS", "Grid", "Point", "load_grid", "parse_grid"]

#: A grid larger than this is almost certainly a typo in a range.
MAX_POINTS = 1_000_000

_GRID_KEYS = {"kind", "name", "description", "traces", "exclude"}


@dataclass(frozen=True)
class Point:
    """One point of a sweep: its position in the grid, stable id, kind and options."""

    index: int
    point_id: str
    kind: str
    options: Mapping[str, Any]
    algorithm: str


@dataclass
class Grid:
    """The expanded grid: its points in product order and the object bytes they need."""

    kind: str
    points: list[Point]
    blobs: dict[str, bytes] = field(repr=False)
    traces: bool = False
    name: str = "sweep"
    source: Path | None = None
    excluded: int = 0

    def __len__(self) -> int:
        return len(self.points)


def point_id(kind: str, options: Mapping[str, Any]) -> str:
    """A short stable digest of ``kind`` and ``options`` (object digests included)."""
    text = json.dumps({"kind": kind, **options}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _axis_for(axes: tuple[Axis, ...], key: str) -> Axis | None:
    for axis in axes:
        if key in axis.names():
            return axis
    return None


def _exclusions(raw: Any, axes: tuple[Axis, ...]) -> list[dict[str, list[Any]]]:
    tables = raw if isinstance(raw, list) else [raw]
    out: list[dict[str, list[Any]]] = []
    for i, table in enumerate(tables):
        if not isinstance(table, Mapping) or not table:
            raise GridError(f"exclude[{i}]: expected a table of grid keys and values, got {table!r}")
        rule: dict[str, list[Any]] = {}
        for key, value in table.items():
            axis = _axis_for(axes, key)
            if axis is None:
                raise GridError(f"exclude[{i}]: unknown key {key!r}")
            rule[axis.key] = expand_values(axis, value)
        out.append(rule)
    return out


def parse_grid(table: Mapping[str, Any], base: Path | None = None, *, source: Path | None = None) -> Grid:
    """Expand the grid ``table``; object paths are relative to ``base`` (default: cwd)."""
    kind_name = table.get("kind", "tcp")
    if not isinstance(kind_name, str):
        raise GridError(f"kind: expected a name, got {kind_name!r}")
    kind: Kind = get_kind(kind_name)
    resolver = ObjectResolver(base if base is not None else Path.cwd(), kind.example_path, kind.examples)
    axes = kind.axes(resolver)
    known = set(_GRID_KEYS) | {k for a in axes for k in a.names()}
    unknown = sorted(set(table) - known)
    if unknown:
        raise GridError(
            f"unknown key(s) {', '.join(map(repr, unknown))} for kind {kind_name!r} (known: {', '.join(sorted(known))})"
        )
    traces = table.get("traces", False)
    if not isinstance(traces, bool):
        raise GridError(f"traces: expected true or false, got {traces!r}")
    name = table.get("name", source.stem if source is not None else "sweep")
    values: list[list[Any]] = []
    for axis in axes:
        present = [k for k in axis.names() if k in table]
        if len(present) > 1:
            raise GridError(f"give only one of {' / '.join(present)}")
        if present:
            values.append(expand_values(axis, table[present[0]]))
        elif axis.default is None and axis.column == "":
            raise GridError(f"{axis.key}: required (e.g. {axis.key} = [...]; {axis.help})")
        else:
            values.append([axis.default])
    total = 1
    for v in values:
        total *= len(v)
    if total > MAX_POINTS:
        raise GridError(f"the grid has {total} points (at most {MAX_POINTS}); check the ranges")
    rules = _exclusions(table.get("exclude", []), axes)
    points: list[Point] = []
    seen: set[str] = set()
    excluded = 0
    for combo in itertools.product(*values):
        by_key = {axis.key: v for axis, v in zip(axes, combo, strict=True)}
        if any(all(by_key[k] in allowed for k, allowed in rule.items()) for rule in rules):
            excluded += 1
            continue
        options: dict[str, Any] = {}
        for axis, v in zip(axes, combo, strict=True):
            if axis.column:
                options[axis.column] = v
            else:
                options.update(v)
        try:
            options = kind.complete(options)
        except ValueError as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in by_key.items() if not isinstance(v, dict))
            raise GridError(f"point ({shown}): {exc}; remove it with an exclude rule or change the grid") from None
        pid = point_id(kind_name, options)
        if pid in seen:
            continue
        seen.add(pid)
        points.append(Point(len(points), pid, kind_name, options, kind.algorithm(options)))
    if not points:
        raise GridError("the grid has no points (every combination is excluded)")
    return Grid(kind_name, points, dict(resolver.blobs), traces, str(name), source, excluded)


def load_grid(path: str | Path) -> Grid:
    """Read and expand the grid file ``path`` (TOML); GridError for anything unusable."""
    path = Path(path)
    table = read_toml(path, GridError, "cannot read grid file {path}: {reason}", "{path}: not valid TOML: {reason}")
    return parse_grid(table, path.resolve().parent, source=path)
