/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_dctcp: DCTCP as Linux runs it (RFC 8257), written for structops from the facts of
 * the algorithm, as a BPF tcp_congestion_ops with state in icsk_ca_priv.
 *
 * - alpha (0..1024, starts at 1024): moving average, gain 1/16, of the CE-marked
 *   fraction of the packets delivered per observation window (until snd_una passes
 *   the snd_nxt of the window start), updated from in_ack_event;
 * - ssthresh = cwnd - cwnd * alpha / 2048 (at least 2); a loss (Recovery or RTO)
 *   halves ssthresh like Reno and remembers cwnd for undo;
 * - receiver: the CE state follows CA_EVENT_ECN_IS_CE / ECN_NO_CE, is echoed through
 *   TCP_ECN_DEMAND_CWR, and a change ACKs at once (a pending delayed ACK first goes out
 *   with the old state, through bpf_tcp_send_ack);
 * - growth is Reno's (tcp_reno_cong_avoid kfunc).
 *
 * The field order matches structops.sim.dctcp (the native model) byte for byte.
 */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;

#define DCTCP_MAX_ALPHA 1024U
#define SO_ICSK_ACK_TIMER 2
#define SO_ICSK_ACK_NOW 16
#define SO_TCP_ECN_DEMAND_CWR 4

const volatile __u32 dctcp_shift_g = 4;
const volatile __u32 dctcp_alpha_on_init = DCTCP_MAX_ALPHA;

struct dctcp_state {
	__u32 old_delivered;
	__u32 old_delivered_ce;
	__u32 prior_rcv_nxt;
	__u32 alpha;
	__u32 next_seq;
	__u32 ce_state;
	__u32 loss_cwnd;
};

static __so_inline void dctcp_reset(struct tcp_sock *tp, struct dctcp_state *ca)
{
	ca->next_seq = tp->snd_nxt;
	ca->old_delivered = tp->delivered;
	ca->old_delivered_ce = tp->delivered_ce;
}

SEC("struct_ops/bpf_dctcp_init")
SO_OPS(void, bpf_dctcp_init, (struct sock *, sk))
{
	struct dctcp_state *ca = so_ca_priv(sk);
	struct tcp_sock *tp = so_tcp_sk(sk);

	ca->prior_rcv_nxt = tp->rcv_nxt;
	ca->alpha = dctcp_alpha_on_init < DCTCP_MAX_ALPHA ? dctcp_alpha_on_init : DCTCP_MAX_ALPHA;
	ca->loss_cwnd = 0;
	ca->ce_state = 0;
	dctcp_reset(tp, ca);
}

SEC("struct_ops/bpf_dctcp_ssthresh")
SO_OPS(__u32, bpf_dctcp_ssthresh, (struct sock *, sk))
{
	struct dctcp_state *ca = so_ca_priv(sk);
	struct tcp_sock *tp = so_tcp_sk(sk);
	__u32 cwnd = tp->snd_cwnd, next;

	ca->loss_cwnd = cwnd;
	next = cwnd - ((cwnd * ca->alpha) >> 11);
	return next > 2 ? next : 2;
}

SEC("struct_ops/bpf_dctcp_in_ack_event")
SO_OPS(void, bpf_dctcp_in_ack_event, (struct sock *, sk), (__u32, flags))
{
	struct dctcp_state *ca = so_ca_priv(sk);
	struct tcp_sock *tp = so_tcp_sk(sk);
	__u32 delivered, delivered_ce, alpha, dec, g = dctcp_shift_g & 7;

	if ((__s32)(tp->snd_una - ca->next_seq) < 0)
		return;
	delivered = tp->delivered - ca->old_delivered;
	delivered_ce = tp->delivered_ce - ca->old_delivered_ce;
	alpha = ca->alpha;
	dec = alpha >> g;
	alpha -= dec ? dec : alpha;
	if (delivered_ce) {
		delivered_ce <<= (10 - g);
		delivered_ce /= delivered > 1 ? delivered : 1;
		alpha += delivered_ce;
		if (alpha > DCTCP_MAX_ALPHA)
			alpha = DCTCP_MAX_ALPHA;
	}
	ca->alpha = alpha;
	dctcp_reset(tp, ca);
}

static __so_inline void dctcp_react_to_loss(struct tcp_sock *tp, struct dctcp_state *ca)
{
	__u32 half = tp->snd_cwnd >> 1;

	ca->loss_cwnd = tp->snd_cwnd;
	tp->snd_ssthresh = half > 2 ? half : 2;
}

SEC("struct_ops/bpf_dctcp_set_state")
SO_OPS(void, bpf_dctcp_set_state, (struct sock *, sk), (__u8, new_state))
{
	struct inet_connection_sock *icsk = so_inet_csk(sk);

	if (new_state == TCP_CA_Recovery && new_state != icsk->icsk_ca_state)
		dctcp_react_to_loss(so_tcp_sk(sk), so_ca_priv(sk));
}

static __so_inline void dctcp_ece_ack_cwr(struct tcp_sock *tp, __u32 ce_state)
{
	if (ce_state)
		tp->ecn_flags |= SO_TCP_ECN_DEMAND_CWR;
	else
		tp->ecn_flags &= ~SO_TCP_ECN_DEMAND_CWR;
}

SEC("struct_ops/bpf_dctcp_cwnd_event")
SO_OPS(void, bpf_dctcp_cwnd_event, (struct sock *, sk), (enum tcp_ca_event, ev))
{
	struct dctcp_state *ca = so_ca_priv(sk);
	struct tcp_sock *tp = so_tcp_sk(sk);
	struct inet_connection_sock *icsk = so_inet_csk(sk);
	__u32 new_state;

	if (ev == CA_EVENT_ECN_IS_CE || ev == CA_EVENT_ECN_NO_CE) {
		new_state = ev == CA_EVENT_ECN_IS_CE ? 1 : 0;
		if (ca->ce_state != new_state) {
			if (icsk->icsk_ack.pending & SO_ICSK_ACK_TIMER) {
				dctcp_ece_ack_cwr(tp, ca->ce_state);
				so_tcp_send_ack(tp, ca->prior_rcv_nxt);
			}
			icsk->icsk_ack.pending |= SO_ICSK_ACK_NOW;
		}
		ca->prior_rcv_nxt = tp->rcv_nxt;
		ca->ce_state = new_state;
		dctcp_ece_ack_cwr(tp, new_state);
	} else if (ev == CA_EVENT_LOSS) {
		dctcp_react_to_loss(tp, ca);
	}
}

SEC("struct_ops/bpf_dctcp_cong_avoid")
SO_OPS(void, bpf_dctcp_cong_avoid, (struct sock *, sk), (__u32, ack), (__u32, acked))
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC("struct_ops/bpf_dctcp_undo_cwnd")
SO_OPS(__u32, bpf_dctcp_undo_cwnd, (struct sock *, sk))
{
	struct dctcp_state *ca = so_ca_priv(sk);
	struct tcp_sock *tp = so_tcp_sk(sk);

	return tp->snd_cwnd > ca->loss_cwnd ? tp->snd_cwnd : ca->loss_cwnd;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops bpf_dctcp = {
	.init = (void *)bpf_dctcp_init,
	.ssthresh = (void *)bpf_dctcp_ssthresh,
	.in_ack_event = (void *)bpf_dctcp_in_ack_event,
	.set_state = (void *)bpf_dctcp_set_state,
	.cwnd_event = (void *)bpf_dctcp_cwnd_event,
	.cong_avoid = (void *)bpf_dctcp_cong_avoid,
	.undo_cwnd = (void *)bpf_dctcp_undo_cwnd,
	.flags = TCP_CONG_NEEDS_ECN,
	.name = "bpf_dctcp",
};
