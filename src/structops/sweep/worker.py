"""The sweep task: what a Dask worker process runs for one point.

:func:`execute` writes the point's objects (sent as bytes, keyed by digest) into a
per-process cache directory, runs the kind's job on a fresh embedded kernel and returns
an :class:`Outcome` -- result rows, or the error the job raised (a bad object, a
verifier refusal, a fault of the program) as text.  It never raises for a failing job,
so Dask's own retries are left for what kills the worker process itself.
"""

from __future__ import annotations

import multiprocessing.util
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from structops.sweep.kinds import get_kind

__all__ = ["Outcome", "Task", "execute"]

_CACHE: Path | None = None


@dataclass(frozen=True)
class Task:
    """One point to run: kind, id, options, whether to keep the trace, and the object bytes."""

    kind: str
    point_id: str
    options: Mapping[str, Any]
    trace: bool
    blobs: Mapping[str, bytes] = field(repr=False)


@dataclass
class Outcome:
    """What came back for one point: rows (or an error), the trace, timing, the process."""

    point_id: str
    rows: list[dict[str, Any]]
    error: str | None = None
    trace: str | None = None
    wall_s: float = 0.0
    pid: int = 0


def _cache_dir() -> Path:
    global _CACHE
    if _CACHE is None or not _CACHE.is_dir():
        _CACHE = Path(tempfile.mkdtemp(prefix=f"structops-sweep-{os.getpid()}-"))
        # multiprocessing children (Dask's worker processes) leave through os._exit:
        # their exit finalizers run, atexit handlers would not
        multiprocessing.util.Finalize(None, shutil.rmtree, args=(str(_CACHE), True), exitpriority=0)
    return _CACHE


def _materialise(blobs: Mapping[str, bytes]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    cache = _cache_dir()
    for digest, data in blobs.items():
        path = cache / f"{digest}.bpf.o"
        if not path.is_file():
            tmp = cache / f".{digest}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            tmp.replace(path)
        files[digest] = path
    return files


def describe_error(exc: BaseException) -> str:
    """``Type: message`` of an exception, on one line (the verifier log is not included)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def execute(task: Task) -> Outcome:
    """Run ``task`` in this process; a failing job becomes ``Outcome.error``."""
    started = time.perf_counter()
    try:
        kind = get_kind(task.kind)
        files = _materialise(task.blobs)
        run = kind.run_point(task.options, files, task.trace)
        return Outcome(task.point_id, run.rows, None, run.trace, time.perf_counter() - started, os.getpid())
    except Exception as exc:
        if os.environ.get("STRUCTOPS_SWEEP_DEBUG"):
            traceback.print_exc()
        return Outcome(task.point_id, [], describe_error(exc), None, time.perf_counter() - started, os.getpid())
