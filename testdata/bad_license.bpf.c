/* SPDX-License-Identifier: GPL-2.0 */
/* Broken on purpose: struct_ops programs with a non-GPL license (must be rejected). */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "X";

SEC("struct_ops/so_nogpl_ssthresh")
SO_OPS(__u32, so_nogpl_ssthresh, (struct sock *, sk))
{
	__u32 cwnd = so_tcp_sk(sk)->snd_cwnd >> 1;

	return cwnd < 2 ? 2 : cwnd;
}

SEC("struct_ops/so_nogpl_cong_avoid")
SO_OPS(void, so_nogpl_cong_avoid, (struct sock *, sk), (__u32, ack), (__u32, acked))
{
	struct tcp_sock *tp = so_tcp_sk(sk);

	if (tp->snd_cwnd < tp->snd_cwnd_clamp)
		tp->snd_cwnd = tp->snd_cwnd + 1;
}

SEC("struct_ops/so_nogpl_undo_cwnd")
SO_OPS(__u32, so_nogpl_undo_cwnd, (struct sock *, sk))
{
	return so_tcp_sk(sk)->snd_cwnd;
}

SEC(".struct_ops")
struct tcp_congestion_ops so_nogpl = {
	.ssthresh = (void *)so_nogpl_ssthresh,
	.cong_avoid = (void *)so_nogpl_cong_avoid,
	.undo_cwnd = (void *)so_nogpl_undo_cwnd,
	.name = "so_nogpl",
};
