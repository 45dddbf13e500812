"""structops.run: the main job -- a BPF congestion control driving simulated TCP flows.

``run_job(RunConfig(obj=...))`` loads a ``tcp_congestion_ops`` object on the embedded
kernel, registers it, simulates flows whose sockets live in kernel memory, optionally
hot-swaps the struct_ops map with ``BPF_LINK_UPDATE``, and returns the results;
:mod:`structops.run.report` prints them, writes the CSV trace and the plot.  The
``structops run`` command (:mod:`structops.cli.run`) is the command-line face.
Example objects ship in ``structops/run/examples`` (:func:`example_path`).
"""

from __future__ import annotations

from structops.run.config import DIRECTIONS, EXAMPLES, RunConfig, example_path, parse_rate, parse_time_us
from structops.run.job import FlowResult, RunResult, run_job
from structops.run.report import print_summary, print_timing, struct_ops_show, write_csv, write_plot

__all__ = [
    "DIRECTIONS",
    "EXAMPLES",
    "FlowResult",
    "RunConfig",
    "RunResult",
    "example_path",
    "parse_rate",
    "parse_time_us",
    "print_summary",
    "print_timing",
    "run_job",
    "struct_ops_show",
    "write_csv",
    "write_plot",
]
