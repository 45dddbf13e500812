"""Native DCTCP (RFC 8257 / net/ipv4/tcp_dctcp.c facts): alpha, the alpha/2 cut, the
receiver's CE-state ACKs (issue 15, item 3)."""

from __future__ import annotations

import struct

from structops.sim import LinkConfig, SimConfig, Simulator, TcpSock
from structops.sim.consts import (
    CA_EVENT_ECN_IS_CE,
    CA_EVENT_ECN_NO_CE,
    ICSK_ACK_NOW,
    ICSK_ACK_TIMER,
    TCP_ECN_DEMAND_CWR,
    TCP_CA_Recovery,
)
from structops.sim.dctcp import dctcp

DC = dctcp()


def _priv(sk: TcpSock) -> tuple[int, ...]:
    return struct.unpack_from("<7I", sk.icsk_ca_priv, 0)


def test_alpha_is_a_moving_average_of_the_ce_fraction() -> None:
    sk = TcpSock()
    assert DC.init is not None and DC.in_ack_event is not None
    DC.init(sk)
    assert _priv(sk)[3] == 1024
    for _ in range(200):  # windows of 100 delivered packets, 25 CE-marked
        sk.snd_una = sk.snd_nxt
        sk.snd_nxt += 100 * 1448
        sk.delivered += 100
        sk.delivered_ce += 25
        DC.in_ack_event(sk, 0)
    assert abs(_priv(sk)[3] - 256) <= 16  # alpha -> 1024 * 25 %


def test_ssthresh_cuts_by_half_alpha_and_loss_halves() -> None:
    sk = TcpSock()
    assert DC.init is not None and DC.ssthresh is not None and DC.set_state is not None
    DC.init(sk)
    sk.snd_cwnd = 100
    assert DC.ssthresh(sk) == 100 - (100 * 1024 >> 11)  # alpha 1: halve
    DC.set_state(sk, TCP_CA_Recovery)
    assert sk.snd_ssthresh == 50
    assert DC.undo_cwnd is not None
    sk.snd_cwnd = 10
    assert DC.undo_cwnd(sk) == 100


def test_receiver_acks_at_once_when_the_ce_state_changes() -> None:
    sent: list[int] = []
    sk = TcpSock()
    sk._send_ack_hook = lambda: sent.append(sk.ecn_flags)
    assert DC.init is not None and DC.cwnd_event is not None
    DC.init(sk)
    sk.icsk_ack_pending = ICSK_ACK_TIMER  # a delayed ACK is pending
    DC.cwnd_event(sk, CA_EVENT_ECN_IS_CE)
    assert sent == [0]  # the pending ACK went out with the old (no CE) state
    assert sk.icsk_ack_pending & ICSK_ACK_NOW and sk.ecn_flags & TCP_ECN_DEMAND_CWR
    sk.icsk_ack_pending = 0
    DC.cwnd_event(sk, CA_EVENT_ECN_IS_CE)  # no change: no forced ACK
    assert sk.icsk_ack_pending == 0
    DC.cwnd_event(sk, CA_EVENT_ECN_NO_CE)
    assert sk.icsk_ack_pending & ICSK_ACK_NOW and not sk.ecn_flags & TCP_ECN_DEMAND_CWR


def test_dctcp_keeps_the_queue_near_the_marking_threshold() -> None:
    link = LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=100, ecn_threshold_pkts=10)
    sim = Simulator(SimConfig(link=link, seed=2))
    sim.register_cc(dctcp())
    flows = [sim.add_flow(base_rtt_us=20_000, cc="dctcp") for _ in range(2)]
    sim.run(5_000_000)
    assert sim.link_drops == 0 and sim.link_marks > 0
    assert sim.utilisation() > 0.9
    assert all(f.tp.total_retrans == 0 for f in flows)
    assert max(q for _, q in sim.queue_trace[100:]) <= 30
