/* SPDX-License-Identifier: GPL-2.0 */
/*
 * so_dctcp: an ECN-fraction congestion control written for structops tests.
 *
 * Per-socket state lives in a BTF-defined BPF_MAP_TYPE_SK_STORAGE map; alpha is the
 * moving average of the CE-marked fraction of delivered packets (1024 = all marked),
 * and on congestion cwnd is cut by alpha/2.
 */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

struct so_dctcp_state {
	__u32 alpha;          /* CE fraction, 0..1024 */
	__u32 prior_delivered;
	__u32 prior_ce;
	__u32 next_seq;       /* end of the current observation window */
	__u32 updates;
};

struct {
	SO_MAP_UINT(type, BPF_MAP_TYPE_SK_STORAGE);
	SO_MAP_UINT(map_flags, BPF_F_NO_PREALLOC);
	SO_MAP_TYPE(key, int);
	SO_MAP_TYPE(value, struct so_dctcp_state);
} so_dctcp_stg SEC(".maps");

/* gain g = 1/2^shift of the moving average (initialised data: goes to .data) */
__u32 alpha_shift = 4;
__u64 n_storage_miss = 0;

SEC("struct_ops/so_dctcp_init")
SO_OPS(void, so_dctcp_init, (struct sock *, sk))
{
	struct tcp_sock *tp = so_tcp_sk(sk);
	struct so_dctcp_state *st;

	st = so_sk_storage_get(&so_dctcp_stg, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		n_storage_miss++;
		return;
	}
	st->alpha = 1024;
	st->prior_delivered = tp->delivered;
	st->prior_ce = tp->delivered_ce;
	st->next_seq = tp->snd_nxt;
	st->updates = 0;
}

SEC("struct_ops/so_dctcp_ssthresh")
SO_OPS(__u32, so_dctcp_ssthresh, (struct sock *, sk))
{
	struct tcp_sock *tp = so_tcp_sk(sk);
	struct so_dctcp_state *st;
	__u32 cwnd = tp->snd_cwnd, cut;

	st = so_sk_storage_get(&so_dctcp_stg, sk, NULL, 0);
	if (!st)
		return cwnd / 2 > 2 ? cwnd / 2 : 2;
	cut = (cwnd * st->alpha) >> 11;
	return cwnd - cut > 2 ? cwnd - cut : 2;
}

SEC("struct_ops/so_dctcp_in_ack_event")
SO_OPS(void, so_dctcp_in_ack_event, (struct sock *, sk), (__u32, flags))
{
	struct tcp_sock *tp = so_tcp_sk(sk);
	struct so_dctcp_state *st;
	__u32 delivered, ce, frac, shift;

	st = so_sk_storage_get(&so_dctcp_stg, sk, NULL, 0);
	if (!st)
		return;
	/* end of window: snd_una passed next_seq (serial-number compare) */
	if ((__s32)(tp->snd_una - st->next_seq) < 0)
		return;
	delivered = tp->delivered - st->prior_delivered;
	ce = tp->delivered_ce - st->prior_ce;
	frac = delivered ? (ce << 10) / delivered : 0;
	if (frac > 1024)
		frac = 1024;
	shift = alpha_shift & 15;
	st->alpha = st->alpha - (st->alpha >> shift) + (frac >> shift);
	if (st->alpha > 1024)
		st->alpha = 1024;
	st->prior_delivered = tp->delivered;
	st->prior_ce = tp->delivered_ce;
	st->next_seq = tp->snd_nxt;
	st->updates++;
}

SEC("struct_ops/so_dctcp_cong_avoid")
SO_OPS(void, so_dctcp_cong_avoid, (struct sock *, sk), (__u32, ack), (__u32, acked))
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC("struct_ops/so_dctcp_undo_cwnd")
SO_OPS(__u32, so_dctcp_undo_cwnd, (struct sock *, sk))
{
	return tcp_reno_undo_cwnd(sk);
}

SEC("struct_ops/so_dctcp_release")
SO_OPS(void, so_dctcp_release, (struct sock *, sk))
{
	so_sk_storage_delete(&so_dctcp_stg, sk);
}

SEC(".struct_ops")
struct tcp_congestion_ops so_dctcp = {
	.init = (void *)so_dctcp_init,
	.ssthresh = (void *)so_dctcp_ssthresh,
	.in_ack_event = (void *)so_dctcp_in_ack_event,
	.cong_avoid = (void *)so_dctcp_cong_avoid,
	.undo_cwnd = (void *)so_dctcp_undo_cwnd,
	.release = (void *)so_dctcp_release,
	.flags = TCP_CONG_NEEDS_ECN,
	.name = "so_dctcp",
};
