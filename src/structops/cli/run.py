"""``structops run OBJ``: the main job -- a BPF congestion control driving simulated flows.

Argument glue only; the job lives in :mod:`structops.run`.  ``OBJ`` is a BPF object
file, or ``--example NAME`` one of the objects shipped with structops (``reno``,
``reno_v2``, ``cubic_like``, ``dctcp_like``); ``--swap OTHER.o --at T`` (or
``--swap-example NAME``) replaces the registered struct_ops map through
``BPF_LINK_UPDATE`` at T seconds.  ``--listener`` accepts the flows from a listening
socket holding the CC; ``--direction down|both`` (which implies it) makes the accepted
sockets send server-to-client data with the CC they inherited.  Runs on the embedded
kernel: no root, no clang.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from structops.cli._objects import add_object_arguments, check_object_file, chosen_object
from structops.run import (
    DIRECTIONS,
    EXAMPLES,
    RunConfig,
    example_path,
    parse_rate,
    parse_time_us,
    print_summary,
    print_timing,
    run_job,
    write_csv,
    write_plot,
)

__all__ = ["add_parser", "main", "register"]


def register(groups: Any) -> None:
    """Add the ``run`` command to the top-level sub-parsers."""
    p = groups.add_parser("run", help="simulate TCP flows driven by a BPF congestion control")
    add_object_arguments(p, ops="tcp_congestion_ops", examples=EXAMPLES, verb="register")
    p.add_argument("--flows", type=int, default=4, help="number of bulk flows (default 4)")
    p.add_argument("--duration", default="10s", help="simulated time (default 10s; bare numbers are seconds)")
    p.add_argument("--bandwidth", default="20mbit", help="bottleneck rate (default 20mbit)")
    p.add_argument("--rtt", default="20ms", help="base round-trip time (default 20ms)")
    p.add_argument("--buffer", type=int, metavar="PKTS", help="bottleneck buffer in packets (default: one BDP)")
    p.add_argument("--ecn-threshold", type=int, metavar="PKTS", help="CE-mark ECT packets above this queue length")
    p.add_argument("--loss", type=float, default=0.0, help="random loss probability per data packet")
    p.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    p.add_argument("--swap", metavar="OTHER.o", help="object whose struct_ops map replaces OBJ's at --at")
    p.add_argument("--swap-example", choices=EXAMPLES, help="shipped example to swap to")
    p.add_argument("--swap-map", metavar="NAME", help="struct_ops map of the swap object")
    p.add_argument("--at", metavar="T", help="swap time (bare numbers are seconds)")
    p.add_argument(
        "--listener",
        action="store_true",
        help="accept the flows from a listening socket set up at the start with the CC: "
        "each accepted socket inherits it (and keeps it across --swap)",
    )
    p.add_argument(
        "--direction",
        choices=DIRECTIONS,
        default="up",
        help="who sends: up = clients to server (default), down = server to clients "
        "(the accepted sockets, with the listener's CC), both = each connection both ways; "
        "down and both imply --listener",
    )
    p.add_argument("--csv", metavar="PATH", help="write the per-flow cwnd trace as CSV")
    p.add_argument("--plot", metavar="PATH", help="write a cwnd/throughput plot (PNG, needs matplotlib)")
    p.add_argument("--progress", action="store_true", help="always draw the progress bar on stderr")
    p.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    p.add_argument(
        "--kernel",
        dest="run_kernel",
        choices=["embedded"],
        help="the simulator needs the embedded kernel (the default)",
    )
    p.set_defaults(func=main)


add_parser = register


def _config(args: argparse.Namespace) -> RunConfig:
    obj = chosen_object(args, example_path)
    if args.swap is not None and args.swap_example is not None:
        raise ValueError("give only one of --swap and --swap-example")
    swap = example_path(args.swap_example) if args.swap_example else (Path(args.swap) if args.swap else None)
    if swap is not None:
        check_object_file(swap)
    return RunConfig(
        obj=obj,
        map_name=args.map_name,
        flows=args.flows,
        duration_us=parse_time_us(args.duration, "s"),
        bandwidth_bps=parse_rate(args.bandwidth),
        rtt_us=parse_time_us(args.rtt, "ms"),
        loss=args.loss,
        seed=args.seed,
        buffer_pkts=args.buffer,
        ecn_threshold_pkts=args.ecn_threshold,
        swap=swap,
        swap_map=args.swap_map,
        swap_at_us=parse_time_us(args.at, "s") if args.at is not None else None,
        csv=Path(args.csv) if args.csv else None,
        plot=Path(args.plot) if args.plot else None,
        listener=args.listener,
        direction=args.direction,
    )


def main(args: argparse.Namespace, stdout: TextIO) -> int:
    """Run the job and print the report; 2 for bad options, 1 for failures."""
    if getattr(args, "kernel", "embedded") == "linux":
        print("structops run: error: the simulator runs on the embedded kernel (drop --kernel linux)", file=sys.stderr)
        return 2
    try:
        cfg = _config(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"structops run: error: {exc}", file=sys.stderr)
        return 2
    show_bar = not args.no_progress and (args.progress or sys.stderr.isatty())
    result = run_job(cfg, progress=sys.stderr if show_bar else None)
    print_summary(result, stdout)
    print_timing(result, sys.stderr)
    if cfg.csv is not None:
        rows = write_csv(result, cfg.csv)
        stdout.write(f"wrote {rows} trace rows to {cfg.csv}\n")
    if cfg.plot is not None:
        skipped = write_plot(result, cfg.plot)
        stdout.write((skipped if skipped else f"wrote plot to {cfg.plot}") + "\n")
    return 0
