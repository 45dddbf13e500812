/* SPDX-License-Identifier: GPL-2.0 */
/* bpf_loop with a callback subprogram (a BPF_PSEUDO_FUNC address): the kernel needs
 * func_info for the callback. */
#include "lo_common.h"

__u64 loop_total = 0;
__u64 n_calls = 0;

struct lo_loop_ctx {
	__u32 cwnd;
	__u64 sum;
};

static int lo_loop_step(__u32 index, void *data)
{
	struct lo_loop_ctx *c = data;

	c->sum += c->cwnd + index;
	return 0;
}

SEC("struct_ops")
void BPF_PROG(lo_loop_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct lo_loop_ctx c = { .cwnd = tp->snd_cwnd, .sum = 0 };

	n_calls++;
	bpf_loop(4, lo_loop_step, &c, 0);
	loop_total += c.sum;
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_loop)
LO_OPS(".struct_ops.link", lo_loop, lo_loop, "lo_loop", .cong_avoid = (void *)lo_loop_cong_avoid, );
