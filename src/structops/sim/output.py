"""Output: the sending side of a simulated TCP connection (net/ipv4/tcp_output.c, tcp_timer.c).

``tcp_write_xmit`` (new data while cwnd allows, then ``tcp_cwnd_validate``),
``tcp_xmit_retransmit_queue`` (segments marked lost), ``__tcp_transmit_skb`` (rate-sample
stamps, ``CA_EVENT_TX_START`` when sending with nothing in flight, internal pacing, the
hand-off to the bottleneck), ``tcp_cwnd_restart`` after idle, RFC 7661 cwnd validation,
and the retransmission timer (``tcp_rearm_rto``, ``tcp_retransmit_timer`` with
exponential backoff from Linux's 200 ms minimum RTO).  Mixed into
:class:`~structops.sim.flow.TcpFlow`.
"""

from __future__ import annotations

from structops.sim.consts import (
    CA_EVENT_CWND_RESTART,
    CA_EVENT_TX_START,
    SK_PACING_NONE,
    TCP_CA_CWR,
    TCP_ECN_OK,
    TCP_ECN_QUEUE_CWR,
    TCP_RTO_MAX_US,
    TCP_RTO_MIN_US,
    TCP_TIMEOUT_INIT_US,
    U32,
    U64,
    TCP_CA_Open,
    TCP_CA_Recovery,
)
from structops.sim.flowbase import (
    TCPCB_EVER_RETRANS,
    TCPCB_LOST,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    Seg,
)
from structops.sim.recovery import Recovery
from structops.sim.tcp_cong import tcp_current_ssthresh, tcp_is_cwnd_limited

_TLP_STATES = frozenset((TCP_CA_Open, TCP_CA_CWR))  # tcp_schedule_loss_probe sends probes only there


class Output(Recovery):
    """Transmit path and RTO timer of :class:`~structops.sim.flow.TcpFlow`."""

    __slots__ = ()

    def _cwnd_restart(self, delta: int) -> None:
        """``tcp_cwnd_restart()``: decay cwnd after an idle period of ``delta`` jiffies."""
        tp = self.tp
        restart_cwnd = min(self.sim.config.init_cwnd, tp.snd_cwnd_clamp)
        cwnd = tp.snd_cwnd
        self._ca_event(CA_EVENT_CWND_RESTART)
        tp.snd_ssthresh = tcp_current_ssthresh(tp)
        restart_cwnd = min(restart_cwnd, cwnd)
        delta -= tp.icsk_rto
        while delta > 0 and cwnd > restart_cwnd:
            cwnd >>= 1
            delta -= tp.icsk_rto
        tp.snd_cwnd = max(cwnd, restart_cwnd)
        tp.snd_cwnd_stamp = self._jiffies()
        tp.snd_cwnd_used = 0

    def _transmit(self, i: int, seg: Seg, retrans: bool) -> None:
        """``__tcp_transmit_skb()``: rate stamps, TX_START, pacing, hand to the link."""
        tp = self.tp
        now = self.sim.now
        now_us = now // 1000
        if not tp.packets_out:
            tp.first_tx_mstamp = now_us
            tp.delivered_mstamp = now_us
        seg.tx_us = now_us
        seg.tx_ns = now
        seg.first_tx = tp.first_tx_mstamp
        seg.dlv_mstamp = tp.delivered_mstamp
        seg.dlv = tp.delivered
        seg.dlv_ce = tp.delivered_ce
        seg.app_limited = tp.app_limited != 0
        # tcp_event_data_sent
        if tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out == 0:
            self._ca_event(CA_EVENT_TX_START)
        tp.lsndtime = (now * self.hz // 1_000_000_000) & U32
        tp.segs_out += 1
        tp.data_segs_out += 1
        tp.bytes_sent += self.mss
        cwr = 0
        if not retrans:
            seg.sacked = 0  # a new segment: its scoreboard starts empty
            if tp.ecn_flags & TCP_ECN_QUEUE_CWR:
                tp.ecn_flags &= ~TCP_ECN_QUEUE_CWR
                cwr = 1
        ect = 1 if tp.ecn_flags & TCP_ECN_OK else 0
        if tp.sk_pacing_status != SK_PACING_NONE:
            rate = tp.sk_pacing_rate
            if rate and rate != U64 and tp.data_segs_out >= 10:
                self.next_tx_ns = max(self.next_tx_ns, now) + self.mss * 1_000_000_000 // rate
        self.sim.transmit(self, i, now_us, cwr, ect)

    def _retransmit(self, i: int, seg: Seg) -> None:
        """``tcp_retransmit_skb()``: resend ``i`` and account it as a retransmission."""
        tp = self.tp
        self._transmit(i, seg, True)
        seg.sacked |= TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS
        seg.retx_nxt = self.nxt
        self.retx_fifo.append(i)
        tp.retrans_out += 1
        if not tp.retrans_stamp:
            tp.retrans_stamp = tp.tcp_mstamp & U32 or 1
        if tp.undo_retrans < 0:
            tp.undo_retrans = 0
        tp.undo_retrans += 1
        tp.total_retrans += 1
        tp.bytes_retrans += self.mss

    def _pacing_blocked(self) -> bool:
        if self.tp.sk_pacing_status == SK_PACING_NONE or self.next_tx_ns <= self.sim.now:
            return False
        if self.pace_event_ns != self.next_tx_ns:
            self.pace_event_ns = self.next_tx_ns
            self.sim.schedule_pace(self, self.next_tx_ns)
        return True

    def _rack_retransmit(self) -> None:
        self.xmit_retransmit_queue()

    def xmit_retransmit_queue(self) -> None:
        """``tcp_xmit_retransmit_queue()``: resend segments marked lost, cwnd permitting."""
        tp = self.tp
        i = self.rtx_i if self.rtx_i > self.una else self.una
        q = self.q
        base = self.qbase
        while i < self.nxt and tp.retrans_out < tp.lost_out:
            if self._pacing_blocked():
                break
            if tp.snd_cwnd - (tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out) <= 0:
                break
            seg = q[i - base]
            s = seg.sacked
            if s & TCPCB_LOST and not s & (TCPCB_SACKED_ACKED | TCPCB_SACKED_RETRANS):
                self._retransmit(i, seg)
                if tp.icsk_ca_state in (TCP_CA_CWR, TCP_CA_Recovery):
                    tp.prr_out += 1
                if i == self.una:
                    self._rearm_rto()
            i += 1
        self.rtx_i = i

    def write_xmit(self) -> bool:
        """``tcp_write_xmit()``: send new segments while cwnd allows, then validate cwnd;
        whether it sent and armed the loss probe."""
        if self.closed:
            return False
        tp = self.tp
        sent = 0
        q = self.q
        while self.nxt < self.end:
            if tp.sk_pacing_status != SK_PACING_NONE and self._pacing_blocked():
                break
            if tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out >= tp.snd_cwnd:
                break
            i = self.nxt
            seg = Seg()
            q.append(seg)
            self._transmit(i, seg, False)
            prior_packets = tp.packets_out
            self.nxt = i + 1
            tp.snd_nxt = (self.isn + (i + 1) * self.mss) & U32
            tp.packets_out += 1
            if not prior_packets:
                self._rearm_rto()
            sent += 1
        cwnd_limited = tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out >= tp.snd_cwnd
        if sent or cwnd_limited:
            self._cwnd_validate(cwnd_limited)
        if sent and tp.icsk_ca_state in (TCP_CA_CWR, TCP_CA_Recovery):
            tp.prr_out += sent
        if sent and self.tlp:
            return self._schedule_loss_probe(False)
        return False

    def _cwnd_validate(self, is_cwnd_limited: bool) -> None:
        """``tcp_cwnd_validate()`` (RFC 7661 bookkeeping of cwnd use)."""
        tp = self.tp
        if (
            self.una >= self.cwnd_usage_i
            or is_cwnd_limited
            or (not tp.is_cwnd_limited and tp.packets_out > tp.max_packets_out)
        ):
            tp.is_cwnd_limited = 1 if is_cwnd_limited else 0
            tp.max_packets_out = tp.packets_out
            self.cwnd_usage_i = self.nxt
            tp.cwnd_usage_seq = tp.snd_nxt
        if tcp_is_cwnd_limited(tp):
            tp.snd_cwnd_used = 0
            tp.snd_cwnd_stamp = (self.sim.now * self.hz // 1_000_000_000) & U32
        else:
            if tp.packets_out > tp.snd_cwnd_used:
                tp.snd_cwnd_used = tp.packets_out
            idle = (self._jiffies() - tp.snd_cwnd_stamp) & U32
            if (
                self.sim.config.slow_start_after_idle
                and tp.icsk_rto <= idle < 0x80000000
                and tp.icsk_ca_ops.cong_control is None
            ):
                self._cwnd_application_limited()

    def _cwnd_application_limited(self) -> None:
        """``tcp_cwnd_application_limited()``: shrink an unused cwnd (RFC 2861)."""
        tp = self.tp
        if tp.icsk_ca_state == TCP_CA_Open:
            win_used = max(tp.snd_cwnd_used, self.sim.config.init_cwnd)
            if win_used < tp.snd_cwnd:
                tp.snd_ssthresh = tcp_current_ssthresh(tp)
                tp.snd_cwnd = (tp.snd_cwnd + win_used) >> 1
            tp.snd_cwnd_used = 0
        tp.snd_cwnd_stamp = self._jiffies()

    def _rearm_rto(self) -> None:
        """``tcp_rearm_rto()``: RTO from now, or off when nothing is outstanding."""
        self.probe_armed = False
        if not self.tp.packets_out:
            self.rto_deadline_ns = -1
            return
        self._arm_timer(self.sim.now + self.rto_us * 1000)

    def _arm_timer(self, deadline: int) -> None:
        """Set the retransmit/probe deadline; queue an event only if nothing earlier will
        look at it (a queued timer event, or an ACK or data segment of this flow arriving
        before the deadline).

        The deadline moves with every send (the loss probe is re-armed 2 srtt after the
        latest transmission), so an event queued eagerly would mostly wake early and be
        re-queued, about once per RTT per flow.  After each ACK or data arrival of the
        flow, :meth:`Simulator.run <structops.sim.engine.Simulator.run>` queues the event
        of an armed deadline unless another pending arrival of the flow comes first and
        checks again: arrivals of a flow in one direction never reorder (FIFO queue,
        jitter clamped), so the latest pending one bounds the next.  Simulated behaviour
        is unchanged: the timer still fires exactly at its deadline."""
        self.rto_deadline_ns = deadline
        ev = self.rto_event_ns
        if ev < 0:
            if (self.acks_pending and self.ack_due_ns < deadline) or (
                self.data_pending and self.data_due_ns < deadline
            ):
                return
        elif ev <= deadline:
            return
        self.rto_event_ns = deadline
        self.sim.schedule_rto(self, deadline)

    def _schedule_loss_probe(self, advancing_rto: bool) -> bool:
        """``tcp_schedule_loss_probe()``: PTO = 2 srtt (+ 200 ms with one segment out,
        else + 2 jiffies), never past the RTO; only in Open or CWR."""
        if not self.tlp:
            return False
        tp = self.tp
        if not tp.packets_out or tp.icsk_ca_state not in _TLP_STATES:
            return False
        hz = self.hz
        srtt = tp.srtt_us
        if srtt:
            pto_j = -(-(srtt >> 2) * hz // 1_000_000)
            pto_j += 2 if tp.packets_out != 1 else TCP_RTO_MIN_US * hz // 1_000_000
        else:
            pto_j = TCP_TIMEOUT_INIT_US * hz // 1_000_000
        if advancing_rto:
            rto_delta_us = self.rto_us
        else:
            rto_delta_us = self.q[self.una - self.qbase].tx_us + self.rto_us - tp.tcp_mstamp
        if rto_delta_us > 0:
            rto_j = -(-rto_delta_us * hz // 1_000_000)
            if rto_j < pto_j:
                pto_j = rto_j
        self.probe_armed = True
        self._arm_timer(self.sim.now + pto_j * 1_000_000_000 // hz)
        return True

    def _send_loss_probe(self) -> None:
        """``tcp_send_loss_probe()``: one new segment past cwnd, else resend the tail."""
        tp = self.tp
        tp.tcp_mstamp_refresh(self.sim.now)
        if not tp.tlp_high_seq and self.una < self.nxt:
            if self.nxt < self.end:
                i = self.nxt
                seg = Seg()
                self.q.append(seg)
                self._transmit(i, seg, False)
                self.nxt = i + 1
                tp.snd_nxt = self._seq(self.nxt)
                tp.packets_out += 1
                self.tlp_retrans = False
            else:
                i = self.nxt - 1
                seg = self._seg(i)
                if seg.sacked & TCPCB_SACKED_ACKED:
                    self._rearm_rto()
                    return
                self._retransmit(i, seg)
                self.tlp_retrans = True
            tp.tlp_high_seq = tp.snd_nxt
            self.tlp_high_i = self.nxt
        self._rearm_rto()

    def on_pace(self) -> None:
        """The pacing timer fired: resume sending."""
        self.pace_event_ns = -1
        self.tp.tcp_mstamp_refresh(self.sim.now)
        self.xmit_retransmit_queue()
        self.write_xmit()

    def on_rto_event(self) -> None:
        """A scheduled RTO check: fire if the (lazily re-armed) deadline passed.

        An event superseded by an earlier one (the deadline moved earlier after it was
        queued) is not the flow's current event and does nothing."""
        if self.rto_event_ns != self.sim.now:
            return
        self.rto_event_ns = -1
        if self.closed or self.rto_deadline_ns < 0:
            return
        if self.rto_deadline_ns > self.sim.now:
            self._arm_timer(self.rto_deadline_ns)
            return
        self.rto_deadline_ns = -1
        if self.probe_armed:
            self.probe_armed = False
            self._send_loss_probe()
            return
        self._retransmit_timer()

    def _retransmit_timer(self) -> None:
        """``tcp_retransmit_timer()``: enter Loss, resend the head, back off."""
        tp = self.tp
        if not tp.packets_out:
            return
        tp.tcp_mstamp_refresh(self.sim.now)
        self.rto_count += 1
        tp.total_rto += 1
        self._enter_loss()
        head = self._seg(self.una)
        if not head.sacked & TCPCB_SACKED_ACKED:
            self._retransmit(self.una, head)
            self.rtx_i = self.una + 1
        tp.icsk_backoff = min(tp.icsk_backoff + 1, 255)
        tp.icsk_retransmits = min(tp.icsk_retransmits + 1, 255)
        self.rto_us = min(self.rto_us * 2, TCP_RTO_MAX_US)
        tp.icsk_rto = self.rto_us * self.sim.config.hz // 1_000_000
        self._rearm_rto()
        self.write_xmit()


__all__ = ["Output"]
