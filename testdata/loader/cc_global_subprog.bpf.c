/* SPDX-License-Identifier: GPL-2.0 */
/* A global (non-static, __noinline) function: Linux verifies it on its own against its
 * BTF signature, which it only knows from func_info. */
#include "lo_common.h"

__u64 n_clamped = 0;

__noinline int lo_gsub_clamp(__u32 cwnd, __u32 limit)
{
	if (cwnd > limit) {
		n_clamped++;
		return limit;
	}
	return cwnd;
}

SEC("struct_ops")
void BPF_PROG(lo_gsub_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	tcp_reno_cong_avoid(sk, ack, acked);
	tp->snd_cwnd = lo_gsub_clamp(tp->snd_cwnd, 1000);
}

LO_RENO_BASICS(lo_gsub)
LO_OPS(".struct_ops.link", lo_gsub, lo_gsub, "lo_gsub", .cong_avoid = (void *)lo_gsub_cong_avoid, );
