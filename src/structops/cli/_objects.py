"""The object a simulation command runs: ``OBJ`` or ``--example NAME`` (``run``, ``sched``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["add_object_arguments", "check_object_file", "chosen_object"]


def add_object_arguments(p: argparse.ArgumentParser, *, ops: str, examples: Sequence[str], verb: str) -> None:
    """``OBJ``, ``--example NAME`` and ``--map NAME`` for objects with an ``ops`` struct_ops map."""
    p.add_argument("obj", nargs="?", help=f"BPF object with a {ops} struct_ops map")
    p.add_argument(
        "--example", choices=examples, help=f"use a shipped example {_NOUN.get(ops, 'object')} instead of OBJ"
    )
    p.add_argument(
        "--map",
        dest="map_name",
        metavar="NAME",
        help=f"{_MAP.get(ops, 'struct_ops')} map to {verb} (default: the only one)",
    )


_NOUN = {"sched_ext_ops": "scheduler"}
_MAP = {"sched_ext_ops": "sched_ext_ops"}


def check_object_file(path: Path) -> Path:
    """``path`` if it is a file; FileNotFoundError naming a directory's objects otherwise."""
    if path.is_dir():
        objs = sorted(p.name for p in path.glob("*.bpf.o"))[:5]
        hint = f" (it has {', '.join(objs)})" if objs else ""
        raise FileNotFoundError(f"{path} is a directory: give a BPF object file{hint}")
    if not path.is_file():
        raise FileNotFoundError(f"no such object file: {path}")
    return path


def chosen_object(args: argparse.Namespace, example_path: Callable[[str], Path]) -> Path:
    """The object ``OBJ`` or ``--example NAME`` names (exactly one of them), checked."""
    if (args.obj is None) == (args.example is None):
        raise ValueError("give exactly one of OBJ or --example NAME")
    return check_object_file(example_path(args.example) if args.example else Path(args.obj))
