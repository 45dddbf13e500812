/* SPDX-License-Identifier: GPL-2.0 */
/* A static __noinline subprogram: verified in the caller's context (bpf-to-bpf call);
 * func_info still describes both functions. */
#include "lo_common.h"

__u64 n_halved = 0;

static __noinline __u32 lo_ssub_half(__u32 v)
{
	n_halved++;
	return v > 4 ? v / 2 : 2;
}

SEC("struct_ops")
__u32 BPF_PROG(lo_ssub_ssthresh2, struct sock *sk)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	return lo_ssub_half(tp->snd_cwnd);
}

SEC("struct_ops")
void BPF_PROG(lo_ssub_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC("struct_ops")
__u32 BPF_PROG(lo_ssub_undo_cwnd, struct sock *sk)
{
	return tcp_reno_undo_cwnd(sk);
}

SEC(".struct_ops.link")
struct tcp_congestion_ops lo_ssub = {
	.ssthresh = (void *)lo_ssub_ssthresh2,
	.cong_avoid = (void *)lo_ssub_cong_avoid,
	.undo_cwnd = (void *)lo_ssub_undo_cwnd,
	.name = "lo_ssub",
};
