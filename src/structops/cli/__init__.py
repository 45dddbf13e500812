"""The ``structops`` command line: bpftool-compatible verbs over structops' own libraries.

``main(argv, stdout)`` is the entry point (``structops = "structops.cli:main"`` and
``python -m structops``); tests call it with a list and a StringIO.  Each command group
lives in its own module and registers a sub-parser; a command returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from structops.abi.protocol import Kernel
from structops.cli import btf as _btf
from structops.cli import links as _links
from structops.cli import maps as _maps
from structops.cli import progs as _progs
from structops.cli import run as _run
from structops.cli import sched as _sched
from structops.cli import struct_ops as _struct_ops
from structops.cli import sweep as _sweep
from structops.cli.session import add_global_options, run_commands
from structops.errors import BpfError, FormatError

__all__ = ["main", "run_commands"]


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every command group registered."""
    parser = argparse.ArgumentParser(prog="structops", description="BPF struct_ops in Python")
    add_global_options(parser)
    groups = parser.add_subparsers(dest="group", metavar="COMMAND")
    groups.required = True
    _btf.register(groups)
    for group in (_struct_ops, _maps, _progs, _links, _run, _sched, _sweep):
        group.register(groups)
    return parser


def main(argv: list[str] | None = None, stdout: TextIO | None = None, kernel: Kernel | None = None) -> int:
    """Run one command; return its exit status (2 for usage errors, 1 for failures).

    ``kernel`` is the kernel the bpftool-style commands act on (default: a fresh embedded
    kernel, or the running one with ``--kernel linux``); see :mod:`structops.cli.session`.
    """
    out = stdout if stdout is not None else sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors by exiting
        return int(exc.code or 0)
    args.kernel_instance = kernel
    try:
        status: int = args.func(args, out)
    except BrokenPipeError:  # pragma: no cover - `structops ... | head`
        return 0
    except (FormatError, BpfError, OSError) as exc:
        print(f"structops: error: {exc}", file=sys.stderr)
        return 1
    return status
