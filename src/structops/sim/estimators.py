"""RTT estimation and delivery-rate sampling of the sender (tcp_input.c, tcp_rate.c).

``tcp_rtt_estimator``/``tcp_set_rto``/``tcp_ack_update_rtt`` (Karn's rule, TS-ECR
fallback, ``rtt_min`` filter), ``tcp_rate_skb_delivered``/``tcp_rate_gen``/
``tcp_rate_check_app_limited`` (struct rate_sample), ``tcp_update_pacing_rate``.
"""

from __future__ import annotations

from structops.sim.consts import (
    FLAG_ACKED,
    TCP_MIN_RTT_WLEN_S,
    TCP_PACING_CA_RATIO,
    TCP_PACING_SS_RATIO,
    TCP_RTO_MAX_US,
    TCP_RTO_MIN_US,
    U32,
    U64,
)
from structops.sim.flowbase import TCPCB_EVER_RETRANS, TCPCB_SACKED_ACKED, TCPCB_SACKED_RETRANS, FlowBase, Seg
from structops.sim.sock import RateSample
from structops.sim.tcp_cong import minmax_running_min

_RETRANS_BITS = TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS


class Estimators(FlowBase):
    """RTT and delivery-rate estimation mixed into :class:`~structops.sim.flow.TcpFlow`."""

    __slots__ = ()

    def _rate_check_app_limited(self) -> None:
        """``tcp_rate_check_app_limited()``: mark a bubble when nothing is queued."""
        tp = self.tp
        inflight = tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out
        if self.end - self.nxt < 1 and inflight < tp.snd_cwnd and tp.lost_out <= tp.retrans_out:
            tp.app_limited = ((tp.delivered + inflight) & U32) or 1

    def _rate_skb_delivered(self, i: int, seg: Seg, rs: RateSample) -> None:
        """``tcp_rate_skb_delivered()``: take the sample from the latest-sent segment."""
        if not seg.dlv_mstamp:
            return
        tp = self.tp
        tx = seg.tx_us
        first = tp.first_tx_mstamp
        end_seq = (self.isn + (i + 1) * self.mss) & U32
        if (
            tx > first
            or not rs.prior_delivered
            or (tx == first and ((end_seq - rs.last_end_seq) & U32) - 1 < 0x7FFFFFFF)
        ):
            rs.prior_delivered_ce = seg.dlv_ce
            rs.prior_delivered = seg.dlv
            rs.prior_mstamp = seg.dlv_mstamp
            rs.is_app_limited = seg.app_limited
            rs.is_retrans = seg.sacked & _RETRANS_BITS != 0
            rs.last_end_seq = end_seq
            tp.first_tx_mstamp = tx
            rs.interval_us = tx - seg.first_tx
        if seg.sacked & TCPCB_SACKED_ACKED:
            seg.dlv_mstamp = 0

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
        hz = self.hz
        minmax_running_min(tp.rtt_min, TCP_MIN_RTT_WLEN_S * hz, self.sim.now * hz // 1_000_000_000, ca_rtt or 1)
        self._rtt_estimator(seq_rtt)
        self.rtt_sum += seq_rtt
        self.rtt_cnt += 1
        # tcp_set_rto + tcp_bound_rto
        rto = (tp.srtt_us >> 3) + tp.rttvar_us
        self.rto_us = rto if rto < TCP_RTO_MAX_US else TCP_RTO_MAX_US
        tp.icsk_rto = self.rto_us * hz // 1_000_000
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
        tp.srtt_us = (srtt if srtt > 1 else 1) & U32

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
        dlv = rs.delivered = (tp.delivered - rs.prior_delivered) & U32
        rs.delivered_ce = (tp.delivered_ce - rs.prior_delivered_ce) & 0xFFFFF
        snd_us = rs.interval_us
        ack_us = tp.tcp_mstamp - rs.prior_mstamp
        interval = snd_us if snd_us > ack_us else ack_us
        rs.snd_interval_us = snd_us & U32
        rs.rcv_interval_us = ack_us & U32
        if interval < tp.rtt_min[1]:
            rs.interval_us = -1
            return
        rs.interval_us = interval
        if not rs.is_app_limited or dlv * tp.rate_interval_us >= tp.rate_delivered * interval:
            tp.rate_delivered = dlv
            tp.rate_interval_us = interval & U32
            tp.rate_app_limited = 1 if rs.is_app_limited else 0

    def _update_pacing_rate(self) -> None:
        """``tcp_update_pacing_rate()``: 200% (slow start) / 120% of cwnd*mss/srtt."""
        tp = self.tp
        cwnd = tp.snd_cwnd
        rate = self.mss * ((1_000_000 // 100) << 3)
        if cwnd < tp.snd_ssthresh // 2:
            rate *= TCP_PACING_SS_RATIO
        else:
            rate *= TCP_PACING_CA_RATIO
        rate *= cwnd if cwnd > tp.packets_out else tp.packets_out
        if tp.srtt_us:
            rate //= tp.srtt_us
        cap = tp.sk_max_pacing_rate
        tp.sk_pacing_rate = (rate if rate < cap else cap) & U64


__all__ = ["Estimators"]
