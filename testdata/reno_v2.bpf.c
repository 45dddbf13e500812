/* SPDX-License-Identifier: GPL-2.0 */
/*
 * so_reno, version 2: same CC name as reno.bpf.c, different growth, for link-update
 * hot swap.  Congestion avoidance adds 2 segments per window instead of 1 and the
 * counters are separate (v2_*), so a test can see which version ran.
 */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

__u64 v2_init = 0;
__u64 v2_cong_avoid = 0;

SEC("struct_ops/so_reno2_init")
SO_OPS(void, so_reno2_init, (struct sock *, sk))
{
	v2_init++;
}

SEC("struct_ops/so_reno2_ssthresh")
SO_OPS(__u32, so_reno2_ssthresh, (struct sock *, sk))
{
	return tcp_reno_ssthresh(sk);
}

SEC("struct_ops/so_reno2_cong_avoid")
SO_OPS(void, so_reno2_cong_avoid, (struct sock *, sk), (__u32, ack), (__u32, acked))
{
	struct tcp_sock *tp = so_tcp_sk(sk);
	__u32 cwnd = tp->snd_cwnd;

	v2_cong_avoid++;
	if (cwnd < tp->snd_ssthresh) {
		cwnd += acked;
		tp->snd_cwnd = cwnd < tp->snd_cwnd_clamp ? cwnd : tp->snd_cwnd_clamp;
		return;
	}
	tp->snd_cwnd_cnt += 2 * acked;
	if (tp->snd_cwnd_cnt >= cwnd) {
		tp->snd_cwnd_cnt -= cwnd;
		if (cwnd < tp->snd_cwnd_clamp)
			tp->snd_cwnd = cwnd + 1;
	}
}

SEC("struct_ops/so_reno2_undo_cwnd")
SO_OPS(__u32, so_reno2_undo_cwnd, (struct sock *, sk))
{
	return tcp_reno_undo_cwnd(sk);
}

SEC(".struct_ops.link")
struct tcp_congestion_ops so_reno_v2 = {
	.init = (void *)so_reno2_init,
	.ssthresh = (void *)so_reno2_ssthresh,
	.cong_avoid = (void *)so_reno2_cong_avoid,
	.undo_cwnd = (void *)so_reno2_undo_cwnd,
	.name = "so_reno",
};
