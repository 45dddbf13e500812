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
This module is the receive side of the sender (``tcp_ack``); transmitting and the RTO
timer are in :mod:`structops.sim.output`, loss recovery in :mod:`structops.sim.recovery`.
"""

from __future__ import annotations

from structops.sim.consts import (
    CA_ACK_ECE,
    CA_ACK_SLOWPATH,
    CA_ACK_WIN_UPDATE,
    FLAG_ACKED,
    FLAG_CA_ALERT,
    FLAG_DATA_ACKED,
    FLAG_DATA_SACKED,
    FLAG_DSACKING_ACK,
    FLAG_ECE,
    FLAG_FORWARD_PROGRESS,
    FLAG_NOT_DUP,
    FLAG_ORIG_SACK_ACKED,
    FLAG_RETRANS_DATA_ACKED,
    FLAG_SET_XMIT_TIMER,
    FLAG_SLOWPATH,
    FLAG_SND_UNA_ADVANCED,
    FLAG_WIN_UPDATE,
    TCP_CA_CWR,
    TCP_CA_PRIV_SIZE,
    TCP_CONG_NEEDS_ECN,
    TCP_DEFAULT_REORDERING,
    TCP_ECN_OK,
    TCP_MIN_RTT_WLEN_S,
    TCP_RTO_MAX_US,
    U32,
    TCP_CA_Open,
    TCP_CA_Recovery,
)
from structops.sim.estimators import Estimators
from structops.sim.flowbase import (
    REXMIT_NONE,
    TCPCB_EVER_RETRANS,
    TCPCB_LOST,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
)
from structops.sim.ops import TcpCongestionOps
from structops.sim.output import Output
from structops.sim.receiver import TcpReceiver
from structops.sim.sock import AckSample, RateSample, TcpSock
from structops.sim.tcp_cong import minmax_running_min


class TcpFlow(Output, Estimators):
    """One connection: a sender :class:`TcpSock` (``tp``), its receiver and stats."""

    __slots__ = ()

    def open(self, ops: TcpCongestionOps) -> None:
        """Become established: ``tcp_init_transfer()`` then ``tcp_init_congestion_control()``
        on each socket.  ``ops`` is the client socket's CC (its connect-time choice); an
        accepted socket takes its listener's.  With a :attr:`peer` (data both ways) the
        peer sends from this flow's receiving socket to its sending one."""
        if self.direction == "down":
            self._open_down(ops)
            return
        tp = self.tp
        self._prepare_sender(ops, bool(self.ecn_wanted or ops.flags & TCP_CONG_NEEDS_ECN))
        self._init_cc(tp)
        rsk = self.new_sock("rcv")
        peer = self.peer
        if peer is not None and self.listener is not None:
            peer.tp = rsk
            peer._prepare_sender(self.listener.ops, bool(tp.ecn_flags & TCP_ECN_OK))
        rsk.rcv_nxt = self.isn
        rsk.tcp_mstamp_refresh(self.sim.now)
        rsk.ecn_flags = tp.ecn_flags
        needs_ecn = bool(ops.flags & TCP_CONG_NEEDS_ECN)
        self.rcv = TcpReceiver(self, rsk, needs_ecn)
        if self.listener is not None:
            # Accepted from a listener: its CC now (a reference), initialised by tcp_init_transfer.
            rsk.icsk_ca_ops = self.listener.ops
            self._init_cc(rsk)
        elif needs_ecn:
            # The receiving socket runs the same CC (it needs the CE events).
            rsk.icsk_ca_ops = ops
            self._init_cc(rsk)
        self._start_sending()
        if peer is not None:
            peer._receive_on(tp)
            peer._start_sending()

    def _open_down(self, client_ops: TcpCongestionOps) -> None:
        """Server-to-client data only: the client socket (``client_ops``, initialised first,
        as the client completes the handshake first) receives; the accepted socket sends
        with the listener's CC."""
        assert self.listener is not None
        client = self.new_sock("rcv")
        client.tcp_mstamp_refresh(self.sim.now)
        client.icsk_ca_ops = client_ops
        client.icsk_ca_priv[:] = bytes(TCP_CA_PRIV_SIZE)
        ecn_ok = bool(self.ecn_wanted or client_ops.flags & TCP_CONG_NEEDS_ECN)  # the client asks in its SYN
        if ecn_ok:
            client.ecn_flags = TCP_ECN_OK
        self._init_cc(client)
        self._prepare_sender(self.listener.ops, ecn_ok)
        self._init_cc(self.tp)
        self._receive_on(client)
        self._start_sending()

    def _prepare_sender(self, ops: TcpCongestionOps, ecn_ok: bool) -> None:
        """The sending socket ``tp`` established with ``ops`` (not yet initialised)."""
        tp = self.tp
        sim = self.sim
        tp.tcp_mstamp_refresh(sim.now)
        tp.snd_una = tp.snd_nxt = tp.write_seq = tp.high_seq = tp.rtt_seq = tp.cwnd_usage_seq = self.isn
        tp.icsk_ca_ops = ops
        tp.icsk_ca_priv[:] = bytes(TCP_CA_PRIV_SIZE)
        tp.icsk_rto = self.rto_us * sim.config.hz // 1_000_000
        tp.snd_cwnd = min(sim.config.init_cwnd, tp.snd_cwnd_clamp)
        tp.snd_cwnd_stamp = self._jiffies()
        tp.rtt_min = [self._jiffies(), U32, self._jiffies(), U32, self._jiffies(), U32]
        if ecn_ok:
            tp.ecn_flags = TCP_ECN_OK
        self.ops = ops
        # The handshake is not simulated, but like tcp_synack_rtt_meas() its RTT
        # sample (the path's base RTT) seeds srtt / rto before the first data.
        self._rtt_estimator(self.base_rtt_us)
        self.rto_us = min((tp.srtt_us >> 3) + tp.rttvar_us, TCP_RTO_MAX_US)
        tp.icsk_rto = self.rto_us * sim.config.hz // 1_000_000
        minmax_running_min(tp.rtt_min, TCP_MIN_RTT_WLEN_S * sim.config.hz, self._jiffies(), self.base_rtt_us)

    def _receive_on(self, sk: TcpSock) -> None:
        """Receive this flow's data on the client socket ``sk`` (CE events if its CC needs ECN)."""
        sk.rcv_nxt = self.isn
        sk.tcp_mstamp_refresh(self.sim.now)
        ops = sk.icsk_ca_ops
        self.rcv = TcpReceiver(self, sk, ops is not None and bool(ops.flags & TCP_CONG_NEEDS_ECN))

    def _start_sending(self) -> None:
        if self.size_bytes is not None:
            self.tp.write_seq = self._seq(self.end)
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
        """Stop sending; close both sockets (``release`` where the CC was initialised) unless
        the :attr:`peer` direction still runs."""
        if self.closed:
            return
        self.closed = True
        self.end_us = self.sim.now // 1000
        self.rto_deadline_ns = -1
        if self.peer is not None and not self.peer.closed:
            return  # the other direction still uses both sockets: the last to finish closes them
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
        tp.tcp_mstamp_refresh(self.sim.now)
        self._rate_check_app_limited()
        # tcp_skb_entail -> tcp_slow_start_after_idle_check
        if not tp.packets_out and tp.icsk_ca_ops.cong_control is None and self.sim.config.slow_start_after_idle:
            delta = (self._jiffies() - tp.lsndtime) & U32
            if delta < 0x80000000 and delta > tp.icsk_rto and tp.data_segs_out:
                self._cwnd_restart(delta)
        self.end += -(-nbytes // self.mss)
        tp.write_seq = self._seq(self.end)
        self.write_xmit()

    def on_ack(self, ack_i: int, sack_i: int, dsack_i: int, ece: int, tsecr: int) -> None:
        """``tcp_ack()`` for one ACK (cumulative ``ack_i``, optional SACK / D-SACK)."""
        if self.closed:
            return
        tp = self.tp
        now = self.sim.now
        tp.tcp_clock_cache = now  # tcp_mstamp_refresh
        tp.tcp_mstamp = now // 1000
        prior_una = self.una
        if ack_i < prior_una or ack_i > self.nxt:
            return
        ops = tp.icsk_ca_ops
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
                if tp.retrans_out and self.retx_fifo and not self.rack:
                    flag |= self._mark_lost_retrans()
            if ece and tp.ecn_flags & TCP_ECN_OK:
                flag |= FLAG_ECE
            if sack_state[2]:
                tp.delivered += sack_state[2]
                if flag & FLAG_ECE:
                    tp.delivered_ce += sack_state[2]
        self.una = ack_i
        tp.snd_una = (self.isn + ack_i * self.mss) & U32
        rexmit = REXMIT_NONE
        set_timer = False
        if not prior_packets:
            if ops.in_ack_event is not None:
                self._in_ack_event(flag)
            if flag & FLAG_DSACKING_ACK:
                flag, rexmit = self._fastretrans_alert(prior_una, 0, flag)
        else:
            flag |= self._clean_rtx_queue(prior_una, ack_i, sack_state, rs, flag)
            if ops.in_ack_event is not None:
                self._in_ack_event(flag)
            if not flag & FLAG_NOT_DUP or flag & FLAG_CA_ALERT or tp.icsk_ca_state != TCP_CA_Open:
                num_dupack = 0
                if not flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DSACKING_ACK):
                    num_dupack = 1
                flag, rexmit = self._fastretrans_alert(prior_una, num_dupack, flag)
            if tp.tlp_high_seq:
                self._process_tlp_ack(ack_i, flag)
            if flag & FLAG_SET_XMIT_TIMER:  # tcp_set_xmit_timer
                if rexmit == REXMIT_NONE and self.tlp:
                    set_timer = True  # after write_xmit, unless its probe supersedes it
                elif not self._schedule_loss_probe(True):
                    self._rearm_rto()
            delivered = (tp.delivered - prior_delivered) & U32
            lost = (tp.lost - prior_lost) & U32
            self._rate_gen(delivered, lost, is_sack_reneg, rs)
            self._cong_control(tp.snd_una, delivered, flag, rs)
        if rexmit != REXMIT_NONE:
            self.xmit_retransmit_queue()
        # When new data goes out, its loss probe re-arms the timer from the same state
        # and replaces what tcp_set_xmit_timer set; nothing in between reads the timer.
        if not self.write_xmit() and set_timer and not self._schedule_loss_probe(True):
            self._rearm_rto()
        if self.size_bytes is not None and self.una >= self.end and not tp.packets_out and self.pending_writes <= 0:
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
        if dup_sack and s & TCPCB_EVER_RETRANS and self.undo_i >= 0 and tp.undo_retrans > 0 and i >= self.undo_i:
            tp.undo_retrans -= 1
        if not s & TCPCB_SACKED_ACKED:
            if s & TCPCB_SACKED_RETRANS:
                if s & TCPCB_LOST:
                    s &= ~(TCPCB_LOST | TCPCB_SACKED_RETRANS)
                    tp.lost_out -= 1
                    tp.retrans_out -= 1
            else:
                if not s & TCPCB_EVER_RETRANS:
                    if i < self.high_i:
                        flag |= FLAG_ORIG_SACK_ACKED
                    if not st[0]:
                        st[0] = seg.tx_us or 1
                    st[1] = seg.tx_us or 1
                if s & TCPCB_LOST:
                    s &= ~TCPCB_LOST
                    tp.lost_out -= 1
            if self.rack:
                self._rack_advance(i, seg, seg.sacked)
            s |= TCPCB_SACKED_ACKED
            flag |= FLAG_DATA_SACKED
            tp.sacked_out += 1
            st[2] += 1
            if i > self.highest_sack_i:
                self.highest_sack_i = i
            if i < self.scan_i:
                self.sacked_below += 1
            seg.sacked = s
            self._rate_skb_delivered(i, seg, rs)
        if dup_sack and s & TCPCB_SACKED_RETRANS:
            s &= ~TCPCB_SACKED_RETRANS
            tp.retrans_out -= 1
        seg.sacked = s
        return flag

    def _clean_rtx_queue(self, prior_una: int, ack_i: int, st: list[int], rs: RateSample, flag_in: int) -> int:
        """``tcp_clean_rtx_queue()``: drop acked segments, RTT sample, ``pkts_acked``."""
        tp = self.tp
        ece_ack = flag_in & FLAG_ECE
        flag = 0
        first_ackt = 0
        last_ackt = 0
        delivered_now = 0
        q = self.q
        base = self.qbase
        scan_i = self.scan_i
        high_i = self.high_i
        track = self.rack and bool(tp.sacked_out or tp.retrans_out or tp.lost_out)
        # The rate sample of a run of plain segments is the last one's: sent once and in
        # order, each one taken supersedes the one before (and if the last is not taken,
        # none is), so tcp_rate_skb_delivered runs for that one only, before the next
        # other segment.
        rate_i = -1
        rate_seg = None
        for i in range(prior_una, ack_i):
            seg = q[i - base]
            s = seg.sacked
            if not s:  # the common case: sent once, neither SACKed nor marked lost
                last_ackt = seg.tx_us or 1
                if not first_ackt:
                    first_ackt = last_ackt
                if i < high_i:
                    flag |= FLAG_ORIG_SACK_ACKED
                delivered_now += 1
                if track:
                    self._rack_advance(i, seg, 0)
                if seg.dlv_mstamp:
                    rate_i = i
                    rate_seg = seg
                continue
            if rate_seg is not None:
                self._rate_skb_delivered(rate_i, rate_seg, rs)
                rate_seg = None
            if s & TCPCB_EVER_RETRANS:
                if s & TCPCB_SACKED_RETRANS:
                    tp.retrans_out -= 1
                flag |= FLAG_RETRANS_DATA_ACKED
            elif not s & TCPCB_SACKED_ACKED:
                last_ackt = seg.tx_us or 1
                if not first_ackt:
                    first_ackt = last_ackt
                if i < high_i:
                    flag |= FLAG_ORIG_SACK_ACKED
            if s & TCPCB_SACKED_ACKED:
                tp.sacked_out -= 1
                if i < scan_i:
                    self.sacked_below -= 1
            else:
                delivered_now += 1
                if track:
                    self._rack_advance(i, seg, s)
            if s & TCPCB_LOST:
                tp.lost_out -= 1
            if seg.dlv_mstamp:
                self._rate_skb_delivered(i, seg, rs)
        if rate_seg is not None:
            self._rate_skb_delivered(rate_i, rate_seg, rs)
        pkts_acked = ack_i - prior_una
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
                if self.oplog is None and not tp.NEEDS_SYNC:  # call_op's common case, inlined
                    ops.cong_avoid(tp, ack, acked_sacked)
                    tp.truncate_writable()
                else:
                    self.call_op(tp, "cong_avoid", ack, acked_sacked)
                tp.snd_cwnd_stamp = (self.sim.now * self.hz // 1_000_000_000) & U32
        self._update_pacing_rate()


__all__ = ["TcpFlow"]
