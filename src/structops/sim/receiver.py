"""TcpReceiver: the data receiver of one simulated connection (ACK generation).

Models what the sender's congestion control depends on: cumulative ACKs, one SACK
block per ACK (the out-of-order segment that triggered it; the simulator never
loses ACKs, so one block per ACK carries all SACK information), D-SACK for
duplicates, Linux's delayed-ACK rules (``tcp_event_data_recv``, ``__tcp_ack_snd_check``,
``tcp_send_delayed_ack``, ``tcp_delack_timer_handler``): an ACK for every 2nd full
segment, at once for out-of-order data and hole fills, quick-ACK mode (an ACK per
segment) for the first 16 segments of a connection (``TCP_MAX_QUICKACKS``) and again
after an idle gap longer than the RTO, the adaptive ``ato`` (starts at ``TCP_ATO_MIN`` =
``delack_us``, halves toward it on back-to-back data, doubles when the timer fires)
capped by the receiver's RTT (never below ``TCP_DELACK_MIN``), the timer expiring on a
jiffy; the TCP
timestamp echo (``ts_recent``), and RFC 3168 ECN: ``tcp_ecn_accept_cwr`` then
``tcp_data_ecn_check`` which raises ``CA_EVENT_ECN_IS_CE`` / ``CA_EVENT_ECN_NO_CE``
on the receiver socket's CC when that CC has ``TCP_CONG_NEEDS_ECN``
(net/ipv4/tcp_input.c), and echoes ECE while ``TCP_ECN_DEMAND_CWR`` is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from structops.sim.consts import (
    CA_EVENT_ECN_IS_CE,
    CA_EVENT_ECN_NO_CE,
    ICSK_ACK_NOW,
    ICSK_ACK_SCHED,
    ICSK_ACK_TIMER,
    TCP_ECN_DEMAND_CWR,
    TCP_ECN_OK,
    TCP_ECN_SEEN,
    U32,
)
from structops.sim.sock import TcpSock

if TYPE_CHECKING:
    from structops.sim.flow import TcpFlow


TCP_MAX_QUICKACKS = 16
#: in-order segments a delayed ACK waits for (``__tcp_ack_snd_check``: more than one
#: full-sized segment received); tests raise it to exercise a timer outliving arrivals
ACK_EVERY = 2
_ECE_BITS = TCP_ECN_OK | TCP_ECN_DEMAND_CWR  # echo ECE while both are set


class TcpReceiver:
    """Receiver half of a :class:`~structops.sim.flow.TcpFlow`."""

    __slots__ = (
        "_delack_armed",
        "ato",
        "ato_min",
        "delack_due_ns",
        "delack_gen",
        "delack_seq",
        "delayed_ack",
        "flow",
        "hz",
        "lrcvtime",
        "ooo",
        "pending",
        "quick",
        "rcv_nxt_i",
        "rto_j",
        "sk",
        "srtt_j",
        "ts_recent",
        "wants_ce_events",
    )

    def __init__(self, flow: TcpFlow, sk: TcpSock, wants_ce_events: bool) -> None:
        self.flow = flow
        self.sk = sk
        self.rcv_nxt_i = 0
        self.ooo: dict[int, None] = {}
        self.pending = 0
        self.quick = 0
        self.ts_recent = 0
        self.delack_gen = 0
        self._delack_armed = False
        self.delack_due_ns = -1  # an armed timer whose event is not queued yet (see _send_delayed_ack)
        self.delack_seq = 0
        self.wants_ce_events = wants_ce_events
        hz = self.hz = flow.sim.config.hz
        self.delayed_ack = flow.sim.config.delayed_ack
        self.ato = 0  # icsk_ack.ato in jiffies; 0 = no data seen yet
        self.ato_min = max(1, flow.sim.config.delack_us * hz // 1_000_000)  # TCP_ATO_MIN
        self.lrcvtime = 0
        # the receiver's RTT estimate and RTO come from the handshake (tcp_synack_rtt_meas)
        self.srtt_j = -(-flow.base_rtt_us * hz // 1_000_000)
        self.rto_j = max(1, flow.rto_us * hz // 1_000_000)
        sk._send_ack_hook = self._ack_now

    def _ack_now(self) -> None:
        self.send_ack(-1, -1)

    def on_data(self, idx: int, tsval: int, ce: int, cwr: int, ect: int) -> None:
        """A data segment ``idx`` arrived (tcp_rcv_established / tcp_data_queue)."""
        sk = self.sk
        flow = self.flow
        now = flow.sim.now
        sk.tcp_clock_cache = now  # tcp_mstamp_refresh
        sk.tcp_mstamp = now // 1000
        if idx < self.rcv_nxt_i or idx in self.ooo:
            # Duplicate: D-SACK it at once (tcp_dsack_set + quick ACK).
            self.send_ack(-1, idx)
            return
        if sk.ecn_flags & TCP_ECN_OK:
            if cwr:  # tcp_ecn_accept_cwr
                sk.ecn_flags &= ~TCP_ECN_DEMAND_CWR
            if ect:  # tcp_data_ecn_check
                if ce:
                    if self.wants_ce_events:
                        flow.call_op(sk, "cwnd_event", CA_EVENT_ECN_IS_CE)
                    if not sk.ecn_flags & TCP_ECN_DEMAND_CWR:
                        self.quick = max(self.quick, 2)  # tcp_enter_quickack_mode(sk, 2)
                        self.ato = self.ato_min
                        sk.ecn_flags |= TCP_ECN_DEMAND_CWR
                elif self.wants_ce_events:
                    flow.call_op(sk, "cwnd_event", CA_EVENT_ECN_NO_CE)
                sk.ecn_flags |= TCP_ECN_SEEN
        if idx == self.rcv_nxt_i:
            ooo = self.ooo
            filled = bool(ooo)
            nxt = idx + 1
            if filled:
                while nxt in ooo:
                    del ooo[nxt]
                    nxt += 1
            self.rcv_nxt_i = nxt
            sk.rcv_nxt = (flow.isn + nxt * flow.mss) & U32
            self.ts_recent = tsval
            self.pending += 1
            # tcp_event_data_recv: quick-ACK mode at start and after idle; adapt ato
            now_j = now * self.hz // 1_000_000_000
            ato = self.ato
            if not ato:
                self._incr_quickack()
                self.ato = self.ato_min
            else:
                m = now_j - self.lrcvtime
                if m <= self.ato_min // 2:
                    self.ato = (ato >> 1) + self.ato_min // 2
                elif m < ato:
                    ato = (ato >> 1) + m
                    self.ato = ato if ato < self.rto_j else self.rto_j
                elif m > self.rto_j:
                    self._incr_quickack()  # the sender failed to restart its window: ACK quickly
            self.lrcvtime = now_j
            if (
                filled
                or ooo
                or self.quick
                or not self.delayed_ack
                or self.pending >= ACK_EVERY
                or sk.icsk_ack_pending & ICSK_ACK_NOW
            ):
                self.send_ack(-1, -1)
            elif not self._delack_armed:
                self._send_delayed_ack()
        else:
            self.ooo[idx] = None
            self.send_ack(idx, -1)

    def _incr_quickack(self) -> None:
        """``tcp_incr_quickack(sk, TCP_MAX_QUICKACKS)``: the window allows 16 quick ACKs."""
        if self.quick < TCP_MAX_QUICKACKS:
            self.quick = TCP_MAX_QUICKACKS

    def _send_delayed_ack(self) -> None:
        """``tcp_send_delayed_ack``: arm the timer ``ato`` jiffies out (capped by the RTT)."""
        ato = self.ato
        if ato > self.ato_min:
            max_ato = self.hz // 2 or 1
            rtt_cap = self.srtt_j if self.srtt_j > self.ato_min else self.ato_min
            if rtt_cap < max_ato:
                max_ato = rtt_cap
            if max_ato < ato:
                ato = max_ato
        flow = self.flow
        sim = flow.sim
        hz = self.hz
        expires = -(-(sim.now * hz // 1_000_000_000 + ato) * 1_000_000_000 // hz)
        self._delack_armed = True
        self.delack_gen += 1
        self.sk.icsk_ack_pending |= ICSK_ACK_SCHED | ICSK_ACK_TIMER
        # Usually the next data segment comes first and ACKs (every 2nd segment), and the
        # timer is cancelled.  So its event takes its place in the event order now (the
        # sequence number that breaks ties of equal times) but enters the queue only once
        # no pending segment of the flow arrives before it expires: the simulator checks
        # after each arrival (Simulator.run).  Segments of a flow never reorder, so the
        # latest pending one bounds the next.  The run is the same as with the event
        # queued at once, minus the cancelled timers' events.
        seq = sim._seq = sim._seq + 1
        if flow.data_pending and flow.data_due_ns < expires:
            self.delack_due_ns = expires
            self.delack_seq = seq
        else:
            sim.queue_delack(flow, self.delack_gen, expires, seq)

    def on_delack(self, gen: int) -> None:
        """``tcp_delack_timer_handler``: a missed delayed ACK inflates ``ato``, then ACK."""
        if gen == self.delack_gen and self._delack_armed and self.pending:
            self.ato = min(self.ato << 1, self.rto_j)
            self.send_ack(-1, -1)

    def send_ack(self, sack_i: int, dsack_i: int) -> None:
        """Emit one ACK (cumulative + optional SACK / D-SACK, ECE, TS echo)."""
        sk = self.sk
        if self.pending and self.quick:  # tcp_dec_quickack_mode
            if self.quick <= 1:
                self.quick = 0
                self.ato = self.ato_min
            else:
                self.quick -= 1
        self.pending = 0
        self._delack_armed = False
        self.delack_due_ns = -1  # a timer not queued yet is cancelled with it
        sk.icsk_ack_pending = 0
        ece = 1 if sk.ecn_flags & _ECE_BITS == _ECE_BITS else 0
        self.flow.sim.send_ack(self.flow, self.rcv_nxt_i, sack_i, dsack_i, ece, self.ts_recent)


__all__ = ["TcpReceiver"]
