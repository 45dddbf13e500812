/* SPDX-License-Identifier: GPL-2.0 */
/* Legacy .struct_ops (bpftool 7.1 can register it): a bitfield read and a global
 * subprogram, so its registration can be compared with bpftool's. */
#include "lo_common.h"

__u64 n_limited = 0;

__noinline int lo_lbit_floor(__u32 cwnd)
{
	return cwnd < 2 ? 2 : cwnd;
}

SEC("struct_ops")
void BPF_PROG(lo_lbit_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	if (tp->is_cwnd_limited)
		n_limited++;
	tcp_reno_cong_avoid(sk, ack, acked);
	tp->snd_cwnd = lo_lbit_floor(tp->snd_cwnd);
}

LO_RENO_BASICS(lo_lbit)
LO_OPS(".struct_ops", lo_lbit, lo_lbit, "lo_lbit", .cong_avoid = (void *)lo_lbit_cong_avoid, );
