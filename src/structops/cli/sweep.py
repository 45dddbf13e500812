"""``structops sweep GRID.toml`` and ``structops sweep-plot OUT``: experiment sweeps on Dask.

Argument glue only; the sweep lives in :mod:`structops.sweep`.  ``sweep`` expands the
grid file, runs every point as a ``structops run`` job in Dask worker processes (a local
cluster of ``--workers`` processes, or the cluster at ``--scheduler``), and writes
``OUT/results.parquet`` and ``OUT/results.csv``; ``sweep-plot`` prints the per-algorithm
summary of an output directory and draws its plots.  Exit status: 0, 1 when some point
failed (its error is in the table), 2 for a bad grid file or bad options.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

__all__ = ["register"]

_MISSING = "the sweep needs the 'sweep' extra: python3 -m pip install 'structops[sweep]' ({})"


def register(groups: Any) -> None:
    """Add the ``sweep`` and ``sweep-plot`` commands to the top-level sub-parsers."""
    p = groups.add_parser("sweep", help="run a grid of `structops run` jobs on Dask")
    p.add_argument("grid", metavar="GRID.toml", help="grid file (docs/sweep.md)")
    p.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: one per CPU)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use a running Dask cluster instead")
    p.add_argument("--out", metavar="DIR", help="output directory (default: ./<grid name>-sweep)")
    p.add_argument("--resume", action="store_true", help="skip the points DIR already has")
    p.add_argument("--dry-run", action="store_true", help="list the points and exit (needs no Dask)")
    p.add_argument("--progress", action="store_true", help="always draw the progress line on stderr")
    p.add_argument("--no-progress", action="store_true", help="never draw the progress line")
    p.set_defaults(func=main)
    q = groups.add_parser("sweep-plot", help="summarise and plot a sweep output directory")
    q.add_argument("out", metavar="OUT", help="output directory of `structops sweep`")
    q.add_argument("--plots", metavar="DIR", help="where to write the PNGs (default: OUT/plots)")
    q.set_defaults(func=plot_main)


def _error(text: str) -> int:
    print(f"structops sweep: error: {text}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace, stdout: TextIO) -> int:
    """Run the sweep; 0 when every point succeeded, 1 when some failed, 2 for bad input."""
    from structops.sweep import GridError, load_grid

    if getattr(args, "kernel", "embedded") == "linux":
        return _error("each point runs on its own embedded kernel (drop --kernel linux)")
    if args.workers is not None and args.workers < 1:
        return _error("--workers must be at least 1")
    if args.workers is not None and args.scheduler is not None:
        return _error("give --workers (a local cluster) or --scheduler (a running one), not both")
    if args.scheduler is not None and "://" not in args.scheduler:
        return _error(f"--scheduler wants an address like tcp://HOST:PORT, got {args.scheduler!r}")
    if args.progress and args.no_progress:
        return _error("give only one of --progress and --no-progress")
    try:
        grid = load_grid(args.grid)
    except GridError as exc:
        return _error(str(exc))
    if args.dry_run:
        _list_points(grid, stdout)
        return 0
    out = Path(args.out) if args.out else Path(f"{grid.name}-sweep")
    if out.exists() and not out.is_dir():
        return _error(f"--out {out} exists and is not a directory")
    try:
        import distributed  # noqa: F401
        import pandas  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
        import pyarrow  # type: ignore[import-untyped,unused-ignore]  # noqa: F401

        from structops.sweep.engine import run
    except ImportError as exc:
        return _error(_MISSING.format(exc))
    show = not args.no_progress and (args.progress or sys.stderr.isatty())
    stdout.write(
        f"structops sweep: {len(grid)} points of kind {grid.kind!r} from {args.grid}"
        + (f" ({grid.excluded} excluded)" if grid.excluded else "")
        + "\n"
    )
    try:
        frame = run(
            grid,
            workers=args.workers,
            scheduler=args.scheduler,
            out=out,
            resume=args.resume,
            progress=sys.stderr if show else None,
        )
    except OSError as exc:  # no scheduler at that address, unwritable OUT
        print(f"structops sweep: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"\nstructops sweep: interrupted; completed points are kept in {out}: rerun with --resume",
            file=sys.stderr,
        )
        return 130
    meta = frame.attrs["sweep"]
    rate = f", {meta['points_per_minute']:.0f} points/min" if meta["points_per_minute"] else ""
    stdout.write(
        f"ran {meta['ran']} points ({meta['resumed']} already done) on {meta['workers']} "
        f"worker{'s' if meta['workers'] != 1 else ''} "
        f"in {meta['wall_s']:.1f} s{rate}; {meta['failed']} failed\n"
        f"wrote {out / 'results.parquet'} and {out / 'results.csv'} ({len(frame)} rows)\n"
    )
    if meta["failed"]:
        bad = frame[frame["status"] != "ok"].drop_duplicates("point_id")
        for row in bad.head(10).itertuples(index=False):
            stdout.write(f"  point {row.point} ({row.algorithm}): {row.error}\n")
        if len(bad) > 10:
            stdout.write(f"  ... and {len(bad) - 10} more (see the error column)\n")
        return 1
    return 0


def _list_points(grid: Any, stdout: TextIO) -> None:
    """``--dry-run``: one line per point (index, id, algorithm, the options that vary)."""
    keys = [k for k in grid.points[0].options if not k.endswith("sha256")]
    varying = [k for k in keys if len({repr(p.options[k]) for p in grid.points}) > 1]
    fixed = {k: grid.points[0].options[k] for k in keys if k not in varying}
    stdout.write(
        f"{len(grid)} points of kind {grid.kind!r}"
        + (f" ({grid.excluded} excluded)" if grid.excluded else "")
        + "; the same for all: "
        + ", ".join(f"{k}={v}" for k, v in fixed.items())
        + "\n"
    )
    for p in grid.points:
        shown = " ".join(f"{k}={p.options[k]}" for k in varying)
        stdout.write(f"{p.index:>6} {p.point_id} {p.algorithm:<20} {shown}\n")


def plot_main(args: argparse.Namespace, stdout: TextIO) -> int:
    """Print the summary per algorithm, write OUT/summary.csv and the plots."""
    try:
        from structops.sweep.report import format_summary, load, summary, write_plots
    except ImportError as exc:
        return _error(_MISSING.format(exc))
    out = Path(args.out)
    try:
        table = load(out)
        frame = summary(table)
    except (FileNotFoundError, ValueError) as exc:
        return _error(str(exc))
    stdout.write(format_summary(frame))
    frame.to_csv(out / "summary.csv", index=False)
    stdout.write(f"wrote {out / 'summary.csv'}\n")
    for line in write_plots(table, Path(args.plots) if args.plots else out / "plots"):
        stdout.write(line + "\n")
    return 0
