"""A deterministic CPU-scheduling simulator driving the embedded kernel's sched_ext.

:class:`~structops.schedsim.machine.Machine` holds CPUs and tasks on one simulated
clock; :mod:`.workload` reads TOML workloads; :mod:`.report` summarises a run.
"""
