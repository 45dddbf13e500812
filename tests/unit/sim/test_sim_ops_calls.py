"""Where and in which order the simulator calls tcp_congestion_ops (tcp_input.c order)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from structops.sim import LinkConfig, RateSample, SimConfig, Simulator, TcpCongestionOps, TcpSock, reno
from structops.sim.consts import (
    CA_ACK_ECE,
    CA_ACK_SLOWPATH,
    CA_ACK_WIN_UPDATE,
    CA_EVENT_CWND_RESTART,
    CA_EVENT_ECN_IS_CE,
    CA_EVENT_ECN_NO_CE,
    CA_EVENT_TX_START,
    FLAG_DATA_ACKED,
    FLAG_SND_UNA_ADVANCED,
    TCP_CA_CWR,
    TCP_CONG_NEEDS_ECN,
    TCP_ECN_OK,
    TCP_CA_Recovery,
)
from structops.sim.sock import AckSample

FAST = LinkConfig(bandwidth_bps=1_000_000_000, buffer_pkts=10_000)


def ops_between(log: list[Any], first: int, last: int) -> list[str]:
    return [e[0] for e in log[first:last]]


def test_one_ack_calls_pkts_acked_then_in_ack_event_then_cong_avoid(
    make_recording: Callable[..., TcpCongestionOps],
) -> None:
    """tcp_clean_rtx_queue (pkts_acked) < tcp_in_ack_event < tcp_cong_control (cong_avoid)."""
    log: list[Any] = []
    sim = Simulator(SimConfig(link=FAST, delayed_ack=False, sample_interval_us=0))
    sim.register_cc(make_recording("rec", log))
    sim.add_flow(base_rtt_us=10_000, cc="rec")
    sim.run(100_000)
    names = [e[0] for e in log]
    assert names[:2] == ["init", "cwnd_event"]  # init at connect, TX_START on the first send
    assert log[1][1] == (CA_EVENT_TX_START,)
    acks = names[2:]
    assert len(acks) % 3 == 0 and len(acks) > 30
    for i in range(0, len(acks), 3):
        assert acks[i : i + 3] == ["pkts_acked", "in_ack_event", "cong_avoid"]
    first_pa = next(e for e in log if e[0] == "pkts_acked")
    sample = first_pa[1][0]
    assert isinstance(sample, AckSample)
    assert sample.pkts_acked == 1
    assert 10_000 <= sample.rtt_us <= 10_100
    in_ack = next(e for e in log if e[0] == "in_ack_event")
    assert in_ack[1] == (CA_ACK_WIN_UPDATE,)  # fast path: pure cumulative ACK
    ca = next(e for e in log if e[0] == "cong_avoid")
    assert ca[1][1] == 1  # acked


def test_cong_control_replaces_cong_avoid_and_gets_rate_sample(
    make_recording: Callable[..., TcpCongestionOps],
) -> None:
    log: list[Any] = []
    samples: list[tuple[int, int, RateSample]] = []

    def ctl(sk: TcpSock, ack: int, flag: int, rs: RateSample) -> None:
        samples.append((ack, flag, rs))
        sk.snd_cwnd = 20

    sim = Simulator(SimConfig(link=FAST, delayed_ack=False, sample_interval_us=0))
    sim.register_cc(make_recording("ctl", log, cong_control=ctl))
    flow = sim.add_flow(base_rtt_us=10_000, cc="ctl")
    sim.run(200_000)
    names = {e[0] for e in log}
    assert "cong_avoid" not in names
    assert flow.tp.snd_cwnd == 20
    ack, flag, rs = samples[-1]
    assert ack == flow.tp.snd_una
    assert flag & FLAG_DATA_ACKED and flag & FLAG_SND_UNA_ADVANCED
    assert rs.acked_sacked == 1 and rs.losses == 0 and not rs.is_app_limited
    # a window of 20 packets per ~10.2 ms RTT: the sample covers ~one RTT and ~20 packets
    assert 19 <= rs.delivered <= 21
    assert 9_900 <= rs.interval_us <= 10_500
    assert rs.prior_in_flight == 20
    assert 10_000 <= rs.rtt_us <= 10_500


def test_absent_optional_ops_are_skipped() -> None:
    ops = reno()
    ops.name = "bare"
    sim = Simulator(SimConfig(link=FAST, trace_ops=True, sample_interval_us=0))
    sim.register_cc(ops)
    flow = sim.add_flow(cc="bare")
    sim.run(300_000)
    called = {entry[2] for entry in flow.oplog or ()}
    assert called == {"cong_avoid"}  # no init, pkts_acked, in_ack_event, set_state ...


def test_recovery_entry_order(make_recording: Callable[..., TcpCongestionOps]) -> None:
    """On the ACK that starts recovery: pkts_acked, in_ack_event, ssthresh, set_state(Recovery)."""
    log: list[Any] = []
    sim = Simulator(SimConfig(link=FAST, delayed_ack=False, sample_interval_us=0))
    sim.register_cc(make_recording("rec", log))
    flow = sim.add_flow(base_rtt_us=10_000, cc="rec")
    sim.drop_segment(flow, 40)
    sim.run(200_000)
    k = next(i for i, e in enumerate(log) if e[0] == "ssthresh")
    assert ops_between(log, k - 2, k + 2) == ["pkts_acked", "in_ack_event", "ssthresh", "set_state"]
    assert log[k - 1][1] == (CA_ACK_SLOWPATH,)  # SACK-carrying ACK takes the slow path
    assert log[k + 1][1] == (TCP_CA_Recovery,)
    assert log[k + 1][2]["state"] != TCP_CA_Recovery  # set_state runs before the switch
    # during recovery PRR sets cwnd: no cong_avoid until the state is left
    j = next(i for i, e in enumerate(log) if i > k and e[0] == "set_state")
    assert "cong_avoid" not in ops_between(log, k, j)


def test_ecn_marks_raise_ce_events_on_receiver_and_cwr_on_sender(
    make_recording: Callable[..., TcpCongestionOps],
) -> None:
    """A NEEDS_ECN CC gets CA_EVENT_ECN_IS_CE/NO_CE on the receiving socket; ECE -> CWR."""
    log: list[Any] = []
    link = LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=200, ecn_threshold_pkts=10)
    sim = Simulator(SimConfig(link=link, sample_interval_us=0))
    sim.register_cc(make_recording("ecncc", log, flags=TCP_CONG_NEEDS_ECN))
    flow = sim.add_flow(base_rtt_us=20_000, cc="ecncc")
    sim.run(2_000_000)
    assert flow.tp.ecn_flags & TCP_ECN_OK
    rcv_events = [e[1][0] for e in log if e[0] == "cwnd_event" and e[2]["role"] == 1]
    assert CA_EVENT_ECN_IS_CE in rcv_events and CA_EVENT_ECN_NO_CE in rcv_events
    assert sim.link_marks > 0 and sim.link_drops == 0
    assert 0 < sum(e == CA_EVENT_ECN_IS_CE for e in rcv_events) <= sim.link_marks  # some still in flight
    inits = [e[2]["role"] for e in log if e[0] == "init"]
    assert inits == [0, 1]  # both ends run the CC
    snd = [e for e in log if e[2]["role"] == 0]
    assert any(e[0] == "set_state" and e[1] == (TCP_CA_CWR,) for e in snd)
    assert any(e[0] == "in_ack_event" and e[1][0] & CA_ACK_ECE for e in snd)
    assert flow.tp.delivered_ce > 0


def test_plain_ecn_without_needs_ecn_gets_no_ce_events(
    make_recording: Callable[..., TcpCongestionOps],
) -> None:
    log: list[Any] = []
    link = LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=200, ecn_threshold_pkts=10)
    sim = Simulator(SimConfig(link=link, ecn=True, sample_interval_us=0))
    sim.register_cc(make_recording("rec", log))
    sim.add_flow(base_rtt_us=20_000, cc="rec")
    sim.run(1_000_000)
    assert sim.link_marks > 0
    assert not [e for e in log if e[2]["role"] == 1]
    assert any(e[0] == "set_state" and e[1] == (TCP_CA_CWR,) for e in log)


def test_idle_restart_events(make_recording: Callable[..., TcpCongestionOps]) -> None:
    """Sending after idle: TX_START; an idle longer than the RTO first restarts cwnd."""
    log: list[Any] = []
    sim = Simulator(SimConfig(link=FAST, sample_interval_us=0))
    sim.register_cc(make_recording("rec", log))
    flow = sim.add_flow(base_rtt_us=10_000, size_bytes=200 * 1448, cc="rec", writes=[(2_000_000, 50 * 1448)])
    sim.run(1_900_000)
    cwnd_before = flow.tp.snd_cwnd
    assert cwnd_before > 10
    sim.run(3_000_000)
    events = [(e[1][0], e[2]["t"]) for e in log if e[0] == "cwnd_event"]
    assert [ev for ev, _ in events] == [CA_EVENT_TX_START, CA_EVENT_CWND_RESTART, CA_EVENT_TX_START]
    assert events[1][1] == events[2][1] == 2_000_000
    assert flow.closed
    assert [e[0] for e in log].count("release") == 1
