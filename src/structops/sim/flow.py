"""TcpFlow: one simulated TCP connection whose sender follows the kernel's ACK path.

The sender calls the congestion-control ops at the points and in the order of
net/ipv4/tcp_input.c ``tcp_ack()`` (6.18):

1. SACK tagging, then ``tcp_clean_rtx_queue()`` which ends with ``pkts_acked``;
2. ``tcp_in_ack_event()`` -> ``in_ack_event(flags)`` (moved after the rtx queue
   clean-up in 6.14, so the CC already sees this ACK's ``delivered``);
3. ``tcp_fastretrans_alert()`` for dubious ACKs: state changes through
   ``tcp_set_ca_state()`` (``set_state`` *before* ``icsk_ca_state`` changes),
   ``ssthresh`` in ``tcp_init_cwnd_reduction()`` / ``tcp_enter_loss()``,
   ``undo_cwnd`` in ``tcp_undo_cwnd_reduction()``,
   ``cwnd_event(CA_EVENT_COMPLETE_CWR)`` in ``tcp_end_cwnd_reduction()``;
4. ``tcp_rate_gen()`` fills the :class:`RateSample`;
5. ``tcp_cong_control()``: ``cong_control(ack, flag, rs)`` when present, else PRR
   (``tcp_cwnd_reduction``) in CWR/Recovery or ``cong_avoid(ack, acked)`` when
   ``tcp_may_raise_cwnd()``, then ``tcp_update_pacing_rate()``;
6. retransmissions (``tcp_xmit_retransmit_queue``) and new data
   (``tcp_write_xmit``, ``tcp_cwnd_validate``); ``cwnd_event(CA_EVENT_TX_START)``
   when sending with nothing in flight (``tcp_event_data_sent``).

The RTO timer runs ``tcp_enter_loss()`` (``ssthresh``, ``cwnd_event(CA_EVENT_LOSS)``,
``set_state(TCP_CA_Loss)``) with exponential backoff.  Loss marking uses the SACK
scoreboard (RFC 6675 IsLost with DupThresh ``tp->reordering``) instead of RACK-TLP;
there is no TLP and no F-RTO.  Undo uses D-SACK and the timestamp echo
(``tcp_packet_delayed``).  Sequence space is counted in whole segments of
``mss`` bytes internally and mirrored into the u32 byte fields of :class:`TcpSock`.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from structops.sim.consts import (
    CA_ACK_ECE,
    CA_ACK_SLOWPATH,
    CA_ACK_WIN_UPDATE,
    CA_EVENT_COMPLETE_CWR,
    CA_EVENT_CWND_RESTART,
    CA_EVENT_LOSS,
    CA_EVENT_TX_START,
    FLAG_ACKED,
    FLAG_CA_ALERT,
    FLAG_DATA_ACKED,
    FLAG_DATA_SACKED,
    FLAG_DSACKING_ACK,
    FLAG_ECE,
    FLAG_FORWARD_PROGRESS,
    FLAG_LOST_RETRANS,
    FLAG_NOT_DUP,
    FLAG_ORIG_SACK_ACKED,
    FLAG_RETRANS_DATA_ACKED,
    FLAG_SET_XMIT_TIMER,
    FLAG_SLOWPATH,
    FLAG_SND_UNA_ADVANCED,
    FLAG_WIN_UPDATE,
    SK_PACING_NONE,
    TCP_CA_CWR,
    TCP_CA_PRIV_SIZE,
    TCP_CONG_NEEDS_ECN,
    TCP_DEFAULT_REORDERING,
    TCP_ECN_OK,
    TCP_ECN_QUEUE_CWR,
    TCP_INFINITE_SSTHRESH,
    TCP_MIN_RTT_WLEN_S,
    TCP_PACING_CA_RATIO,
    TCP_PACING_SS_RATIO,
    TCP_RTO_MAX_US,
    TCP_RTO_MIN_US,
    TCP_TIMEOUT_INIT_US,
    U32,
    U64,
    TCP_CA_Disorder,
    TCP_CA_Loss,
    TCP_CA_Open,
    TCP_CA_Recovery,
)
from structops.sim.ops import TcpCongestionOps
from structops.sim.receiver import TcpReceiver
from structops.sim.sock import AckSample, RateSample, TcpSock
from structops.sim.tcp_cong import minmax_running_min, tcp_current_ssthresh, tcp_is_cwnd_limited

if TYPE_CHECKING:
    from structops.sim.engine import Simulator

# TCP_SKB_CB(skb)->sacked bits (TCPCB_*)
_S = 0x01  # TCPCB_SACKED_ACKED
_R = 0x02  # TCPCB_SACKED_RETRANS
_L = 0x04  # TCPCB_LOST
_EVER = 0x80  # TCPCB_EVER_RETRANS

_REXMIT_NONE = 0
_REXMIT_LOST = 1


class _Seg:
    """Retransmit-queue entry: one segment's scoreboard bits and rate-sample stamps."""

    __slots__ = ("app_limited", "dlv", "dlv_ce", "dlv_mstamp", "first_tx", "retx_nxt", "sacked", "tx_us")

    def __init__(self) -> None:
        self.tx_us = 0
        self.sacked = 0
        self.first_tx = 0
        self.dlv = 0
        self.dlv_mstamp = 0
        self.dlv_ce = 0
        self.app_limited = False
        self.retx_nxt = 0


class TcpFlow:
    """One connection: a sender :class:`TcpSock` (``tp``), its receiver and stats."""

    def __init__(
        self,
        sim: Simulator,
        flow_id: int,
        *,
        base_rtt_us: int,
        start_us: int,
        size_bytes: int | None,
        isn: int,
        ecn: bool,
    ) -> None:
        cfg = sim.config
        self.sim = sim
        self.flow_id = flow_id
        self.mss = cfg.mss
        self.isn = isn & U32
        self.base_rtt_us = base_rtt_us
        self.fwd_delay_ns = base_rtt_us * 500  # half the RTT, in ns
        self.rev_delay_ns = base_rtt_us * 1000 - self.fwd_delay_ns
        self.start_us = start_us
        self.end_us: int | None = None
        self.closed = False
        self.ecn_wanted = ecn
        self.tp = TcpSock(cfg.mss, flow_id=flow_id, role="snd")
        self.rcv: TcpReceiver | None = None
        self.ops: TcpCongestionOps | None = None
        self.oplog: list[tuple[int, str, str, tuple[Any, ...]]] | None = [] if cfg.trace_ops else None
        self.trace: list[tuple[int, int, int, int, int, int, int]] = []
        # sequence space in segments
        self.una = 0
        self.nxt = 0
        self.end = 0 if size_bytes is not None else 1 << 62
        self.size_bytes = size_bytes
        if size_bytes is not None:
            self.end = -(-size_bytes // cfg.mss)
        self.high_i = 0
        self.undo_i = -1
        self.rtt_seq_i = 0
        self.cwnd_usage_i = 0
        self.highest_sack_i = -1
        self.q: list[_Seg] = []
        self.qbase = 0
        self.scan_i = 0
        self.sacked_below = 0
        self.rtx_i = 0
        self.retx_fifo: deque[int] = deque()
        self.rto_us = TCP_TIMEOUT_INIT_US
        self.rto_deadline_ns = -1
        self.rto_event_ns = -1
        self.next_tx_ns = 0
        self.pace_event_ns = -1
        # stats
        self.rtt_sum = 0
        self.rtt_cnt = 0
        self.rto_count = 0
        self.drops = 0
        self.drop_plan: dict[int, int] = {}
        self.pending_writes = 0
        self.total_bytes = size_bytes

    # -- time helpers ----------------------------------------------------------
    def _jiffies(self) -> int:
        return (self.sim.now * self.sim.config.hz // 1_000_000_000) & U32

    def _seq(self, i: int) -> int:
        return (self.isn + i * self.mss) & U32

    def _seg(self, i: int) -> _Seg:
        return self.q[i - self.qbase]

    # -- op calls ----------------------------------------------------------------
    def call_op(self, sk: TcpSock, name: str, *args: Any) -> Any:
        """Call ``sk``'s CC op ``name`` if present, with bridge sync and T8 truncation."""
        fn = getattr(sk.icsk_ca_ops, name)
        if fn is None:
            return None
        if self.oplog is not None:
            self.oplog.append((self.sim.now // 1000, sk.sim_role, name, args))
        if sk.NEEDS_SYNC:
            sk.sync_to_kernel()
        ret = fn(sk, *args)
        if sk.NEEDS_SYNC:
            sk.sync_from_kernel()
        sk.truncate_writable()
        return ret

    def _ca_event(self, ev: int) -> None:
        if self.tp.icsk_ca_ops.cwnd_event is not None:
            self.call_op(self.tp, "cwnd_event", ev)

    def _set_ca_state(self, state: int) -> None:
        """``tcp_set_ca_state()``: the op sees the old state still in the socket."""
        tp = self.tp
        if tp.icsk_ca_ops.set_state is not None:
            self.call_op(tp, "set_state", state)
        tp.icsk_ca_state = state

    def _ssthresh(self) -> int:
        return int(self.call_op(self.tp, "ssthresh")) & U32

    # -- lifecycle ---------------------------------------------------------------
    def open(self, ops: TcpCongestionOps) -> None:
        """Become established: ``tcp_init_transfer()`` then ``tcp_init_congestion_control()``."""
        tp = self.tp
        sim = self.sim
        now_us = sim.now // 1000
        tp.tcp_mstamp = now_us
        tp.snd_una = tp.snd_nxt = tp.write_seq = tp.high_seq = tp.rtt_seq = tp.cwnd_usage_seq = self.isn
        tp.icsk_ca_ops = ops
        tp.icsk_ca_priv[:] = bytes(TCP_CA_PRIV_SIZE)
        tp.icsk_rto = self.rto_us * sim.config.hz // 1_000_000
        tp.snd_cwnd = min(sim.config.init_cwnd, tp.snd_cwnd_clamp)
        tp.snd_cwnd_stamp = self._jiffies()
        tp.rtt_min = [self._jiffies(), U32, self._jiffies(), U32, self._jiffies(), U32]
        if self.ecn_wanted or ops.flags & TCP_CONG_NEEDS_ECN:
            tp.ecn_flags = TCP_ECN_OK
        self.ops = ops
        # The handshake is not simulated, but like tcp_synack_rtt_meas() its RTT
        # sample (the path's base RTT) seeds srtt / rto before the first data.
        self._rtt_estimator(self.base_rtt_us)
        self.rto_us = min((tp.srtt_us >> 3) + tp.rttvar_us, TCP_RTO_MAX_US)
        tp.icsk_rto = self.rto_us * sim.config.hz // 1_000_000
        minmax_running_min(tp.rtt_min, TCP_MIN_RTT_WLEN_S * sim.config.hz, self._jiffies(), self.base_rtt_us)
        self._init_cc(tp)
        rsk = TcpSock(self.mss, flow_id=self.flow_id, role="rcv")
        rsk.rcv_nxt = self.isn
        rsk.tcp_mstamp = now_us
        rsk.ecn_flags = tp.ecn_flags
        needs_ecn = bool(ops.flags & TCP_CONG_NEEDS_ECN)
        self.rcv = TcpReceiver(self, rsk, needs_ecn)
        if needs_ecn:
            # The receiving socket runs the same CC (it needs the CE events).
            rsk.icsk_ca_ops = ops
            self._init_cc(rsk)
        if self.size_bytes is not None:
            tp.write_seq = self._seq(self.end)
        self.write_xmit()

    def _init_cc(self, sk: TcpSock) -> None:
        sk.prior_ssthresh = 0
        if sk.icsk_ca_ops.init is not None:
            self.call_op(sk, "init")
        sk.icsk_ca_initialized = 1

    def _cleanup_cc(self, sk: TcpSock) -> None:
        """``tcp_cleanup_congestion_control()``: release if initialised."""
        if sk.icsk_ca_initialized and sk.icsk_ca_ops is not None and sk.icsk_ca_ops.release is not None:
            self.call_op(sk, "release")
        sk.icsk_ca_initialized = 0

    def set_congestion_control(self, ops: TcpCongestionOps) -> None:
        """``tcp_reinit_congestion_control()`` (setsockopt TCP_CONGESTION on a live socket)."""
        tp = self.tp
        if ops is tp.icsk_ca_ops:
            tp.icsk_ca_setsockopt = 1
            return
        self._cleanup_cc(tp)
        tp.icsk_ca_ops = ops
        tp.icsk_ca_setsockopt = 1
        tp.icsk_ca_priv[:] = bytes(TCP_CA_PRIV_SIZE)
        self.ops = ops
        if not self.closed:
            self._init_cc(tp)

    def close(self) -> None:
        """Close both sockets, calling ``release`` where the CC was initialised."""
        if self.closed:
            return
        self.closed = True
        self.end_us = self.sim.now // 1000
        self.rto_deadline_ns = -1
        self._cleanup_cc(self.tp)
        if self.rcv is not None and self.rcv.sk.icsk_ca_ops is not None:
            self._cleanup_cc(self.rcv.sk)

    def app_write(self, nbytes: int) -> None:
        """The application queues ``nbytes`` more (``tcp_sendmsg``)."""
        self.pending_writes -= 1
        if self.closed or nbytes <= 0:
            return
        if self.total_bytes is not None:
            self.total_bytes += nbytes
        tp = self.tp
        tp.tcp_mstamp = self.sim.now // 1000
        self._rate_check_app_limited()
        # tcp_skb_entail -> tcp_slow_start_after_idle_check
        if not tp.packets_out and tp.icsk_ca_ops.cong_control is None and self.sim.config.slow_start_after_idle:
            delta = (self._jiffies() - tp.lsndtime) & U32
            if delta < 0x80000000 and delta > tp.icsk_rto and tp.data_segs_out:
                self._cwnd_restart(delta)
        self.end += -(-nbytes // self.mss)
        tp.write_seq = self._seq(self.end)
        self.write_xmit()

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

    def _rate_check_app_limited(self) -> None:
        """``tcp_rate_check_app_limited()``: mark a bubble when nothing is queued."""
        tp = self.tp
        inflight = tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out
        if self.end - self.nxt < 1 and inflight < tp.snd_cwnd and tp.lost_out <= tp.retrans_out:
            tp.app_limited = ((tp.delivered + inflight) & U32) or 1

    # -- transmit ------------------------------------------------------------------
    def _transmit(self, i: int, seg: _Seg, retrans: bool) -> None:
        """``__tcp_transmit_skb()``: rate stamps, TX_START, pacing, hand to the link."""
        tp = self.tp
        now_us = self.sim.now // 1000
        if not tp.packets_out:
            tp.first_tx_mstamp = now_us
            tp.delivered_mstamp = now_us
        seg.tx_us = now_us
        seg.first_tx = tp.first_tx_mstamp
        seg.dlv_mstamp = tp.delivered_mstamp
        seg.dlv = tp.delivered
        seg.dlv_ce = tp.delivered_ce
        seg.app_limited = tp.app_limited != 0
        # tcp_event_data_sent
        if tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out == 0:
            self._ca_event(CA_EVENT_TX_START)
        tp.lsndtime = self._jiffies()
        tp.segs_out += 1
        tp.data_segs_out += 1
        tp.bytes_sent += self.mss
        cwr = 0
        if not retrans and tp.ecn_flags & TCP_ECN_QUEUE_CWR:
            tp.ecn_flags &= ~TCP_ECN_QUEUE_CWR
            cwr = 1
        ect = 1 if tp.ecn_flags & TCP_ECN_OK else 0
        if tp.sk_pacing_status != SK_PACING_NONE:
            rate = tp.sk_pacing_rate
            if rate and rate != U64 and tp.data_segs_out >= 10:
                now_ns = self.sim.now
                self.next_tx_ns = max(self.next_tx_ns, now_ns) + self.mss * 1_000_000_000 // rate
        self.sim.transmit(self, i, now_us, cwr, ect)

    def _retransmit(self, i: int, seg: _Seg) -> None:
        """``tcp_retransmit_skb()``: resend ``i`` and account it as a retransmission."""
        tp = self.tp
        self._transmit(i, seg, True)
        seg.sacked |= _R | _EVER
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

    def xmit_retransmit_queue(self) -> None:
        """``tcp_xmit_retransmit_queue()``: resend segments marked lost, cwnd permitting."""
        tp = self.tp
        i = max(self.rtx_i, self.una)
        q = self.q
        base = self.qbase
        while i < self.nxt and tp.retrans_out < tp.lost_out:
            if self._pacing_blocked():
                break
            if tp.snd_cwnd - (tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out) <= 0:
                break
            seg = q[i - base]
            s = seg.sacked
            if s & _L and not s & (_S | _R):
                self._retransmit(i, seg)
                if tp.icsk_ca_state in (TCP_CA_CWR, TCP_CA_Recovery):
                    tp.prr_out += 1
                if i == self.una:
                    self._rearm_rto()
            i += 1
        self.rtx_i = i

    def write_xmit(self) -> None:
        """``tcp_write_xmit()``: send new segments while cwnd allows, then validate cwnd."""
        if self.closed:
            return
        tp = self.tp
        sent = 0
        while self.nxt < self.end:
            if self._pacing_blocked():
                break
            if tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out >= tp.snd_cwnd:
                break
            i = self.nxt
            seg = _Seg()
            self.q.append(seg)
            self._transmit(i, seg, False)
            prior_packets = tp.packets_out
            self.nxt = i + 1
            tp.snd_nxt = self._seq(self.nxt)
            tp.packets_out += 1
            if not prior_packets:
                self._rearm_rto()
            sent += 1
        cwnd_limited = tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out >= tp.snd_cwnd
        if sent or cwnd_limited:
            self._cwnd_validate(cwnd_limited)
        if sent and tp.icsk_ca_state in (TCP_CA_CWR, TCP_CA_Recovery):
            tp.prr_out += sent

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
            tp.snd_cwnd_stamp = self._jiffies()
        else:
            if tp.packets_out > tp.snd_cwnd_used:
                tp.snd_cwnd_used = tp.packets_out
            if (
                self.sim.config.slow_start_after_idle
                and ((self._jiffies() - tp.snd_cwnd_stamp) & U32) >= tp.icsk_rto
                and ((self._jiffies() - tp.snd_cwnd_stamp) & U32) < 0x80000000
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
        if not self.tp.packets_out:
            self.rto_deadline_ns = -1
            return
        self.rto_deadline_ns = self.sim.now + self.rto_us * 1000
        if self.rto_event_ns < 0 or self.rto_event_ns > self.rto_deadline_ns:
            self.rto_event_ns = self.rto_deadline_ns
            self.sim.schedule_rto(self, self.rto_deadline_ns)

    def on_pace(self) -> None:
        """The pacing timer fired: resume sending."""
        self.pace_event_ns = -1
        self.tp.tcp_mstamp = self.sim.now // 1000
        self.xmit_retransmit_queue()
        self.write_xmit()

    # -- RTO -------------------------------------------------------------------------
    def on_rto_event(self) -> None:
        """A scheduled RTO check: fire if the (lazily re-armed) deadline passed."""
        self.rto_event_ns = -1
        if self.closed or self.rto_deadline_ns < 0:
            return
        if self.rto_deadline_ns > self.sim.now:
            self.rto_event_ns = self.rto_deadline_ns
            self.sim.schedule_rto(self, self.rto_deadline_ns)
            return
        self.rto_deadline_ns = -1
        self._retransmit_timer()

    def _retransmit_timer(self) -> None:
        """``tcp_retransmit_timer()``: enter Loss, resend the head, back off."""
        tp = self.tp
        if not tp.packets_out:
            return
        tp.tcp_mstamp = self.sim.now // 1000
        self.rto_count += 1
        tp.total_rto += 1
        self._enter_loss()
        head = self._seg(self.una)
        if not head.sacked & _S:
            self._retransmit(self.una, head)
            self.rtx_i = self.una + 1
        tp.icsk_backoff = min(tp.icsk_backoff + 1, 255)
        tp.icsk_retransmits = min(tp.icsk_retransmits + 1, 255)
        self.rto_us = min(self.rto_us * 2, TCP_RTO_MAX_US)
        tp.icsk_rto = self.rto_us * self.sim.config.hz // 1_000_000
        self._rearm_rto()
        self.write_xmit()

    def _mark_lost(self, i: int, seg: _Seg) -> None:
        """``tcp_mark_skb_lost()``."""
        tp = self.tp
        s = seg.sacked
        if s & _S:
            return
        if s & _L:
            if s & _R:
                seg.sacked = s & ~_R
                tp.retrans_out -= 1
                tp.lost += 1
        else:
            tp.lost_out += 1
            seg.sacked = s | _L
            tp.lost += 1
        if i < self.rtx_i:
            self.rtx_i = i

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

    # -- ACK processing ---------------------------------------------------------------
    def on_ack(self, ack_i: int, sack_i: int, dsack_i: int, ece: int, tsecr: int) -> None:
        """``tcp_ack()`` for one ACK (cumulative ``ack_i``, optional SACK / D-SACK)."""
        if self.closed:
            return
        tp = self.tp
        now_us = self.sim.now // 1000
        tp.tcp_mstamp = now_us
        prior_una = self.una
        if ack_i < prior_una or ack_i > self.nxt:
            return
        flag = FLAG_SLOWPATH if (sack_i >= 0 or dsack_i >= 0 or ece) else 0
        rs = RateSample()
        is_sack_reneg = tp.is_sack_reneg
        prior_packets = tp.packets_out
        prior_delivered = tp.delivered
        prior_lost = tp.lost
        if ack_i > prior_una:
            flag |= FLAG_SND_UNA_ADVANCED
            tp.icsk_retransmits = 0
        rs.prior_in_flight = tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out
        tp.rx_opt_saw_tstamp = 1
        tp.rx_opt_rcv_tsecr = tsecr & U32
        sack_state = [0, 0, 0]  # first_sackt, last_sackt, sack_delivered
        if (flag & (FLAG_SLOWPATH | FLAG_SND_UNA_ADVANCED)) == FLAG_SND_UNA_ADVANCED:
            flag |= FLAG_WIN_UPDATE
        else:
            if sack_i >= 0 or dsack_i >= 0:
                flag |= self._sacktag(sack_i, dsack_i, prior_una, sack_state, rs)
                if tp.retrans_out and self.retx_fifo:
                    flag |= self._mark_lost_retrans()
            if ece and tp.ecn_flags & TCP_ECN_OK:
                flag |= FLAG_ECE
            if sack_state[2]:
                tp.delivered += sack_state[2]
                if flag & FLAG_ECE:
                    tp.delivered_ce += sack_state[2]
        self.una = ack_i
        tp.snd_una = self._seq(ack_i)
        rexmit = _REXMIT_NONE
        if not prior_packets:
            self._in_ack_event(flag)
            if flag & FLAG_DSACKING_ACK:
                flag, rexmit = self._fastretrans_alert(prior_una, 0, flag)
            self._finish_ack(rexmit)
            return
        flag |= self._clean_rtx_queue(prior_una, ack_i, sack_state, rs, flag)
        self._in_ack_event(flag)
        if not flag & FLAG_NOT_DUP or flag & FLAG_CA_ALERT or tp.icsk_ca_state != TCP_CA_Open:
            num_dupack = 0
            if not flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DSACKING_ACK):
                num_dupack = 1
            flag, rexmit = self._fastretrans_alert(prior_una, num_dupack, flag)
        if flag & FLAG_SET_XMIT_TIMER:
            self._rearm_rto()
        delivered = (tp.delivered - prior_delivered) & U32
        lost = (tp.lost - prior_lost) & U32
        self._rate_gen(delivered, lost, is_sack_reneg, rs)
        self._cong_control(tp.snd_una, delivered, flag, rs)
        self._finish_ack(rexmit)

    def _finish_ack(self, rexmit: int) -> None:
        if rexmit != _REXMIT_NONE:
            self.xmit_retransmit_queue()
        self.write_xmit()
        if (
            self.size_bytes is not None
            and self.una >= self.end
            and not self.tp.packets_out
            and self.pending_writes <= 0
        ):
            self.close()

    def _in_ack_event(self, flag: int) -> None:
        """``tcp_in_ack_event()``: CA_ACK_* flags derived from the FLAG_* bits."""
        if self.tp.icsk_ca_ops.in_ack_event is None:
            return
        ev = 0
        if flag & FLAG_WIN_UPDATE:
            ev |= CA_ACK_WIN_UPDATE
        if flag & FLAG_SLOWPATH:
            ev |= CA_ACK_SLOWPATH
            if flag & FLAG_ECE:
                ev |= CA_ACK_ECE
        self.call_op(self.tp, "in_ack_event", ev)

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
            if not seg.sacked & _R:
                fifo.popleft()
                continue
            if upto < seg.retx_nxt + thr:
                break
            fifo.popleft()
            self._mark_lost(i, seg)
            flag |= FLAG_LOST_RETRANS
        return flag

    def _sacktag(self, sack_i: int, dsack_i: int, prior_una: int, st: list[int], rs: RateSample) -> int:
        """``tcp_sacktag_write_queue()`` for one SACK block and/or one D-SACK."""
        tp = self.tp
        flag = 0
        if dsack_i >= 0:
            tp.dsack_dups += 1
            if tp.dsack_dups <= tp.total_retrans:  # tcp_dsack_seen
                flag |= FLAG_DSACKING_ACK
                st[2] += 1  # a spurious retransmission is delivered
                if dsack_i < prior_una:
                    if self.undo_i >= 0 and tp.undo_retrans > 0 and dsack_i >= self.undo_i:
                        tp.undo_retrans -= 1
                elif dsack_i < self.nxt:
                    flag |= self._sacktag_one(dsack_i, True, st, rs)
        if sack_i >= 0 and prior_una <= sack_i < self.nxt:
            flag |= self._sacktag_one(sack_i, False, st, rs)
        return flag

    def _sacktag_one(self, i: int, dup_sack: bool, st: list[int], rs: RateSample) -> int:
        """``tcp_sacktag_one()``: tag segment ``i`` SACKed, fixing the counters."""
        tp = self.tp
        seg = self.q[i - self.qbase]
        s = seg.sacked
        flag = 0
        if dup_sack and s & _EVER and self.undo_i >= 0 and tp.undo_retrans > 0 and i >= self.undo_i:
            tp.undo_retrans -= 1
        if not s & _S:
            if s & _R:
                if s & _L:
                    s &= ~(_L | _R)
                    tp.lost_out -= 1
                    tp.retrans_out -= 1
            else:
                if not s & _EVER:
                    if i < self.high_i:
                        flag |= FLAG_ORIG_SACK_ACKED
                    if not st[0]:
                        st[0] = seg.tx_us or 1
                    st[1] = seg.tx_us or 1
                if s & _L:
                    s &= ~_L
                    tp.lost_out -= 1
            s |= _S
            flag |= FLAG_DATA_SACKED
            tp.sacked_out += 1
            st[2] += 1
            if i > self.highest_sack_i:
                self.highest_sack_i = i
            if i < self.scan_i:
                self.sacked_below += 1
            seg.sacked = s
            self._rate_skb_delivered(i, seg, rs)
        if dup_sack and s & _R:
            s &= ~_R
            tp.retrans_out -= 1
        seg.sacked = s
        return flag

    def _rate_skb_delivered(self, i: int, seg: _Seg, rs: RateSample) -> None:
        """``tcp_rate_skb_delivered()``: take the sample from the latest-sent segment."""
        if not seg.dlv_mstamp:
            return
        tp = self.tp
        tx = seg.tx_us
        end_seq = self._seq(i + 1)
        if (
            not rs.prior_delivered
            or tx > tp.first_tx_mstamp
            or (tx == tp.first_tx_mstamp and ((end_seq - rs.last_end_seq) & U32) - 1 < 0x7FFFFFFF)
        ):
            rs.prior_delivered_ce = seg.dlv_ce
            rs.prior_delivered = seg.dlv
            rs.prior_mstamp = seg.dlv_mstamp
            rs.is_app_limited = seg.app_limited
            rs.is_retrans = bool(seg.sacked & (_R | _EVER))
            rs.last_end_seq = end_seq
            tp.first_tx_mstamp = tx
            rs.interval_us = tx - seg.first_tx
        if seg.sacked & _S:
            seg.dlv_mstamp = 0

    def _clean_rtx_queue(self, prior_una: int, ack_i: int, st: list[int], rs: RateSample, flag_in: int) -> int:
        """``tcp_clean_rtx_queue()``: drop acked segments, RTT sample, ``pkts_acked``."""
        tp = self.tp
        ece_ack = flag_in & FLAG_ECE
        flag = 0
        first_ackt = 0
        last_ackt = 0
        pkts_acked = 0
        delivered_now = 0
        q = self.q
        base = self.qbase
        scan_i = self.scan_i
        for i in range(prior_una, ack_i):
            seg = q[i - base]
            s = seg.sacked
            if s & _EVER:
                if s & _R:
                    tp.retrans_out -= 1
                flag |= FLAG_RETRANS_DATA_ACKED
            elif not s & _S:
                last_ackt = seg.tx_us or 1
                if not first_ackt:
                    first_ackt = last_ackt
                if i < self.high_i:
                    flag |= FLAG_ORIG_SACK_ACKED
            if s & _S:
                tp.sacked_out -= 1
                if i < scan_i:
                    self.sacked_below -= 1
            else:
                delivered_now += 1
            if s & _L:
                tp.lost_out -= 1
            pkts_acked += 1
            self._rate_skb_delivered(i, seg, rs)
        if delivered_now:
            tp.delivered += delivered_now
            if ece_ack:
                tp.delivered_ce += delivered_now
        tp.packets_out -= pkts_acked
        if pkts_acked:
            tp.bytes_acked += pkts_acked * self.mss
            flag |= FLAG_DATA_ACKED
            drop = ack_i - base
            if drop > 4096 and drop * 2 > len(q):
                del q[:drop]
                self.qbase = ack_i
        if scan_i < ack_i:
            self.scan_i = ack_i
            self.sacked_below = 0
        if self.rtx_i < ack_i:
            self.rtx_i = ack_i
        now_us = tp.tcp_mstamp
        seq_rtt = -1
        ca_rtt = -1
        sack_rtt = -1
        if flag & FLAG_ACKED:
            flag |= FLAG_SET_XMIT_TIMER
            if first_ackt and not flag & FLAG_RETRANS_DATA_ACKED:
                seq_rtt = now_us - first_ackt
                ca_rtt = now_us - last_ackt
        if st[0]:
            sack_rtt = now_us - st[0]
            ca_rtt = now_us - st[1]
        self._ack_update_rtt(flag, seq_rtt, sack_rtt, ca_rtt, rs)
        if tp.icsk_ca_ops.pkts_acked is not None:
            in_flight = (self.mss * ((tp.delivered - rs.prior_delivered) & U32)) & U32
            self.call_op(tp, "pkts_acked", AckSample(pkts_acked, rs.rtt_us, in_flight))
        return flag

    def _ack_update_rtt(self, flag: int, seq_rtt: int, sack_rtt: int, ca_rtt: int, rs: RateSample) -> None:
        """``tcp_ack_update_rtt()``: Karn's rule, TS fallback, min filter, RTO."""
        tp = self.tp
        if seq_rtt < 0:
            seq_rtt = sack_rtt
        if seq_rtt < 0 and tp.rx_opt_saw_tstamp and tp.rx_opt_rcv_tsecr and flag & FLAG_ACKED:
            delta = (tp.tcp_mstamp - tp.rx_opt_rcv_tsecr) & U32
            if delta < 0x7FFFFFFF:
                seq_rtt = ca_rtt = delta or 1
        rs.rtt_us = ca_rtt
        if seq_rtt < 0:
            return
        wlen = TCP_MIN_RTT_WLEN_S * self.sim.config.hz
        minmax_running_min(tp.rtt_min, wlen, self._jiffies(), ca_rtt or 1)
        self._rtt_estimator(seq_rtt)
        self.rtt_sum += seq_rtt
        self.rtt_cnt += 1
        # tcp_set_rto + tcp_bound_rto
        self.rto_us = min((tp.srtt_us >> 3) + tp.rttvar_us, TCP_RTO_MAX_US)
        tp.icsk_rto = self.rto_us * self.sim.config.hz // 1_000_000
        tp.icsk_backoff = 0

    def _rtt_estimator(self, m: int) -> None:
        """``tcp_rtt_estimator()`` (Jacobson / Karels with Linux's mdev_max tweaks)."""
        tp = self.tp
        srtt = tp.srtt_us
        if srtt:
            m -= srtt >> 3
            srtt += m
            if m < 0:
                m = -m
                m -= tp.mdev_us >> 2
                if m > 0:
                    m >>= 3
            else:
                m -= tp.mdev_us >> 2
            tp.mdev_us += m
            if tp.mdev_us > tp.mdev_max_us:
                tp.mdev_max_us = tp.mdev_us
                if tp.mdev_max_us > tp.rttvar_us:
                    tp.rttvar_us = tp.mdev_max_us
            if self.una > self.rtt_seq_i:
                if tp.mdev_max_us < tp.rttvar_us:
                    tp.rttvar_us -= (tp.rttvar_us - tp.mdev_max_us) >> 2
                self.rtt_seq_i = self.nxt
                tp.rtt_seq = tp.snd_nxt
                tp.mdev_max_us = TCP_RTO_MIN_US
        else:
            srtt = m << 3
            tp.mdev_us = m << 1
            tp.rttvar_us = max(tp.mdev_us, TCP_RTO_MIN_US)
            tp.mdev_max_us = tp.rttvar_us
            self.rtt_seq_i = self.nxt
            tp.rtt_seq = tp.snd_nxt
        tp.srtt_us = max(1, srtt) & U32

    def _rate_gen(self, delivered: int, lost: int, is_sack_reneg: int, rs: RateSample) -> None:
        """``tcp_rate_gen()``: finish the delivery-rate sample of this ACK."""
        tp = self.tp
        if tp.app_limited and ((tp.delivered - tp.app_limited) & U32) - 1 < 0x7FFFFFFF:
            tp.app_limited = 0
        if delivered:
            tp.delivered_mstamp = tp.tcp_mstamp
        rs.acked_sacked = delivered
        rs.losses = lost
        if not rs.prior_mstamp or is_sack_reneg:
            rs.delivered = -1
            rs.interval_us = -1
            return
        rs.delivered = (tp.delivered - rs.prior_delivered) & U32
        rs.delivered_ce = (tp.delivered_ce - rs.prior_delivered_ce) & 0xFFFFF
        snd_us = rs.interval_us
        ack_us = tp.tcp_mstamp - rs.prior_mstamp
        rs.interval_us = max(snd_us, ack_us)
        rs.snd_interval_us = snd_us & U32
        rs.rcv_interval_us = ack_us & U32
        if rs.interval_us < tp.rtt_min[1]:
            rs.interval_us = -1
            return
        if not rs.is_app_limited or rs.delivered * tp.rate_interval_us >= tp.rate_delivered * rs.interval_us:
            tp.rate_delivered = rs.delivered
            tp.rate_interval_us = rs.interval_us & U32
            tp.rate_app_limited = 1 if rs.is_app_limited else 0

    def _cong_control(self, ack: int, acked_sacked: int, flag: int, rs: RateSample) -> None:
        """``tcp_cong_control()``."""
        tp = self.tp
        ops = tp.icsk_ca_ops
        if ops.cong_control is not None:
            self.call_op(tp, "cong_control", ack, flag, rs)
            return
        if tp.icsk_ca_state in (TCP_CA_CWR, TCP_CA_Recovery):
            self._cwnd_reduction(acked_sacked, rs.losses, flag)
        else:
            may_raise = flag & FLAG_DATA_ACKED
            if tp.reordering > TCP_DEFAULT_REORDERING:
                may_raise = flag & FLAG_FORWARD_PROGRESS
            if may_raise:
                self.call_op(tp, "cong_avoid", ack, acked_sacked)
                tp.snd_cwnd_stamp = self._jiffies()
        self._update_pacing_rate()

    def _update_pacing_rate(self) -> None:
        """``tcp_update_pacing_rate()``: 200% (slow start) / 120% of cwnd*mss/srtt."""
        tp = self.tp
        rate = self.mss * ((1_000_000 // 100) << 3)
        if tp.snd_cwnd < tp.snd_ssthresh // 2:
            rate *= TCP_PACING_SS_RATIO
        else:
            rate *= TCP_PACING_CA_RATIO
        rate *= max(tp.snd_cwnd, tp.packets_out)
        if tp.srtt_us:
            rate //= tp.srtt_us
        tp.sk_pacing_rate = min(rate, tp.sk_max_pacing_rate) & U64

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
            sndcnt = max(tp.prr_delivered - tp.prr_out, newly_acked_sacked)
            if flag & FLAG_SND_UNA_ADVANCED and not newly_lost:
                sndcnt += 1
            sndcnt = min(delta, sndcnt)
        sndcnt = max(sndcnt, 0 if tp.prr_out else 1)
        tp.snd_cwnd = (inflight + sndcnt) & U32

    # -- loss recovery state machine (tcp_fastretrans_alert and helpers) ---------------
    def _any_retrans_done(self) -> bool:
        if self.tp.retrans_out:
            return True
        return self.una < self.nxt and bool(self._seg(self.una).sacked & _EVER)

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
                q[i - base].sacked &= ~_L
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

    def _identify_packet_loss(self) -> None:
        """Mark un-SACKed segments with >= ``reordering`` SACKed above them lost."""
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
            if seg.sacked & _S:
                below += 1
            elif total - below >= thr:
                if not seg.sacked & _L:
                    self._mark_lost(i, seg)
            else:
                break
            i += 1
        self.scan_i = i
        self.sacked_below = below

    def _time_to_recover(self) -> bool:
        tp = self.tp
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
                    return flag, _REXMIT_NONE
                self._end_cwnd_reduction()
        state = tp.icsk_ca_state
        if state == TCP_CA_Recovery:
            if flag & FLAG_SND_UNA_ADVANCED:
                stop, do_lost = self._try_undo_partial(prior_una)
                if stop:
                    return flag, _REXMIT_NONE
            if self._try_undo_dsack():
                self._try_to_open(flag)
            self._identify_packet_loss()
            if tp.icsk_ca_state != TCP_CA_Recovery:
                if not self._time_to_recover():
                    return flag, _REXMIT_NONE
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
                return flag, _REXMIT_NONE
            self._enter_recovery(ece_ack)
            fast_rexmit = True
        if do_lost or fast_rexmit:
            self._identify_packet_loss()
            if fast_rexmit and self.una < self.nxt:
                head = self._seg(self.una)
                if not head.sacked & (_S | _L):
                    self._mark_lost(self.una, head)
        return flag, _REXMIT_LOST

    def _process_loss(self, flag: int) -> int:
        """``tcp_process_loss()`` without F-RTO."""
        if flag & FLAG_SND_UNA_ADVANCED and self._try_undo_loss():
            return _REXMIT_NONE
        if self.una >= self.high_i:
            self._try_undo_recovery()
            return _REXMIT_NONE
        return _REXMIT_LOST

    # -- observation -------------------------------------------------------------------
    def sample(self, t_us: int) -> None:
        """Append one trace row (t, cwnd, ssthresh, inflight, delivered bytes, srtt, state)."""
        tp = self.tp
        self.trace.append(
            (
                t_us,
                tp.snd_cwnd,
                tp.snd_ssthresh,
                tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out,
                tp.delivered * self.mss,
                tp.srtt_us >> 3,
                tp.icsk_ca_state,
            )
        )

    def inflight(self) -> int:
        """``tcp_packets_in_flight()`` of the sender."""
        tp = self.tp
        return tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out


__all__ = ["TcpFlow"]
