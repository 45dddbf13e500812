"""The example schedulers shipped with structops (``structops sched --example NAME``).

Sources and the objects are in ``testdata/sched`` (``make -C testdata sched``); copies of
the objects are package data in ``structops/schedsim/examples``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["EXAMPLES", "example_path"]

#: Shipped example scheduler names.
EXAMPLES = ("fifo", "vtime", "qmap", "central")


def example_path(name: str) -> Path:
    """The object of example ``name`` (``vtime`` -> ``.../schedsim/examples/sx_vtime.bpf.o``)."""
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r} (available: {', '.join(EXAMPLES)})")
    path = Path(str(resources.files("structops.schedsim").joinpath("examples", f"sx_{name}.bpf.o")))
    if not path.is_file():
        raise FileNotFoundError(f"example object {path} is missing from the installation")
    return path
