"""RACK: time-based loss detection as Linux's default (net/ipv4/tcp_recovery.c, RFC 8985).

A segment is lost once a segment *sent after it* has been delivered (cumulatively ACKed
or SACKed) and more than ``rack.rtt + reo_wnd`` has passed since it was (re)sent.
``rack.rtt``/``rack.mstamp`` follow the most recently sent delivered segment
(``tcp_rack_advance``; a retransmission counts only if its RTT is not below the min
RTT).  ``reo_wnd`` is ``min_rtt / 4`` (at most srtt) but 0 in Recovery/Loss or once
``reordering`` segments are SACKed, since no reordering is ever seen here.  Segments
not yet old enough arm the reordering timer (``tcp_rack_reo_timeout``: the remaining
time plus ``TCP_TIMEOUT_MIN``, 2 jiffies), whose expiry marks them and starts
recovery.  Lost retransmissions are found the same way (their last send time counts).
Mixed into :class:`~structops.sim.flow.TcpFlow` when ``SimConfig.rack`` is on.
"""

from __future__ import annotations

from structops.sim.consts import TCP_CA_Recovery
from structops.sim.flowbase import (
    TCPCB_EVER_RETRANS,
    TCPCB_LOST,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    FlowBase,
    Seg,
)

_LOST_UNSENT = TCPCB_LOST | TCPCB_SACKED_RETRANS  # & gives TCPCB_LOST: marked lost, not resent


class Rack(FlowBase):
    """RACK state and loss marking of one connection."""

    __slots__ = ()

    def _rack_advance(self, i: int, seg: Seg, sacked: int) -> None:
        """``tcp_rack_advance``: segment ``i`` (state bits before delivery) was delivered."""
        tp = self.tp
        rtt = tp.tcp_mstamp - seg.tx_us
        if sacked & (TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS):
            # Ambiguous: which copy arrived?  Below the min RTT it was an earlier one; so
            # it was when the echoed timestamp predates this send (the simulator's
            # timestamps are in us, so the echo identifies the copy).
            tsecr = tp.rx_opt_rcv_tsecr
            older = bool(tp.rx_opt_saw_tstamp and tsecr) and 0 < ((seg.tx_us - tsecr) & 0xFFFFFFFF) < 0x80000000
            if rtt < tp.rtt_min[1] or older:
                return
        self.rack_rtt_us = rtt
        self.rack_advanced = True
        if seg.tx_ns > self.rack_mstamp or (seg.tx_ns == self.rack_mstamp and i >= self.rack_end_i):
            self.rack_mstamp = seg.tx_ns
            self.rack_end_i = i + 1

    def _rack_reo_wnd(self) -> int:
        tp = self.tp
        if tp.icsk_ca_state >= TCP_CA_Recovery or tp.sacked_out >= tp.reordering:
            return 0
        wnd = tp.rtt_min[1] >> 2
        srtt = tp.srtt_us >> 3
        return wnd if wnd < srtt else srtt

    def _rack_detect_loss(self) -> int:
        """``tcp_rack_detect_loss``: mark what is old enough; the longest wait left (us).

        SACKed segments and segments marked lost but not resent are skipped before the
        send-order test: none of them is ever marked, and past the RACK segment nothing
        is (every later segment was sent after it), so the walk ends at the same place
        in effect and marks the same segments, checking SACKed ones in one test."""
        now = self.tp.tcp_mstamp
        deadline = self.rack_rtt_us + self._rack_reo_wnd()
        rack_t = self.rack_mstamp
        base = self.qbase
        rack_last = self.rack_end_i - 1 - base
        q = self.q
        wait = 0
        for j in range(self.una - base, self.nxt - base):
            seg = q[j]
            s = seg.sacked
            if s & TCPCB_SACKED_ACKED or s & _LOST_UNSENT == TCPCB_LOST:
                continue
            t = seg.tx_ns
            if t >= rack_t and (t > rack_t or j >= rack_last):  # sent after the RACK segment
                if not s & TCPCB_EVER_RETRANS:
                    break  # an original: so was every later one
                continue  # a retransmission
            remaining = deadline - (now - seg.tx_us)
            if remaining <= 0:
                self._mark_lost(j + base, seg)
            elif remaining > wait:
                wait = remaining
        return wait

    def _rack_mark_lost(self) -> None:
        """``tcp_rack_mark_lost``: detect after an advance; arm the reordering timer."""
        if not self.rack_advanced:
            return
        self.rack_advanced = False
        wait = self._rack_detect_loss()
        if wait:
            hz = self.sim.config.hz
            jif = -(-wait * hz // 1_000_000) + 2  # usecs_to_jiffies + TCP_TIMEOUT_MIN
            t = self.sim.now + jif * 1_000_000_000 // hz
            if self.reo_event_ns < 0 or t < self.reo_event_ns:
                self.reo_event_ns = t
                self.sim.schedule_reo(self, t)

    def on_reo_timer(self) -> None:
        """``tcp_rack_reo_timeout``: mark, enter Recovery if something was lost, resend."""
        self.reo_event_ns = -1
        if self.closed or not self.tp.packets_out:
            return
        tp = self.tp
        tp.tcp_mstamp_refresh(self.sim.now)
        prior = tp.lost_out
        self._rack_detect_loss()
        if tp.lost_out != prior:
            if tp.icsk_ca_state != TCP_CA_Recovery:
                self._rack_enter_recovery()
            self._rack_retransmit()

    def _rack_enter_recovery(self) -> None:  # provided by Recovery/TcpFlow
        raise NotImplementedError

    def _rack_retransmit(self) -> None:  # provided by TcpFlow
        raise NotImplementedError


__all__ = ["Rack"]
