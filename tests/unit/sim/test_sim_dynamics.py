"""Reno dynamics in the simulator, checked against the algorithm's arithmetic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from structops.sim import LinkConfig, SimConfig, Simulator, TcpCongestionOps, TcpSock, reno
from structops.sim.consts import (
    CA_EVENT_COMPLETE_CWR,
    CA_EVENT_LOSS,
    TCP_CA_Disorder,
    TCP_CA_Loss,
    TCP_CA_Open,
    TCP_CA_Recovery,
)

RTT = 100_000  # us
FAST = LinkConfig(bandwidth_bps=10_000_000_000, buffer_pkts=100_000)


def cwnd_at(sim: Simulator, t_us: int) -> int:
    sim.run(t_us)
    return sim.flows[0].tp.snd_cwnd


def test_slow_start_doubles_cwnd_every_rtt() -> None:
    """One ACK per packet, no loss: cwnd(k RTT) = 10 * 2**k while below ssthresh."""
    sim = Simulator(SimConfig(link=FAST, delayed_ack=False, sample_interval_us=0))
    sim.add_flow(base_rtt_us=RTT)
    got = [cwnd_at(sim, k * RTT + RTT // 2) for k in range(6)]
    assert got == [10 * 2**k for k in range(6)]


def ca_from_start() -> TcpCongestionOps:
    ops = reno()
    ops.name = "reno_ca"

    def init(sk: TcpSock) -> None:
        sk.snd_ssthresh = 10  # start in congestion avoidance

    ops.init = init
    return ops


def test_congestion_avoidance_adds_one_segment_per_rtt() -> None:
    sim = Simulator(SimConfig(link=FAST, delayed_ack=False, sample_interval_us=0))
    sim.register_cc(ca_from_start())
    sim.add_flow(base_rtt_us=RTT, cc="reno_ca")
    got = [cwnd_at(sim, k * RTT + RTT // 2) for k in range(12)]
    assert got == [10 + k for k in range(12)]


def test_slow_start_counts_packets_not_acks_with_delayed_acks() -> None:
    """An ACK per 2 segments carries acked=2, so cwnd still doubles per RTT."""
    sim = Simulator(SimConfig(link=FAST, delayed_ack=True, sample_interval_us=0))
    sim.add_flow(base_rtt_us=RTT)
    got = [cwnd_at(sim, k * RTT + RTT // 2) for k in range(5)]
    assert got == [10 * 2**k for k in range(5)]
    assert sim.events < 2 * sum(got)  # about one ACK per two data segments


def recorder(log: list[tuple[str, Any, dict[str, int]]]) -> TcpCongestionOps:
    base = reno()

    def snap(sk: TcpSock) -> dict[str, int]:
        return {"cwnd": sk.snd_cwnd, "ssthresh": sk.snd_ssthresh, "prior": sk.prior_cwnd, "t": sk.tcp_mstamp}

    def ssthresh(sk: TcpSock) -> int:
        log.append(("ssthresh", (), snap(sk)))
        return base.ssthresh(sk)  # type: ignore[misc]

    def set_state(sk: TcpSock, st: int) -> None:
        log.append(("set_state", (st,), snap(sk)))

    def cwnd_event(sk: TcpSock, ev: int) -> None:
        log.append(("cwnd_event", (ev,), snap(sk)))

    return TcpCongestionOps(
        name="rec",
        ssthresh=ssthresh,
        cong_avoid=base.cong_avoid,
        undo_cwnd=base.undo_cwnd,
        set_state=set_state,
        cwnd_event=cwnd_event,
    )


def run_with_drop(
    drop: Callable[[Simulator, Any], None], until_us: int, size: int | None = None, **kw: Any
) -> tuple[Simulator, list[Any]]:
    log: list[Any] = []
    sim = Simulator(SimConfig(link=FAST, delayed_ack=False, sample_interval_us=0, **kw))
    sim.register_cc(recorder(log))
    flow = sim.add_flow(base_rtt_us=RTT, cc="rec", size_bytes=size)
    drop(sim, flow)
    sim.run(until_us)
    return sim, log


def test_fast_retransmit_sets_ssthresh_to_half_cwnd_and_recovers() -> None:
    """Three SACKed segments above a hole -> Recovery with ssthresh = max(cwnd/2, 2)."""
    sim, log = run_with_drop(lambda s, f: s.drop_segment(f, 100), 20 * RTT)
    calls = [entry for entry in log if entry[0] != "cwnd_event" or entry[1] != (0,)]
    # the first SACK moves Open -> Disorder; the third SACKed segment starts recovery
    assert calls[0][:2] == ("set_state", (TCP_CA_Disorder,))
    calls = calls[1:]
    assert calls[0][0] == "ssthresh"
    cwnd_at_loss = calls[0][2]["cwnd"]
    expected = max(cwnd_at_loss // 2, 2)
    assert calls[1] == ("set_state", (TCP_CA_Recovery,), calls[1][2])
    assert calls[1][2]["ssthresh"] == expected
    assert calls[1][2]["prior"] == cwnd_at_loss
    # Leaving recovery (tcp_try_undo_recovery then tcp_end_cwnd_reduction): Open, then
    # cwnd = ssthresh and CA_EVENT_COMPLETE_CWR.
    assert calls[2][:2] == ("set_state", (TCP_CA_Open,))
    assert calls[3][:2] == ("cwnd_event", (CA_EVENT_COMPLETE_CWR,))
    assert calls[3][2]["cwnd"] == expected
    assert calls[3][2]["t"] - calls[1][2]["t"] <= RTT + 1000  # recovery lasted one RTT
    flow = sim.flows[0]
    assert flow.tp.total_retrans == 1 and flow.rto_count == 0
    assert flow.tp.snd_ssthresh == expected
    # ... then congestion avoidance: +1 per RTT from ssthresh
    assert expected < flow.tp.snd_cwnd < expected + 20


def test_tail_loss_probe_repairs_a_lost_tail_without_rto() -> None:
    """Linux's TLP: 2 RTTs after the last send the tail is resent (no new data left);
    its ACK repairs the loss without an RTO and without entering Loss."""
    sim, log = run_with_drop(lambda s, f: s.drop_segment(f, 9), 3_000_000, size=10 * 1448)
    flow = sim.flows[0]
    assert flow.closed and flow.rto_count == 0 and flow.tp.total_retrans == 1
    assert ("set_state", (TCP_CA_Loss,)) not in [(e[0], e[1]) for e in log]
    plain, _ = run_with_drop(lambda s, f: s.drop_segment(f, 9), 3_000_000, size=10 * 1448, tlp=False)
    assert plain.flows[0].rto_count == 1  # without the probe only the RTO repairs it
    assert flow.end_us is not None and plain.flows[0].end_us is not None
    # one segment out: PTO = 2 srtt + 200 ms capped by the RTO, so about the same time,
    # but the probe keeps cwnd (no Loss state: cwnd stays at what slow start reached)
    assert flow.end_us <= plain.flows[0].end_us + 10_000
    assert flow.tp.snd_cwnd > plain.flows[0].tp.snd_cwnd


def test_small_ssthresh_floor_is_two() -> None:
    sk = TcpSock()
    sk.snd_cwnd = 3
    assert reno().ssthresh(sk) == 2  # type: ignore[misc]


def test_rto_enters_loss_with_cwnd_one_and_backs_off() -> None:
    """The tail segment lost three times: no dupacks, so RTOs with doubling intervals
    (no tail loss probe here: this is the RTO path alone)."""
    sim, log = run_with_drop(lambda s, f: s.drop_segment(f, 9, times=3), 10_000_000, size=10 * 1448, tlp=False)
    flow = sim.flows[0]
    losses = [e for e in log if e[0] == "cwnd_event" and e[1] == (CA_EVENT_LOSS,)]
    to_loss = [e for e in log if e[0] == "set_state" and e[1] == (TCP_CA_Loss,)]
    assert flow.rto_count == 3
    assert len(to_loss) == 3
    # ssthresh (and CA_EVENT_LOSS) only on the first RTO of the episode (tcp_enter_loss)
    assert len(losses) == 1
    assert [e[0] for e in log].count("ssthresh") == 1
    t = [e[2]["t"] for e in to_loss]
    first, second = t[1] - t[0], t[2] - t[1]
    assert abs(second - 2 * first) <= 2
    # the first RTO: rto = srtt + max(4*rttvar-ish, 200 ms) with srtt = 100 ms
    assert 300_000 <= t[0] - 100_000 <= 400_000
    assert flow.closed  # the fourth transmission got through and everything was acked


def test_rto_cwnd_is_one_after_timeout() -> None:
    states: list[int] = []

    def probe(sim: Simulator) -> None:
        states.append(sim.flows[0].tp.snd_cwnd)

    def drop(s: Simulator, f: Any) -> None:
        s.drop_segment(f, 9, times=2)

    _sim, log = run_with_drop(drop, 3_000_000, size=10 * 1448, tlp=False)
    loss = next(e for e in log if e[0] == "set_state" and e[1] == (TCP_CA_Loss,))
    # tcp_enter_loss: everything outstanding is marked lost, cwnd = in_flight + 1 = 1,
    # and only then tcp_set_ca_state(TCP_CA_Loss)
    assert loss[2]["cwnd"] == 1
    # Replay the identical run and look at cwnd right after the timeout.
    sim2, _ = run_with_drop(drop, 0, size=10 * 1448, tlp=False)
    sim2.at(loss[2]["t"] + 1, probe)
    sim2.run(loss[2]["t"] + 1)
    assert states == [1]


def test_finite_flow_completes_and_releases() -> None:
    released: list[int] = []
    ops = reno()
    ops.name = "fin"
    ops.release = lambda sk: released.append(sk.sim_flow_id)
    sim = Simulator(SimConfig(link=FAST, sample_interval_us=0))
    sim.register_cc(ops)
    f = sim.add_flow(base_rtt_us=RTT, size_bytes=100 * 1448, cc="fin")
    sim.run(3_000_000)
    assert f.closed and released == [0]
    assert sim.summary()[0].bytes_acked == 100 * 1448


def test_spurious_rto_is_undone_by_the_timestamp_echo() -> None:
    """ACKs delayed past the RTO: the retransmission was spurious, undo_cwnd restores cwnd."""
    log: list[tuple[str, Any, dict[str, int]]] = []
    ops = recorder(log)
    base = reno()

    def undo(sk: TcpSock) -> int:
        log.append(("undo_cwnd", (), {"cwnd": sk.snd_cwnd, "prior": sk.prior_cwnd, "t": sk.tcp_mstamp}))
        return base.undo_cwnd(sk)  # type: ignore[misc]

    ops.undo_cwnd = undo
    sim = Simulator(SimConfig(link=LinkConfig(bandwidth_bps=10_000_000, buffer_pkts=1000), sample_interval_us=0))
    sim.register_cc(ops)
    flow = sim.add_flow(base_rtt_us=20_000, cc="rec")

    def spike(s: Simulator) -> None:
        flow.rev_delay_ns += 1_000_000_000  # the ACK path suddenly takes 1 s longer

    sim.at(1_000_000, spike)
    sim.run(4_000_000)
    names = [(e[0], e[1]) for e in log[1:]]
    assert names == [
        ("ssthresh", ()),
        ("cwnd_event", (CA_EVENT_LOSS,)),
        ("set_state", (TCP_CA_Loss,)),
        ("cwnd_event", (0,)),  # CA_EVENT_TX_START: the retransmission left with nothing in flight
        ("undo_cwnd", ()),
        ("set_state", (TCP_CA_Open,)),
    ]
    cwnd_before_rto = log[1][2]["cwnd"]
    assert log[5][2]["prior"] == cwnd_before_rto
    assert log[6][2]["cwnd"] == cwnd_before_rto  # tcp_reno_undo_cwnd = max(cwnd, prior_cwnd)
    assert flow.rto_count == 1 and flow.tp.total_retrans == 1
    assert flow.tp.dsack_dups == 1  # the receiver D-SACKed the duplicate
