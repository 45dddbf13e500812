"""The retransmit / loss-probe timer queues no event while the flow's own traffic will
look at the deadline first (issue 15 speed regression).

The reference is the eager timer used before: every arm that moved the deadline
earlier queued an event, and every early wake-up re-queued one at the deadline (so the
engine's lazy step after an arrival never has a deadline without an event to queue).  Both
must give the same run (traces, probes, RTOs, retransmits) with fewer events.
"""

from __future__ import annotations

import pytest

from structops.sim import LinkConfig, SimConfig, Simulator, receiver
from structops.sim.output import Output
from structops.sim.receiver import TcpReceiver


def _eager_arm(self: Output, deadline: int) -> None:
    self.rto_deadline_ns = deadline
    if self.rto_event_ns < 0 or self.rto_event_ns > deadline:
        self.rto_event_ns = deadline
        self.sim.schedule_rto(self, deadline)


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


_lazy_send_delayed_ack = TcpReceiver._send_delayed_ack


def _eager_send_delayed_ack(self: TcpReceiver) -> None:
    # the reference: the timer's event queued when it is armed, cancelled or not
    _lazy_send_delayed_ack(self)
    if self.delack_due_ns >= 0:
        self.flow.sim.queue_delack(self.flow, self.delack_gen, self.delack_due_ns, self.delack_seq)
        self.delack_due_ns = -1


def _run_ops(cfg: SimConfig, flows: int) -> tuple[list[list[tuple[int, ...]]], list[list[object]], int, int]:
    sim = Simulator(cfg)
    for i in range(flows):
        sim.add_flow(base_rtt_us=20_000 + 3_000 * i, start_us=i * 700, cc="reno")
    for k in range(4):  # short transfers end past the quick-ACK segments: timers fire
        sim.add_flow(base_rtt_us=15_000, start_us=200_000 + 90_000 * k, size_bytes=(17 + k) * 1448, cc="reno")
    writes = [(400_000 + 30_000 * k, 1448 * (1 + k % 4)) for k in range(40)]  # sparse app writes
    for k in range(2):  # twins: their timers expire on the same jiffy, armed in one order
        sim.add_flow(base_rtt_us=12_000, start_us=300_000 + 100 * k, writes=writes, cc="reno")
    sim.run(1_500_000)
    sim.add_flow(base_rtt_us=9_000, start_us=1_600_000, cc="reno")  # one joins between runs
    sim.run(3_000_000)
    return [list(f.trace) for f in sim.flows], [list(f.oplog or ()) for f in sim.flows], sim.events, sim.link_drops


DELACK_CASES = [
    # a receiver that ACKs every 3rd segment: the timer outlives arrivals and is queued late
    pytest.param(
        SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=30), seed=4, trace_ops=True), id="ack3"
    ),
    SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=30), seed=3, trace_ops=True),
    SimConfig(link=LinkConfig(bandwidth_bps=50_000_000, buffer_pkts=200, loss_prob=0.01), seed=5, trace_ops=True),
    SimConfig(link=LinkConfig(bandwidth_bps=5_000_000, buffer_pkts=8), seed=9, proc_jitter_us=0, trace_ops=True),
]


@pytest.mark.parametrize("cfg", DELACK_CASES)
def test_delayed_ack_timer_queued_lazily_gives_the_same_run(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, cfg: SimConfig
) -> None:
    """The delayed-ACK timer takes its place in the event order when armed but is queued
    only once no data of the flow arrives first: the same run (cwnd traces, every op
    call, drops) as queuing it at once, with far fewer events (cancelled timers)."""
    ack3 = request.node.callspec.id == "ack3"
    if ack3:
        monkeypatch.setattr(receiver, "ACK_EVERY", 3)
    deferred: set[tuple[int, int]] = set()
    fired_late = {"n": 0}

    def recording_arm(self: TcpReceiver) -> None:
        _lazy_send_delayed_ack(self)
        if self.delack_due_ns >= 0:
            deferred.add((id(self), self.delack_gen))

    def recording_fire(self: TcpReceiver, gen: int) -> None:
        if (id(self), gen) in deferred and self._delack_armed and gen == self.delack_gen:
            fired_late["n"] += 1
        on_delack(self, gen)

    on_delack = TcpReceiver.on_delack
    monkeypatch.setattr(TcpReceiver, "_send_delayed_ack", recording_arm)
    monkeypatch.setattr(TcpReceiver, "on_delack", recording_fire)
    lazy = _run_ops(cfg, 3)
    if ack3:  # timers deferred past an arrival were queued late and fired
        assert fired_late["n"] > 0
    monkeypatch.setattr(TcpReceiver, "on_delack", on_delack)
    monkeypatch.setattr(TcpReceiver, "_send_delayed_ack", _eager_send_delayed_ack)
    eager = _run_ops(cfg, 3)
    assert lazy[0] == eager[0]
    assert lazy[1] == eager[1]
    assert lazy[3] == eager[3]
    assert lazy[2] < eager[2] * 0.95
