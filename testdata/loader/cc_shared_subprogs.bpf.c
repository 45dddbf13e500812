/* SPDX-License-Identifier: GPL-2.0 */
/* Two programs share a static and a global subprogram: each program gets its own copy
 * appended, with func_info and line_info moved to the new instruction offsets. */
#include "lo_common.h"

__u64 sh_a = 0, sh_b = 0;

static __noinline __u32 lo_sh_inc(__u32 v)
{
	return v + 1;
}

__noinline int lo_sh_mul(__u32 v, __u32 k)
{
	return v * k;
}

SEC("struct_ops")
__u32 BPF_PROG(lo_sh_ssthresh, struct sock *sk)
{
	sh_a += lo_sh_mul(lo_sh_inc(1), 3);
	return tcp_reno_ssthresh(sk);
}

SEC("struct_ops")
void BPF_PROG(lo_sh_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	sh_b += lo_sh_inc(lo_sh_mul(2, 5));
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC("struct_ops")
__u32 BPF_PROG(lo_sh_undo_cwnd, struct sock *sk)
{
	return tcp_reno_undo_cwnd(sk);
}

SEC(".struct_ops.link")
struct tcp_congestion_ops lo_sh = {
	.ssthresh = (void *)lo_sh_ssthresh,
	.cong_avoid = (void *)lo_sh_cong_avoid,
	.undo_cwnd = (void *)lo_sh_undo_cwnd,
	.name = "lo_sh",
};
