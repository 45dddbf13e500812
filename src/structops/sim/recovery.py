"""Loss recovery: the ``tcp_fastretrans_alert()`` state machine and its helpers.

Open / Disorder / CWR / Recovery / Loss transitions (``tcp_set_ca_state`` calls
``set_state`` first), ``tcp_init_cwnd_reduction`` (``ssthresh``), PRR
(``tcp_cwnd_reduction``), ``tcp_end_cwnd_reduction`` (``CA_EVENT_COMPLETE_CWR``),
``tcp_enter_loss`` (``CA_EVENT_LOSS``), the undo family (``undo_cwnd``), and the SACK
scoreboard's loss marking (RFC 6675 IsLost, pre-RACK lost-retransmit detection).
"""

from __future__ import annotations

from structops.sim.consts import (
    CA_EVENT_COMPLETE_CWR,
    CA_EVENT_LOSS,
    FLAG_DATA_SACKED,
    FLAG_DSACKING_ACK,
    FLAG_ECE,
    FLAG_LOST_RETRANS,
    FLAG_NOT_DUP,
    FLAG_SND_UNA_ADVANCED,
    TCP_CA_CWR,
    TCP_ECN_OK,
    TCP_ECN_QUEUE_CWR,
    TCP_INFINITE_SSTHRESH,
    U32,
    TCP_CA_Disorder,
    TCP_CA_Loss,
    TCP_CA_Open,
    TCP_CA_Recovery,
)
from structops.sim.flowbase import (
    REXMIT_LOST,
    REXMIT_NONE,
    TCPCB_LOST,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
)
from structops.sim.rack import Rack
from structops.sim.tcp_cong import tcp_current_ssthresh


class Recovery(Rack):
    """The CA state machine mixed into :class:`~structops.sim.flow.TcpFlow`."""

    __slots__ = ()

    def _enter_loss(self) -> None:
        """``tcp_enter_loss()`` after ``tcp_timeout_mark_lost()``."""
        tp = self.tp
        state = tp.icsk_ca_state
        for i in range(self.una, self.nxt):
            self._mark_lost(i, self.q[i - self.qbase])
        self.scan_i = self.nxt
        self.sacked_below = tp.sacked_out
        self.rtx_i = self.una
        if state <= TCP_CA_Disorder or self.high_i <= self.una or (state == TCP_CA_Loss and not tp.icsk_retransmits):
            tp.prior_ssthresh = tcp_current_ssthresh(tp)
            tp.prior_cwnd = tp.snd_cwnd
            tp.snd_ssthresh = self._ssthresh()
            self._ca_event(CA_EVENT_LOSS)
            self._init_undo()
        tp.snd_cwnd = (tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out + 1) & U32
        tp.snd_cwnd_cnt = 0
        tp.snd_cwnd_stamp = self._jiffies()
        self._set_ca_state(TCP_CA_Loss)
        self.high_i = self.nxt
        tp.high_seq = tp.snd_nxt
        tp.tlp_high_seq = 0
        if tp.ecn_flags & TCP_ECN_OK:
            tp.ecn_flags |= TCP_ECN_QUEUE_CWR

    def _mark_lost_retrans(self) -> int:
        """Pre-RACK ``tcp_mark_lost_retrans()``: a retransmission is lost again when
        data sent ``reordering`` segments after it has been SACKed."""
        fifo = self.retx_fifo
        q = self.q
        base = self.qbase
        upto = self.highest_sack_i + 1
        thr = self.tp.reordering
        flag = 0
        while fifo:
            i = fifo[0]
            if i < self.una:
                fifo.popleft()
                continue
            seg = q[i - base]
            if not seg.sacked & TCPCB_SACKED_RETRANS:
                fifo.popleft()
                continue
            if upto < seg.retx_nxt + thr:
                break
            fifo.popleft()
            self._mark_lost(i, seg)
            flag |= FLAG_LOST_RETRANS
        return flag

    def _cwnd_reduction(self, newly_acked_sacked: int, newly_lost: int, flag: int) -> None:
        """``tcp_cwnd_reduction()``: Proportional Rate Reduction (RFC 6937)."""
        tp = self.tp
        if newly_acked_sacked <= 0 or not tp.prior_cwnd:
            return
        inflight = tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out
        delta = tp.snd_ssthresh - inflight
        tp.prr_delivered += newly_acked_sacked
        if delta < 0:
            dividend = tp.snd_ssthresh * tp.prr_delivered + tp.prior_cwnd - 1
            sndcnt = dividend // tp.prior_cwnd - tp.prr_out
        else:
            sndcnt = tp.prr_delivered - tp.prr_out
            if sndcnt < newly_acked_sacked:
                sndcnt = newly_acked_sacked
            if flag & FLAG_SND_UNA_ADVANCED and not newly_lost:
                sndcnt += 1
            if delta < sndcnt:
                sndcnt = delta
        floor = 0 if tp.prr_out else 1
        if sndcnt < floor:
            sndcnt = floor
        tp.snd_cwnd = (inflight + sndcnt) & U32

    def _init_undo(self) -> None:
        tp = self.tp
        self.undo_i = self.una
        tp.undo_marker = tp.snd_una
        tp.undo_retrans = tp.retrans_out or -1

    def _packet_delayed(self) -> bool:
        tp = self.tp
        return bool(tp.retrans_stamp and tp.rx_opt_saw_tstamp and tp.rx_opt_rcv_tsecr < tp.retrans_stamp)

    def _may_undo(self) -> bool:
        return self.undo_i >= 0 and (not self.tp.undo_retrans or self._packet_delayed())

    def _undo_cwnd_reduction(self, unmark_loss: bool) -> None:
        """``tcp_undo_cwnd_reduction()``: calls ``undo_cwnd``, restores ssthresh."""
        tp = self.tp
        if unmark_loss:
            q = self.q
            base = self.qbase
            for i in range(self.una, self.nxt):
                q[i - base].sacked &= ~TCPCB_LOST
            tp.lost_out = 0
            self.scan_i = self.una
            self.sacked_below = 0
            self.rtx_i = self.una
        if tp.prior_ssthresh:
            tp.snd_cwnd = int(self.call_op(tp, "undo_cwnd")) & U32
            if tp.prior_ssthresh > tp.snd_ssthresh:
                tp.snd_ssthresh = tp.prior_ssthresh
                tp.ecn_flags &= ~TCP_ECN_QUEUE_CWR
        tp.snd_cwnd_stamp = self._jiffies()
        self.undo_i = -1
        tp.undo_marker = 0

    def _try_undo_recovery(self) -> bool:
        tp = self.tp
        if self._may_undo():
            self._undo_cwnd_reduction(False)
        self._set_ca_state(TCP_CA_Open)
        tp.is_sack_reneg = 0
        return False

    def _try_undo_dsack(self) -> bool:
        if self.undo_i >= 0 and not self.tp.undo_retrans:
            self._undo_cwnd_reduction(False)
            return True
        return False

    def _try_undo_loss(self) -> bool:
        tp = self.tp
        if self._may_undo():
            self._undo_cwnd_reduction(True)
            tp.icsk_retransmits = 0
            self._set_ca_state(TCP_CA_Open)
            tp.is_sack_reneg = 0
            return True
        return False

    def _try_undo_partial(self, prior_una: int) -> tuple[bool, bool]:
        """Returns (stop, do_lost)."""
        tp = self.tp
        if self.undo_i >= 0 and self._packet_delayed():
            if tp.retrans_out:
                return True, False
            if not self._any_retrans_done():
                tp.retrans_stamp = 0
            self._undo_cwnd_reduction(True)
            self._try_keep_open()
            return False, False
        return False, self._force_fast_retransmit()

    def _force_fast_retransmit(self) -> bool:
        return self.highest_sack_i + 1 > self.una + self.tp.reordering

    def _try_keep_open(self) -> None:
        tp = self.tp
        state = TCP_CA_Open
        if tp.sacked_out + tp.lost_out or self._any_retrans_done():
            state = TCP_CA_Disorder
        if tp.icsk_ca_state != state:
            self._set_ca_state(state)
            self.high_i = self.nxt
            tp.high_seq = tp.snd_nxt

    def _try_to_open(self, flag: int) -> None:
        tp = self.tp
        if not self._any_retrans_done():
            tp.retrans_stamp = 0
        if flag & FLAG_ECE:
            self.enter_cwr()
        if tp.icsk_ca_state != TCP_CA_CWR:
            self._try_keep_open()

    def _init_cwnd_reduction(self) -> None:
        tp = self.tp
        self.high_i = self.nxt
        tp.high_seq = tp.snd_nxt
        tp.tlp_high_seq = 0
        tp.snd_cwnd_cnt = 0
        tp.prior_cwnd = tp.snd_cwnd
        tp.prr_delivered = 0
        tp.prr_out = 0
        tp.snd_ssthresh = self._ssthresh()
        if tp.ecn_flags & TCP_ECN_OK:
            tp.ecn_flags |= TCP_ECN_QUEUE_CWR

    def enter_cwr(self) -> None:
        """``tcp_enter_cwr()``: reduce cwnd on ECE / local congestion."""
        tp = self.tp
        tp.prior_ssthresh = 0
        if tp.icsk_ca_state < TCP_CA_CWR:
            self.undo_i = -1
            tp.undo_marker = 0
            self._init_cwnd_reduction()
            self._set_ca_state(TCP_CA_CWR)

    def _end_cwnd_reduction(self) -> None:
        tp = self.tp
        if tp.icsk_ca_ops.cong_control is not None:
            return
        if tp.snd_ssthresh < TCP_INFINITE_SSTHRESH and (tp.icsk_ca_state == TCP_CA_CWR or self.undo_i >= 0):
            tp.snd_cwnd = tp.snd_ssthresh
            tp.snd_cwnd_stamp = self._jiffies()
        self._ca_event(CA_EVENT_COMPLETE_CWR)

    def _enter_recovery(self, ece_ack: bool) -> None:
        tp = self.tp
        tp.prior_ssthresh = 0
        self._init_undo()
        if tp.icsk_ca_state not in (TCP_CA_CWR, TCP_CA_Recovery):
            if not ece_ack:
                tp.prior_ssthresh = tcp_current_ssthresh(tp)
            self._init_cwnd_reduction()
        self._set_ca_state(TCP_CA_Recovery)

    def _process_tlp_ack(self, ack_i: int, flag: int) -> None:
        """``tcp_process_tlp_ack()``: end the probe episode; a repaired tail loss is a
        congestion signal (one CWR reduction)."""
        tp = self.tp
        if ack_i < self.tlp_high_i:
            return
        if not self.tlp_retrans:
            tp.tlp_high_seq = 0
        elif flag & FLAG_DSACKING_ACK:
            tp.tlp_high_seq = 0  # the original arrived too: no loss
        elif ack_i > self.tlp_high_i:
            self._init_cwnd_reduction()
            self._set_ca_state(TCP_CA_CWR)
            self._end_cwnd_reduction()
            self._try_keep_open()
        elif not flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DATA_SACKED):
            tp.tlp_high_seq = 0

    def _rack_enter_recovery(self) -> None:
        """From the RACK timer: ``tcp_enter_recovery`` and one PRR step."""
        self._enter_recovery(False)
        if self.tp.icsk_ca_ops.cong_control is None:
            self._cwnd_reduction(1, 0, 0)

    def _identify_packet_loss(self) -> None:
        """``tcp_identify_packet_loss``: RACK, or (``rack`` off) RFC 6675 IsLost: mark
        un-SACKed segments with >= ``reordering`` SACKed above them lost."""
        if self.rack:
            self._rack_mark_lost()
            return
        tp = self.tp
        if not tp.sacked_out:
            return
        thr = tp.reordering
        total = tp.sacked_out
        i = self.scan_i if self.scan_i > self.una else self.una
        below = self.sacked_below
        q = self.q
        base = self.qbase
        nxt = self.nxt
        while i < nxt:
            seg = q[i - base]
            if seg.sacked & TCPCB_SACKED_ACKED:
                below += 1
            elif total - below >= thr:
                if not seg.sacked & TCPCB_LOST:
                    self._mark_lost(i, seg)
            else:
                break
            i += 1
        self.scan_i = i
        self.sacked_below = below

    def _time_to_recover(self) -> bool:
        tp = self.tp
        if self.rack:
            return bool(tp.lost_out)
        return bool(tp.lost_out) or tp.sacked_out + 1 > tp.reordering

    def _fastretrans_alert(self, prior_una: int, num_dupack: int, flag: int) -> tuple[int, int]:
        """``tcp_fastretrans_alert()``: the CA state machine; returns (flag, rexmit)."""
        tp = self.tp
        ece_ack = bool(flag & FLAG_ECE)
        do_lost = bool(num_dupack) or bool(flag & FLAG_DATA_SACKED and self._force_fast_retransmit())
        fast_rexmit = False
        if not tp.packets_out and tp.sacked_out:
            tp.sacked_out = 0
        if ece_ack:
            tp.prior_ssthresh = 0
        state = tp.icsk_ca_state
        if state == TCP_CA_Open:
            tp.retrans_stamp = 0
        elif self.una >= self.high_i:
            if state == TCP_CA_CWR:
                if self.una != self.high_i:
                    self._end_cwnd_reduction()
                    self._set_ca_state(TCP_CA_Open)
            elif state == TCP_CA_Recovery:
                if self._try_undo_recovery():
                    return flag, REXMIT_NONE
                self._end_cwnd_reduction()
        state = tp.icsk_ca_state
        if state == TCP_CA_Recovery:
            if flag & FLAG_SND_UNA_ADVANCED:
                stop, do_lost = self._try_undo_partial(prior_una)
                if stop:
                    return flag, REXMIT_NONE
            if self._try_undo_dsack():
                self._try_to_open(flag)
            self._identify_packet_loss()
            if tp.icsk_ca_state != TCP_CA_Recovery:
                if not self._time_to_recover():
                    return flag, REXMIT_NONE
                self._enter_recovery(ece_ack)
        else:
            if state == TCP_CA_Loss:
                rexmit = self._process_loss(flag)
                prior_retrans = tp.retrans_out
                self._identify_packet_loss()
                if prior_retrans > tp.retrans_out:
                    flag |= FLAG_LOST_RETRANS
                if not (tp.icsk_ca_state == TCP_CA_Open or flag & FLAG_LOST_RETRANS):
                    return flag, rexmit
            if tp.icsk_ca_state <= TCP_CA_Disorder:
                self._try_undo_dsack()
            self._identify_packet_loss()
            if not self._time_to_recover():
                self._try_to_open(flag)
                return flag, REXMIT_NONE
            self._enter_recovery(ece_ack)
            fast_rexmit = True
        if (do_lost or fast_rexmit) and not self.rack:
            self._identify_packet_loss()
            if fast_rexmit and self.una < self.nxt:
                head = self._seg(self.una)
                if not head.sacked & (TCPCB_SACKED_ACKED | TCPCB_LOST):
                    self._mark_lost(self.una, head)
        return flag, REXMIT_LOST

    def _process_loss(self, flag: int) -> int:
        """``tcp_process_loss()`` without F-RTO."""
        if flag & FLAG_SND_UNA_ADVANCED and self._try_undo_loss():
            return REXMIT_NONE
        if self.una >= self.high_i:
            self._try_undo_recovery()
            return REXMIT_NONE
        return REXMIT_LOST


__all__ = ["Recovery"]
