"""TcpReceiver: the data receiver of one simulated connection (ACK generation).

Models what the sender's congestion control depends on: cumulative ACKs, one SACK
block per ACK (the out-of-order segment that triggered it; the simulator never
loses ACKs, so one block per ACK carries all SACK information), D-SACK for
duplicates, delayed ACKs (every 2nd full segment or after ``delack_us``,
immediately for out-of-order data, hole fills and quick-ack mode), the TCP
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
    TCP_ECN_DEMAND_CWR,
    TCP_ECN_OK,
    TCP_ECN_SEEN,
    U32,
)
from structops.sim.sock import TcpSock

if TYPE_CHECKING:
    from structops.sim.flow import TcpFlow


class TcpReceiver:
    """Receiver half of a :class:`~structops.sim.flow.TcpFlow`."""

    __slots__ = (
        "_delack_armed",
        "_delack_gen",
        "flow",
        "ooo",
        "pending",
        "quick",
        "rcv_nxt_i",
        "sk",
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
        self._delack_gen = 0
        self._delack_armed = False
        self.wants_ce_events = wants_ce_events
        sk._send_ack_hook = self._ack_now

    def _ack_now(self) -> None:
        self.send_ack(-1, -1)

    def on_data(self, idx: int, tsval: int, ce: int, cwr: int, ect: int) -> None:
        """A data segment ``idx`` arrived (tcp_rcv_established / tcp_data_queue)."""
        sk = self.sk
        flow = self.flow
        sk.tcp_mstamp_refresh(flow.sim.now)
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
                        self.quick = 2  # tcp_enter_quickack_mode(sk, 2)
                        sk.ecn_flags |= TCP_ECN_DEMAND_CWR
                elif self.wants_ce_events:
                    flow.call_op(sk, "cwnd_event", CA_EVENT_ECN_NO_CE)
                sk.ecn_flags |= TCP_ECN_SEEN
        if idx == self.rcv_nxt_i:
            filled = bool(self.ooo)
            nxt = idx + 1
            ooo = self.ooo
            while nxt in ooo:
                del ooo[nxt]
                nxt += 1
            self.rcv_nxt_i = nxt
            sk.rcv_nxt = (flow.isn + nxt * flow.mss) & U32
            self.ts_recent = tsval
            self.pending += 1
            if (
                filled
                or self.ooo
                or self.quick
                or not flow.sim.config.delayed_ack
                or self.pending >= 2
                or sk.icsk_ack_pending & ICSK_ACK_NOW
            ):
                if self.quick:
                    self.quick -= 1
                self.send_ack(-1, -1)
            elif not self._delack_armed:
                self._delack_armed = True
                self._delack_gen += 1
                flow.sim.schedule_delack(flow, self._delack_gen)
        else:
            self.ooo[idx] = None
            self.send_ack(idx, -1)

    def on_delack(self, gen: int) -> None:
        """The delayed-ACK timer fired."""
        if gen == self._delack_gen and self._delack_armed and self.pending:
            self.send_ack(-1, -1)

    def send_ack(self, sack_i: int, dsack_i: int) -> None:
        """Emit one ACK (cumulative + optional SACK / D-SACK, ECE, TS echo)."""
        sk = self.sk
        self.pending = 0
        self._delack_armed = False
        sk.icsk_ack_pending = 0
        ece = 1 if (sk.ecn_flags & (TCP_ECN_OK | TCP_ECN_DEMAND_CWR)) == (TCP_ECN_OK | TCP_ECN_DEMAND_CWR) else 0
        self.flow.sim.send_ack(self.flow, self.rcv_nxt_i, sack_i, dsack_i, ece, self.ts_recent)


__all__ = ["TcpReceiver"]
