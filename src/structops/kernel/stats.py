"""BPF_ENABLE_STATS and the run-time statistics switch of the embedded kernel.

Linux counts ``run_cnt`` and ``run_time_ns`` of a program only while the
``bpf_stats_enabled_key`` static key is on: while any fd from ``BPF_ENABLE_STATS``
(type ``BPF_STATS_RUN_TIME``) is open, or while the ``kernel.bpf_stats_enabled`` sysctl
is 1.  Measured on Linux 6.18 here: a dummy_ops test_run leaves run_cnt at 0 with stats
off, counts while the fd is open, and stops counting (keeping the totals) once it is
closed; type 1 is EINVAL; the fd's fdinfo shows ``flags: 02000000`` and nothing else.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from structops.errors import bpf_error
from structops.kernel.objects import KObject
from structops.kernel.services import CAP_SYS_ADMIN

if TYPE_CHECKING:
    from structops.abi.attrs import EnableStatsAttr
    from structops.kernel.emulated import EmulatedKernel, Process

__all__ = ["BPF_STATS_RUN_TIME", "StatsSwitch", "sys_enable_stats"]

BPF_STATS_RUN_TIME = 0


class StatsSwitch:
    """``bpf_stats_enabled_key``: on while an enable fd is open or the sysctl says so."""

    def __init__(self) -> None:
        self.fds = 0
        #: ``/proc/sys/kernel/bpf_stats_enabled``.
        self.sysctl = False

    @property
    def enabled(self) -> bool:
        """Whether programs' run_cnt / run_time_ns are being counted."""
        return self.sysctl or self.fds > 0


class StatsFile(KObject):
    """The anonymous ``bpf-stats`` file: closing its last fd turns the switch back."""

    KIND = "stats"

    def __init__(self, kernel: EmulatedKernel) -> None:
        super().__init__(kernel)
        self._switch = kernel.stats
        self._switch.fds += 1

    def put(self) -> None:
        """Drop a reference; the last one releases the switch (the file has no id)."""
        with self._lock:
            self.refcnt -= 1
            last = self.refcnt == 0
        if last and not self.freed:
            self.freed = True
            self._switch.fds -= 1


def sys_enable_stats(proc: Process, attr: EnableStatsAttr) -> int:
    """BPF_ENABLE_STATS: CAP_SYS_ADMIN (EPERM); only BPF_STATS_RUN_TIME (EINVAL)."""
    if not proc.capable(CAP_SYS_ADMIN):
        raise bpf_error(errno.EPERM, "enabling run-time statistics needs CAP_SYS_ADMIN")
    if attr.type != BPF_STATS_RUN_TIME:
        raise bpf_error(errno.EINVAL, f"unknown statistics type {attr.type} (only 0, run time)")
    return proc.install(StatsFile(proc.kernel), new=True, writable=False)
