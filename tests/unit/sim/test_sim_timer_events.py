"""The retransmit / loss-probe timer queues no event while the flow's own traffic will
look at the deadline first (issue 15 speed regression).

The reference is the eager timer used before: every arm that moved the deadline
earlier queued an event, and every early wake-up re-queued one at the deadline (so the
engine's lazy step after an arrival never has a deadline without an event to queue).  Both
must give the same run (traces, probes, RTOs, retransmits) with fewer events.
"""

from __future__ import annotations

import pytest

from structops.sim import LinkConfig, SimConfig, Simulator
from structops.sim.output import Output


def _eager_arm(self: Output, deadline: int) -> None:
    self.rto_deadline_ns = deadline
    if self.rto_event_ns < 0 or self.rto_event_ns > deadline:
        self.rto_event_ns = deadline
        self.sim.schedule_rto(self, deadline)


_lazy_schedule_loss_probe = Output._schedule_loss_probe


def _eager_schedule_loss_probe(self: Output, advancing_rto: bool) -> bool:
    # the probe path arms the deadline itself (``_arm_timer`` inlined): queue eagerly here
    armed = _lazy_schedule_loss_probe(self, advancing_rto)
    if armed:
        _eager_arm(self, self.rto_deadline_ns)
    return armed


Outcome = tuple[list[list[tuple[int, ...]]], int, list[tuple[int, int, int]]]


def _run(*, loss: float, tlp: bool, flows: int, bufpk: int) -> Outcome:
    cfg = SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=bufpk, loss_prob=loss), tlp=tlp, seed=3)
    sim = Simulator(cfg)
    for i in range(flows):
        sim.add_flow(base_rtt_us=20_000 + 3_000 * i, start_us=i * 700, cc="reno")
    sim.run(3_000_000)
    traces: list[list[tuple[int, ...]]] = [list(f.trace) for f in sim.flows]
    counts = [(f.rto_count, f.tp.total_retrans, f.tp.total_rto) for f in sim.flows]
    return traces, sim.events, counts


CASES = [(0.0, True, 4, 30), (0.01, True, 3, 200), (0.02, False, 2, 60), (0.0, True, 1, 8)]


@pytest.mark.parametrize(("loss", "tlp", "flows", "bufpk"), CASES)
def test_lazy_timer_same_run_as_eager_with_fewer_events(
    monkeypatch: pytest.MonkeyPatch, loss: float, tlp: bool, flows: int, bufpk: int
) -> None:
    lazy = _run(loss=loss, tlp=tlp, flows=flows, bufpk=bufpk)
    monkeypatch.setattr(Output, "_arm_timer", _eager_arm)
    monkeypatch.setattr(Output, "_schedule_loss_probe", _eager_schedule_loss_probe)
    eager = _run(loss=loss, tlp=tlp, flows=flows, bufpk=bufpk)
    assert lazy[0] == eager[0]
    assert lazy[2] == eager[2]
    assert lazy[1] < eager[1]
    if loss:
        assert sum(c[1] for c in lazy[2]) > 0  # losses were repaired, so the timer mattered


def test_early_wakeups_are_rare_in_bulk_transfer() -> None:
    """With TLP the deadline moves on every send; the flow's ACKs carry it, so the
    timer wakes early only a few times (it used to wake about once per RTT per flow)."""
    woke = {"early": 0, "all": 0}
    orig = Output.on_rto_event

    def counting(self: Output) -> None:
        woke["all"] += 1
        if self.rto_event_ns == self.sim.now and self.rto_deadline_ns > self.sim.now:
            woke["early"] += 1
        orig(self)

    mp = pytest.MonkeyPatch()
    mp.setattr(Output, "on_rto_event", counting)
    try:
        sim = Simulator(SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=100), sample_interval_us=0))
        for i in range(10):
            sim.add_flow(base_rtt_us=20_000, start_us=i * 100, cc="reno")
        sim.run(3_000_000)
    finally:
        mp.undo()
    rtts_per_flow = 3_000_000 // 20_000
    assert woke["early"] < 10 * rtts_per_flow // 10
    assert woke["early"] < sim.events // 50
