"""Kernel-detected scheduler errors and exits (SX-R11, SX-R12, SX-E12, SX-D7-SX-D9, SX-K31).

The schedulers are Python ops on the same core and kfuncs (structops.schedsim.pyops),
so each rule is exercised without compiling a BPF object per case.
"""

from __future__ import annotations

import errno
from typing import Any

import pytest

from structops.kernel.subsys.sched_ext import consts as C
from structops.schedsim import SchedSim
from structops.schedsim.pyops import PythonScheduler, attach_python

LOCAL = C.SCX_DSQ_LOCAL
M64 = (1 << 64) - 1


def _run(cls: type[PythonScheduler], ms: int = 50) -> Any:
    with SchedSim(cpus=2, seed=1) as sim:
        sim.add_group("hog", count=4)
        sim.run("1ms")
        sch = attach_python(sim.machine, cls(sim.machine))
        sim.run(f"{ms}ms")
        assert all(t.sched_class == "fair" for t in sim.tasks) == bool(sch.exit.kind)
        return sch.exit


class _Shared(PythonScheduler):
    def init(self) -> int:
        return self.kf("scx_bpf_create_dsq", 0, M64)

    def dispatch(self, cpu: int, prev: int) -> int:
        self.kf("scx_bpf_dsq_move_to_local", 0)
        return 0


def test_enq_last_without_enqueue_sx_r12() -> None:
    """SX-R12/SX-R11: the attach succeeds and the scheduler is already ejected."""

    class S(PythonScheduler):
        flags = C.SCX_OPS_ENQ_LAST

    ex = _run(S)
    assert (ex.kind, ex.msg) == (C.SCX_EXIT_ERROR, "SCX_OPS_ENQ_LAST requires ops.enqueue() to be implemented")


@pytest.mark.parametrize(
    ("ret", "msg"), [(-12, "ops.init() failed (-12)"), (5, "ops.init() returned an invalid errno 5")]
)
def test_init_failure_sx_e12(ret: int, msg: str) -> None:
    """SX-E12: errnos pass through; other values are themselves the (first) error."""

    class S(PythonScheduler):
        def init(self) -> int:
            return ret & 0xFFFFFFFF

    ex = _run(S)
    assert (ex.kind, ex.msg, ex.flags & C.SCX_EFLAG_INITIALIZED) == (C.SCX_EXIT_ERROR, msg, 0)


def test_fifo_insert_into_priq_dsq_sx_d7() -> None:
    """SX-D7: a FIFO insert into a DSQ holding vtime-ordered tasks is an error."""

    class S(_Shared):
        n = 0

        def enqueue(self, p: int, enq_flags: int) -> int:
            self.n += 1
            if self.n % 2:
                self.kf("scx_bpf_dsq_insert_vtime", p, 0, 0, self.n, 0)
            else:
                self.kf("scx_bpf_dsq_insert", p, 0, 0, 0)
            return 0

    ex = _run(S)
    assert (ex.kind, ex.msg) == (C.SCX_EXIT_ERROR, "DSQ ID 0x0000000000000000 already had PRIQ-enqueued tasks")


def test_vtime_into_builtin_dsq_sx_d8() -> None:
    """SX-D8: vtime ordering into a local DSQ is an error."""

    class S(PythonScheduler):
        def enqueue(self, p: int, enq_flags: int) -> int:
            self.kf("scx_bpf_dsq_insert_vtime", p, LOCAL, 0, 1, 0)
            return 0

    ex = _run(S)
    assert (ex.kind, ex.msg) == (C.SCX_EXIT_ERROR, "cannot use vtime ordering for built-in DSQs")


def test_bogus_dsq_sx_d9() -> None:
    """SX-D9: an unknown user DSQ id is an error naming it and the task."""

    class S(PythonScheduler):
        def enqueue(self, p: int, enq_flags: int) -> int:
            self.kf("scx_bpf_dsq_insert", p, 0x1234, 0, 0)
            return 0

    ex = _run(S)
    assert ex.kind == C.SCX_EXIT_ERROR and ex.msg.startswith("non-existent DSQ 0x1234 for hog")


def test_double_direct_dispatch_sx_d11() -> None:
    """SX-D11: a second insert of the same task in one enqueue is an error."""

    class S(PythonScheduler):
        def enqueue(self, p: int, enq_flags: int) -> int:
            self.kf("scx_bpf_dsq_insert", p, LOCAL, 0, 0)
            self.kf("scx_bpf_dsq_insert", p, LOCAL, 0, 0)
            return 0

    ex = _run(S)
    assert ex.kind == C.SCX_EXIT_ERROR and ex.msg.endswith("already direct-dispatched")


def test_destroy_in_use_dsq_keeps_it_sx_d5() -> None:
    """SX-D5: destroying a DSQ that holds tasks is an error ("in-use")."""

    class S(_Shared):
        def enqueue(self, p: int, enq_flags: int) -> int:
            self.kf("scx_bpf_dsq_insert", p, 0, 0, 0)  # applied when enqueue returns (SX-D11)
            return 0

        def dispatch(self, cpu: int, prev: int) -> int:
            if self.kf("scx_bpf_dsq_nr_queued", 0):
                self.kf("scx_bpf_destroy_dsq", 0)
            return super().dispatch(cpu, prev)

    ex = _run(S)
    assert ex.kind == C.SCX_EXIT_ERROR and ex.msg.startswith("attempting to destroy in-use dsq 0x0000000000000000")


def test_kick_idle_with_preempt_sx_k17() -> None:
    """SX-K17: SCX_KICK_IDLE cannot be combined with PREEMPT or WAIT."""

    class S(PythonScheduler):
        def enqueue(self, p: int, enq_flags: int) -> int:
            self.kf("scx_bpf_kick_cpu", 0, C.SCX_KICK_IDLE | C.SCX_KICK_PREEMPT)
            return 0

    ex = _run(S)
    assert (ex.kind, ex.msg) == (C.SCX_EXIT_ERROR, "PREEMPT/WAIT cannot be used with SCX_KICK_IDLE")


def test_nr_queued_of_global_is_enoent_sx_k15() -> None:
    """SX-K15: SCX_DSQ_GLOBAL is not countable (-ENOENT); a user DSQ is."""
    seen: list[int] = []

    class S(_Shared):
        def enqueue(self, p: int, enq_flags: int) -> int:
            self.kf("scx_bpf_dsq_insert", p, 0, 0, 0)
            seen.append(self.kf("scx_bpf_dsq_nr_queued", C.SCX_DSQ_GLOBAL) & 0xFFFFFFFF)
            seen.append(self.kf("scx_bpf_dsq_nr_queued", 0))
            return 0

    assert _run(S).kind == 0
    assert seen[0] == -errno.ENOENT & 0xFFFFFFFF and seen[1] >= 0
