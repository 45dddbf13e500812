"""``structops sched OBJ``: run a sched_ext BPF scheduler on a simulated machine.

Argument glue only; the job is :mod:`structops.schedsim.job`.  ``OBJ`` is a BPF object
with a ``sched_ext_ops`` struct_ops map (or ``--example NAME``); the workload is a TOML
file (:mod:`structops.schedsim.workload`) or the default CPU-bound + interactive mix.
Bad options or workloads print one clear line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from structops.cli._objects import add_object_arguments, chosen_object
from structops.schedsim.examples import EXAMPLES, example_path

__all__ = ["main", "register"]


def register(groups: Any) -> None:
    """Add the ``sched`` command to the top-level sub-parsers."""
    p = groups.add_parser("sched", help="run a sched_ext BPF scheduler on a simulated machine")
    add_object_arguments(p, ops="sched_ext_ops", examples=EXAMPLES, verb="attach")
    p.add_argument("--cpus", type=int, default=4, help="simulated CPUs, 1..256 (default 4)")
    p.add_argument("--smt", type=int, default=1, help="hardware threads per core (default 1)")
    p.add_argument("--duration", default="1s", help="simulated time (default 1s; bare numbers are seconds)")
    p.add_argument(
        "--workload", metavar="FILE", help="TOML workload (default: 2 CPU-bound + 1 interactive task per CPU)"
    )
    p.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--trace", metavar="PATH", help="write a Perfetto/Chrome trace-event JSON")
    p.add_argument("--plot", metavar="PATH", help="write a per-CPU timeline PNG (needs matplotlib)")
    prog = p.add_mutually_exclusive_group()
    prog.add_argument("--progress", action="store_true", help="always draw the progress bar on stderr")
    prog.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    p.set_defaults(func=main)


def _duration_ns(text: str) -> int:
    from structops.run import parse_time_us

    us = parse_time_us(text, default_unit="s")
    if us <= 0:
        raise ValueError(f"--duration must be positive, not {text!r}")
    return us * 1000


def main(args: argparse.Namespace, out: TextIO) -> int:
    """Run the job; 2 for bad input, 1 for kernel/verifier failures, 0 otherwise."""
    from structops.schedsim.job import SchedConfig, run_sched
    from structops.schedsim.report import print_summary, to_json, write_plot, write_trace
    from structops.schedsim.workload import WorkloadError, load_workload

    try:
        obj = chosen_object(args, example_path)
        if not 1 <= args.cpus <= 256:
            raise ValueError(f"--cpus must be between 1 and 256, not {args.cpus}")
        if args.smt < 1 or args.cpus % args.smt:
            raise ValueError(f"--smt {args.smt} must divide --cpus {args.cpus}")
        workload = tuple(load_workload(args.workload)) if args.workload else None
        cfg = SchedConfig(obj, args.map_name, args.cpus, _duration_ns(args.duration), workload, args.seed, args.smt)
    except (ValueError, FileNotFoundError, WorkloadError) as e:
        print(f"structops sched: error: {e}", file=sys.stderr)
        return 2
    show = args.progress or (not args.no_progress and not args.json and sys.stderr.isatty())

    def progress(now: int) -> None:
        pct = 100 * now / cfg.duration_ns
        print(f"\r[{'#' * int(pct // 5):<20}] {now / 1e9:6.2f} s", end="", file=sys.stderr, flush=True)

    try:
        res = run_sched(cfg, progress if show else None)
    except ValueError as e:
        print(f"structops sched: error: {e}", file=sys.stderr)
        return 2
    if show:
        print(file=sys.stderr)
    if args.trace:
        write_trace(res, args.trace)
    if args.plot:
        write_plot(res, args.plot)
    if args.json:
        out.write(json.dumps(to_json(res)) + "\n")
    else:
        print_summary(res, out)
    return 0
