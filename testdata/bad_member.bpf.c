/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Broken on purpose: a local flavour of tcp_congestion_ops (the ___bad suffix is
 * dropped when matching the kernel type) with a member the kernel type lacks, set
 * non-zero.  A second member the kernel lacks (unused_zero) is zero and must be skipped.
 */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

struct tcp_congestion_ops___bad {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
	int unused_zero;
	int does_not_exist;
};

SEC("struct_ops/so_bm_ssthresh")
SO_OPS(__u32, so_bm_ssthresh, (struct sock *, sk))
{
	return tcp_reno_ssthresh(sk);
}

SEC("struct_ops/so_bm_cong_avoid")
SO_OPS(void, so_bm_cong_avoid, (struct sock *, sk), (__u32, ack), (__u32, acked))
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC("struct_ops/so_bm_undo_cwnd")
SO_OPS(__u32, so_bm_undo_cwnd, (struct sock *, sk))
{
	return tcp_reno_undo_cwnd(sk);
}

SEC(".struct_ops")
struct tcp_congestion_ops___bad so_badmember = {
	.ssthresh = (void *)so_bm_ssthresh,
	.cong_avoid = (void *)so_bm_cong_avoid,
	.undo_cwnd = (void *)so_bm_undo_cwnd,
	.name = "so_badmember",
	.does_not_exist = 1,
};
