/* SPDX-License-Identifier: GPL-2.0 */
/* Skeleton-style configuration: const volatile .rodata set from Python before load
 * decides the behaviour (the kernel freezes .rodata after load). */
#include "lo_common.h"

const volatile __u32 cfg_cwnd_cap = 0;
__u64 n_capped = 0;

SEC("struct_ops")
void BPF_PROG(lo_rcfg_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	tcp_reno_cong_avoid(sk, ack, acked);
	if (cfg_cwnd_cap && tp->snd_cwnd > cfg_cwnd_cap) {
		tp->snd_cwnd = cfg_cwnd_cap;
		n_capped++;
	}
}

LO_RENO_BASICS(lo_rcfg)
LO_OPS(".struct_ops.link", lo_rcfg, lo_rcfg, "lo_rcfg", .cong_avoid = (void *)lo_rcfg_cong_avoid, );
