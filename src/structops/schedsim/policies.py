"""Reference sched_ext policies written in Python (:mod:`structops.schedsim.pyops`).

:class:`VtimePy` is ``testdata/sched/sx_vtime.bpf.c`` callback for callback, so the BPF
example and this twin make the same decisions on the same machine (a test checks it),
and ``benchmarks/sched_sim.py`` measures what the VM costs over plain Python.
"""

from __future__ import annotations

from structops.schedsim.machine import Machine
from structops.schedsim.pyops import PythonScheduler

__all__ = ["VtimePy"]

SLICE = 20_000_000
DSQ = 0
LOCAL = (1 << 63) | 2
M64 = (1 << 64) - 1


class VtimePy(PythonScheduler):
    """``sx_vtime.bpf.c`` in Python (weighted vtime over one shared DSQ)."""

    name = "sx_vtime_py"

    def __init__(self, machine: Machine) -> None:
        super().__init__(machine)
        self.vtime_now = 0
        self.scratch = machine.scratch(8)

    def select_cpu(self, p: int, prev_cpu: int, wake_flags: int) -> int:
        self.scratch.buf[0] = 0
        cpu = self.kf("scx_bpf_select_cpu_dfl", p, prev_cpu, wake_flags, self.scratch.addr)
        if self.scratch.buf[0]:
            self.kf("scx_bpf_dsq_insert", p, LOCAL, SLICE, 0)
        return cpu

    def enqueue(self, p: int, enq_flags: int) -> int:
        vtime = self.task(p).dsq_vtime
        floor = (self.vtime_now - SLICE) & M64
        if ((vtime - floor) & M64) >> 63:
            vtime = floor
        self.kf("scx_bpf_dsq_insert_vtime", p, DSQ, SLICE, vtime, enq_flags)
        return 0

    def dispatch(self, cpu: int, prev: int) -> int:
        self.kf("scx_bpf_dsq_move_to_local", DSQ)
        return 0

    def running(self, p: int) -> int:
        v = self.task(p).dsq_vtime
        if ((self.vtime_now - v) & M64) >> 63:
            self.vtime_now = v
        return 0

    def stopping(self, p: int, runnable: int) -> int:
        t = self.task(p)
        weight = int.from_bytes(t.kstruct.buf[t.layout.weight : t.layout.weight + 4], "little")  # type: ignore[union-attr]
        t.dsq_vtime = (t.dsq_vtime + (SLICE - t.slice) * 100 // weight) & M64
        return 0

    def enable(self, p: int) -> int:
        self.task(p).dsq_vtime = self.vtime_now
        return 0

    def init(self) -> int:
        return _s32(self.kf("scx_bpf_create_dsq", DSQ, M64))


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v
