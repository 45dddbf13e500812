"""structops.sweep: experiment sweeps -- a grid of ``structops run`` jobs on Dask.

A grid (TOML file or mapping; :mod:`structops.sweep.grid`) lists objects and values or
ranges for every job option; its cartesian product, minus ``exclude`` rules, is the set
of points.  :func:`run` executes each point in a Dask worker process on a fresh embedded
kernel (a ``LocalCluster`` by default, or an existing cluster) and returns one table row
per point and flow; :mod:`structops.sweep.report` summarises and plots it.  ``structops
sweep`` / ``structops sweep-plot`` are the command-line faces (docs/sweep.md).

Importing this package stays light: Dask, pandas and pyarrow (the ``sweep`` extra) load
when a sweep runs or a table is built.
"""

from __future__ import annotations

from structops.sweep.axes import Axis, GridError
from structops.sweep.engine import run
from structops.sweep.grid import Grid, Point, load_grid, parse_grid
from structops.sweep.kinds import Kind, get_kind, kind_names, register_kind

__all__ = [
    "Axis",
    "Grid",
    "GridError",
    "Kind",
    "Point",
    "get_kind",
    "kind_names",
    "load_grid",
    "parse_grid",
    "register_kind",
    "run",
]
