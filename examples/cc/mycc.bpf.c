// SPDX-License-Identifier: GPL-2.0
/*
 * mycc: a small AIMD congestion control written the way libbpf users write one.
 *
 * Headers: vmlinux.h from `bpftool btf dump file /sys/kernel/btf/vmlinux format c` and
 * libbpf's bpf_helpers.h / bpf_tracing.h.  The same object loads on the embedded kernel
 * and on Linux 6.18.  Build: make -C examples/cc (see docs/writing-a-cc.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char _license[] SEC("license") = "GPL";

/* Tunables and counters: global variables, readable and writable from Python. */
__u32 beta = 717;          /* multiplicative decrease, in 1/1024 (0.7) */
__u32 max_cwnd = 10000;    /* never grow beyond this */
__u64 n_acked_calls = 0;   /* cong_avoid calls that grew the window */
__u64 n_losses = 0;        /* ssthresh calls (one per loss event) */
__u64 n_inits = 0;         /* sockets that started using mycc */

static __always_inline struct tcp_sock *tcp_sk(const struct sock *sk)
{
	return (struct tcp_sock *)sk;
}

SEC("struct_ops")
void BPF_PROG(mycc_init, struct sock *sk)
{
	tcp_sk(sk)->snd_cwnd_cnt = 0;
	n_inits++;
}

SEC("struct_ops")
__u32 BPF_PROG(mycc_ssthresh, struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	__u32 w = tp->snd_cwnd * beta / 1024;

	n_losses++;
	return w < 2 ? 2 : w;
}

SEC("struct_ops")
void BPF_PROG(mycc_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (!tp->is_cwnd_limited)	/* a bitfield: a CO-RE bitfield relocation */
		return;
	n_acked_calls++;
	if (tp->snd_cwnd < tp->snd_ssthresh) {	/* slow start: one segment per segment acked */
		__u32 cwnd = tp->snd_cwnd + acked;

		tp->snd_cwnd = cwnd < tp->snd_ssthresh ? cwnd : tp->snd_ssthresh;
		return;
	}
	/* congestion avoidance: one segment per window of acks */
	tp->snd_cwnd_cnt += acked;
	if (tp->snd_cwnd_cnt >= tp->snd_cwnd) {
		tp->snd_cwnd_cnt -= tp->snd_cwnd;
		if (tp->snd_cwnd < max_cwnd)
			tp->snd_cwnd++;
	}
}

SEC("struct_ops")
__u32 BPF_PROG(mycc_undo_cwnd, struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	return tp->snd_cwnd > tp->prior_cwnd ? tp->snd_cwnd : tp->prior_cwnd;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops mycc = {
	.init = (void *)mycc_init,
	.ssthresh = (void *)mycc_ssthresh,
	.cong_avoid = (void *)mycc_cong_avoid,
	.undo_cwnd = (void *)mycc_undo_cwnd,
	.name = "mycc",
};
