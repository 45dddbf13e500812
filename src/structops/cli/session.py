"""The kernel a CLI invocation talks to, ``--kernel`` / ``--load``, and in-process sessions.

* ``--kernel embedded`` (the default) starts a fresh :class:`EmulatedKernel` for the
  invocation; since it lives in the process, it starts empty.  ``--load OBJ``
  (repeatable) loads each object into it and attaches every struct_ops map, so that
  ``structops --load testdata/reno.bpf.o struct_ops show`` has something to show.
* ``--kernel linux`` drives the running kernel through :class:`LinuxKernel`.
* ``main(argv, stdout, kernel=k)`` and :func:`run_commands` reuse an existing kernel, so
  that several commands act on the same embedded kernel (tests, ``structops run``).

Objects loaded by ``--load`` stay open for the lifetime of the :class:`Session` (for an
existing kernel passed in, for as long as the caller keeps the kernel).
"""

from __future__ import annotations

import argparse
from typing import TextIO

from structops.abi.protocol import Kernel
from structops.api import Collection, Link

__all__ = ["Session", "add_global_options", "load_and_attach", "release_loaded", "run_commands"]

#: Objects loaded with --load into a kernel the caller passed in: their fds stay open (like
#: a pinned registration) until :func:`release_loaded` or the end of the Python process.
_KEEP: list[tuple[Collection, list[Link]]] = []


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """``--kernel``, ``--load``, ``-j`` and ``-p`` on the top-level parser."""
    parser.add_argument(
        "--kernel",
        choices=["embedded", "linux"],
        default="embedded",
        help="embedded (in-process, default) or linux (the running kernel through bpf(2))",
    )
    parser.add_argument(
        "--load",
        action="append",
        default=[],
        metavar="OBJ",
        help="load OBJ and attach its struct_ops maps before the command (repeatable)",
    )
    parser.add_argument("-j", "--json", action="store_true", default=False, help="JSON output")
    parser.add_argument("-p", "--pretty", action="store_true", default=False, help="pretty JSON (implies -j)")


def load_and_attach(kernel: Kernel, path: str) -> tuple[Collection, list[Link]]:
    """Load ``path`` on ``kernel`` and attach each struct_ops map (legacy or link)."""
    coll = Collection.open(path).load(kernel)
    links = [m.attach_struct_ops() for m in coll.maps.values() if m.spec.struct_ops is not None]
    return coll, links


class Session:
    """The kernel of one invocation and what ``--load`` put into it."""

    def __init__(self, kernel: Kernel, loaded: list[tuple[Collection, list[Link]]] | None = None) -> None:
        self.kernel = kernel
        self.loaded = loaded if loaded is not None else []
        #: True when the kernel belongs to the caller (--load objects outlive the command).
        self.keep = False

    @classmethod
    def from_args(cls, args: argparse.Namespace, kernel: Kernel | None) -> Session:
        """Pick or create the kernel, then apply ``--load``."""
        if kernel is None:
            if getattr(args, "kernel", "embedded") == "linux":
                from structops.linux import LinuxKernel

                kernel = LinuxKernel()
            else:
                from structops.kernel.emulated import EmulatedKernel

                kernel = EmulatedKernel()
            session = cls(kernel)
        else:
            session = cls(kernel)
            session.keep = True
        for path in getattr(args, "load", []) or []:
            session.loaded.append(load_and_attach(session.kernel, path))
        if session.keep:
            _KEEP.extend(session.loaded)
        return session


def release_loaded(kernel: Kernel) -> None:
    """Close what ``--load`` put into ``kernel`` (a caller's kernel): links, maps, programs."""
    for coll, links in [item for item in _KEEP if item[0].kernel is kernel]:
        for link in links:
            if not link.is_legacy:
                link.close()
        coll.close()
        _KEEP.remove((coll, links))


def run_commands(kernel: Kernel, commands: list[list[str]], stdout: TextIO | None = None) -> list[int]:
    """Run several command lines on one existing ``kernel``; returns each exit status."""
    from structops.cli import main

    return [main(list(argv), stdout, kernel=kernel) for argv in commands]
