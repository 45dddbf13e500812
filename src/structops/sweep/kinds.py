"""Sweep kinds: what one point of a sweep runs (``tcp`` = a ``structops run`` job).

A kind is the extension point that lets the same grid/engine/store/report machinery
sweep another job: it declares its axes (grid keys and the option columns they fill),
completes and checks each point's options, runs one point in a worker process and
returns its result rows, and lists its result columns.  ``tcp`` ships
(:mod:`structops.sweep.tcp`); another job (the ``structops sched`` workloads) plugs in
with :func:`register_kind` from a module listed in :data:`_LAZY_KINDS`, imported only
when a grid names that kind.

Objects are resolved on the machine that reads the grid: an entry is a shipped example
name or a path relative to the grid file, and its bytes travel to the workers (they
need not share a file system with the client).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from structops.sweep.axes import Axis, GridError

__all__ = [
    "Kind",
    "ObjectRef",
    "ObjectResolver",
    "PointRun",
    "get_kind",
    "kind_names",
    "object_entry",
    "register_kind",
]


@dataclass(frozen=True)
class ObjectRef:
    """An object named in a grid: its label (as written), where it was read, its bytes' digest."""

    label: str
    path: Path
    sha256: str


class ObjectResolver:
    """Resolves grid object entries (example names or paths) and keeps their bytes by digest."""

    def __init__(self, base: Path, example_path: Callable[[str], Path | None], examples: tuple[str, ...] = ()) -> None:
        self.base = base
        self.example_path = example_path
        self.examples = examples
        self.blobs: dict[str, bytes] = {}
        self._cache: dict[str, ObjectRef] = {}

    def __call__(self, entry: Any) -> ObjectRef:
        """The object named by ``entry`` (a string); ValueError when it cannot be read."""
        if not isinstance(entry, str) or not entry:
            raise ValueError(f"an object is a shipped example name or a file path, got {entry!r}")
        if entry in self._cache:
            return self._cache[entry]
        path = self.example_path(entry)
        if path is None:
            path = Path(entry).expanduser()
            if not path.is_absolute():
                path = self.base / path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(
                f"cannot read object {entry!r} ({path}: {exc.strerror or exc}); "
                f"give a shipped example name ({', '.join(self.examples)}) or a path relative to the grid file"
            ) from None
        digest = hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        ref = ObjectRef(entry, path, digest)
        self._cache[entry] = ref
        return ref


def object_entry(resolver: ObjectResolver) -> Callable[[Any], dict[str, Any]]:
    """The parser of an ``objects`` entry: a name/path, or ``{ path|example, map, name }``.

    It yields the ``object`` (label), ``object_sha256`` and ``map`` options.
    """

    def parse(entry: Any) -> dict[str, Any]:
        if isinstance(entry, Mapping):
            unknown = set(entry) - {"path", "example", "map", "name"}
            if unknown:
                raise ValueError(f"unknown object field(s) {', '.join(sorted(unknown))} (path, example, map, name)")
            ref = resolver(entry.get("path", entry.get("example")))
            map_name = entry.get("map")
            if map_name is not None and not isinstance(map_name, str):
                raise ValueError(f"map: expected a map name, got {map_name!r}")
            return {"object": str(entry.get("name", ref.label)), "object_sha256": ref.sha256, "map": map_name}
        ref = resolver(entry)
        return {"object": ref.label, "object_sha256": ref.sha256, "map": None}

    return parse


@dataclass
class PointRun:
    """What a kind's runner returns for one point: result rows and an optional trace (CSV text)."""

    rows: list[dict[str, Any]]
    trace: str | None = None


class Kind(Protocol):
    """A sweepable job.

    ``axes(resolver)`` lists the grid keys in product order (an axis whose ``column`` is
    empty yields dicts merged into the options); ``complete(options)`` adds derived
    options and raises ``ValueError`` for a combination the job refuses;
    ``run_point(options, files, trace)`` runs in a worker (``files`` maps object digests
    to local paths) and raises on failure; ``option_columns`` / ``result_columns`` give
    the column names and pandas dtypes of the table; ``algorithm(options)`` labels the
    line a point belongs to in reports; ``examples`` are the shipped object names.
    """

    name: str
    option_columns: tuple[tuple[str, str], ...]
    result_columns: tuple[tuple[str, str], ...]

    @property
    def examples(self) -> tuple[str, ...]: ...

    def axes(self, resolver: ObjectResolver) -> tuple[Axis, ...]: ...

    def example_path(self, name: str) -> Path | None: ...

    def complete(self, options: dict[str, Any]) -> dict[str, Any]: ...

    def run_point(self, options: Mapping[str, Any], files: Mapping[str, Path], trace: bool) -> PointRun: ...

    def algorithm(self, options: Mapping[str, Any]) -> str: ...


_KINDS: dict[str, Kind] = {}

#: Kinds implemented in modules imported on first use (kind name -> module).  The module
#: calls :func:`register_kind` when imported.
_LAZY_KINDS: dict[str, str] = {"tcp": "structops.sweep.tcp", "sched": "structops.sweep.sched"}


def register_kind(kind: Kind) -> None:
    """Make ``kind`` available to grids (``kind = "<name>"``)."""
    _KINDS[kind.name] = kind


def kind_names() -> list[str]:
    """Names a grid may use for ``kind``."""
    return sorted(set(_KINDS) | set(_LAZY_KINDS))


def get_kind(name: str) -> Kind:
    """The kind called ``name``; GridError naming the available ones otherwise."""
    if name not in _KINDS and name in _LAZY_KINDS:
        try:
            module = importlib.import_module(_LAZY_KINDS[name])
        except ImportError as exc:
            raise GridError(f"kind {name!r} is not available in this installation ({exc})") from None
        reason = getattr(module, "UNAVAILABLE", None)
        if name not in _KINDS and reason:
            raise GridError(f"kind {name!r} is not available in this installation ({reason})")
    if name not in _KINDS:
        raise GridError(f"unknown kind {name!r} (available: {', '.join(kind_names())})")
    return _KINDS[name]
