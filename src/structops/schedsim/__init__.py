"""A deterministic CPU-scheduling simulator driving the embedded kernel's sched_ext.

:class:`SchedSim` is the API (attach a scheduler, run, inspect tasks, DSQs and maps);
:class:`~structops.schedsim.machine.Machine` holds CPUs and tasks on one simulated
clock; :mod:`.workload` reads TOML workloads; :mod:`.report` summarises a run;
:mod:`.examples` names the shipped example schedulers.
"""

from structops.schedsim.examples import EXAMPLES, example_path
from structops.schedsim.session import SchedSim

__all__ = ["EXAMPLES", "SchedSim", "example_path"]
