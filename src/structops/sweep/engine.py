"""The sweep engine: run a grid's points as Dask tasks and collect one table.

:func:`run` takes a grid, a Dask client (or makes one: a ``LocalCluster`` of worker
processes, one thread each, or a ``Client`` of the scheduler address given), submits
each point as a task (:func:`structops.sweep.worker.execute`), journals every outcome
as it arrives, and returns the table as a pandas DataFrame (``DataFrame.attrs["sweep"]``
says what was run, skipped and failed).

Failure handling: a job that fails (bad object, verifier refusal) comes back as an
error row.  A worker process that dies mid-point makes Dask reschedule the task on
another worker (``distributed.scheduler.allowed-failures`` times); past that the point
is recorded as an error naming the crash, and the sweep goes on.  At most ``window``
tasks are in flight at once so that a sweep of many points keeps the scheduler small
(the object bytes travel with each task: workers need no shared file system).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from structops.sweep.grid import Grid, Point, load_grid, parse_grid
from structops.sweep.worker import Outcome, Task, describe_error, execute

__all__ = ["run"]

OnPoint = Callable[[Point, Outcome], None]


def _as_grid(grid: Grid | str | Path | Mapping[str, Any]) -> Grid:
    if isinstance(grid, Grid):
        return grid
    if isinstance(grid, str | Path):
        return load_grid(grid)
    return parse_grid(grid)


class _Bar:
    """``[#####-----] 12/24 points  1 failed  3.2 s`` on a stream, redrawn in place."""

    def __init__(self, stream: TextIO | None, total: int, skipped: int) -> None:
        self.stream = stream
        self.total = total
        self.skipped = skipped
        self.done = 0
        self.failed = 0
        self.started = time.perf_counter()

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        if self.stream is None:
            return
        frac = self.done / max(self.total, 1)
        bar = "#" * int(frac * 30) + "-" * (30 - int(frac * 30))
        wall = time.perf_counter() - self.started
        eta = wall / self.done * (self.total - self.done) if self.done else 0.0
        extra = f"  {self.skipped} resumed" if self.skipped else ""
        self.stream.write(
            f"\r[{bar}] {self.done}/{self.total} points  {self.failed} failed{extra}  {wall:.1f} s  eta {eta:.0f} s"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self.done:
            self.stream.write("\n")
            self.stream.flush()


@contextlib.contextmanager
def _client(client: Any, workers: int | None, scheduler: str | None, todo: int) -> Iterator[Any]:
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        # connect timeout: distributed.comm.timeouts.connect (DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT)
        with Client(scheduler) as remote:  # type: ignore[no-untyped-call]
            yield remote
        return
    n = workers if workers is not None else min(os.cpu_count() or 1, max(todo, 1))
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",  # no fixed port (8787 may be taken); the dashboard needs bokeh
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as local,  # type: ignore[no-untyped-call]
    ):
        yield local


def _worker_count(client: Any) -> int:
    try:
        return len(client.scheduler_info()["workers"])
    except Exception:
        return 0


def _crash_outcome(point: Point, exc: BaseException) -> Outcome:
    name = type(exc).__name__
    if name == "KilledWorker":
        text = f"worker process died while running this point, on every retry ({describe_error(exc)})"
    else:
        text = f"the point did not complete ({describe_error(exc)})"
    return Outcome(point.point_id, [], text)


def _submit_all(
    client: Any,
    grid: Grid,
    todo: list[Point],
    window: int,
    done: Callable[[Point, Outcome], None],
) -> None:
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    pending = iter(todo)
    by_key: dict[str, Point] = {}

    def submit() -> Any:
        point = next(pending, None)
        if point is None:
            return None
        blobs = {v: grid.blobs[v] for v in point.options.values() if isinstance(v, str) and v in grid.blobs}
        task = Task(point.kind, point.point_id, dict(point.options), grid.traces, blobs)
        key = f"structops-sweep-{point.point_id}-{token}"
        by_key[key] = point
        return client.submit(execute, task, key=key, pure=False)

    first = [f for f in (submit() for _ in range(min(window, len(todo)))) if f is not None]
    queue = as_completed(first)  # type: ignore[no-untyped-call]
    for future in queue:
        point = by_key.pop(future.key)
        if future.status == "finished":
            outcome: Outcome = future.result()
        else:
            try:
                exc = future.exception()
            except (Exception, asyncio.CancelledError) as cancelled:  # the scheduler dropped the task
                exc = cancelled
            outcome = _crash_outcome(point, exc)
        future.release()
        done(point, outcome)
        nxt = submit()
        if nxt is not None:
            queue.add(nxt)  # type: ignore[no-untyped-call]


def run(
    grid: Grid | str | Path | Mapping[str, Any],
    client: Any = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    progress: TextIO | None = None,
    on_point: OnPoint | None = None,
    window: int | None = None,
) -> Any:
    """Run every point of ``grid`` on Dask; return the results table (a pandas DataFrame).

    ``grid`` is a :class:`Grid`, a grid file path, or a mapping shaped like the file.
    ``client`` is a ``distributed.Client`` to use as is; otherwise ``scheduler``
    (``tcp://host:port``) names a running cluster, or a ``LocalCluster`` of ``workers``
    processes (default: one per CPU, at most one per point) lives for this call.  With
    ``out``, results go to ``out/results.parquet`` and ``out/results.csv`` and
    ``resume`` skips the points ``out`` already has (see :mod:`structops.sweep.store`).
    ``progress`` gets a progress line; ``on_point(point, outcome)`` is called in this
    process as each point completes.
    """
    from structops.sweep.store import Store, outcome_rows

    g = _as_grid(grid)
    if resume and out is None:
        raise ValueError("resume needs an output directory")
    store = Store(out) if out is not None else None
    rows: list[dict[str, Any]] = []
    done_ids: set[str] = set()
    if store is not None:
        store.prepare(resume)
        if resume:
            rows = store.previous()
            done_ids = {str(r["point_id"]) for r in rows if r.get("status") == "ok"}
            failed_before = {str(r["point_id"]) for r in rows if r.get("status") != "ok"}
            rows = [r for r in rows if str(r["point_id"]) not in failed_before]
    todo = [p for p in g.points if p.point_id not in done_ids]
    skipped = len(g.points) - len(todo)
    bar = _Bar(progress, len(todo), skipped)
    failed: list[str] = []
    started = time.perf_counter()
    point_wall = 0.0

    def done(point: Point, outcome: Outcome) -> None:
        nonlocal point_wall
        point_rows = outcome_rows(point, outcome)
        rows.extend(point_rows)
        point_wall += outcome.wall_s
        if outcome.error is not None:
            failed.append(point.point_id)
        if store is not None:
            store.append(point, point_rows, outcome.trace)
        bar.update(outcome.error is not None)
        if on_point is not None:
            on_point(point, outcome)

    n_workers = 0
    address = None
    try:
        if todo:
            with _client(client, workers, scheduler, len(todo)) as c:
                n_workers = _worker_count(c)
                address = getattr(c, "scheduler", None) and getattr(c.scheduler, "address", None)
                size = window if window is not None else max(8, 4 * max(n_workers, 1))
                _submit_all(c, g, todo, size, done)
    finally:
        bar.close()
    wall = time.perf_counter() - started
    meta = {
        "grid": str(g.source) if g.source is not None else g.name,
        "kind": g.kind,
        "points": len(g.points),
        "ran": len(todo),
        "resumed": skipped,
        "failed": len(failed),
        "excluded": g.excluded,
        "workers": n_workers,
        "scheduler": address,
        "wall_s": round(wall, 3),
        "points_per_minute": round(len(todo) / wall * 60, 2) if todo and wall > 0 else None,
        "job_wall_s": round(point_wall, 3),
        "python": sys.version.split()[0],
    }
    if store is not None:
        frame = store.finish(g, rows, meta)
    else:
        from structops.sweep.store import table

        frame = table(g, rows)
    frame.attrs["sweep"] = meta
    return frame
