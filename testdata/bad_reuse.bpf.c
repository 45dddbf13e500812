/* SPDX-License-Identifier: GPL-2.0 */
/* Broken on purpose: one program bound to two members (ssthresh and undo_cwnd). */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;

SEC("struct_ops/so_twice")
SO_OPS(__u32, so_twice, (struct sock *, sk))
{
	return so_tcp_sk(sk)->snd_cwnd;
}

SEC("struct_ops/so_reuse_cong_avoid")
SO_OPS(void, so_reuse_cong_avoid, (struct sock *, sk), (__u32, ack), (__u32, acked))
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC(".struct_ops")
struct tcp_congestion_ops so_reuse = {
	.ssthresh = (void *)so_twice,
	.undo_cwnd = (void *)so_twice,
	.cong_avoid = (void *)so_reuse_cong_avoid,
	.name = "so_reuse",
};
