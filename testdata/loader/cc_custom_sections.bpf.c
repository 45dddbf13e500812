/* SPDX-License-Identifier: GPL-2.0 */
/* Custom global data sections: .data.lo_tunables and .rodata.lo_consts are maps of their
 * own (libbpf 1.x), beside .bss. */
#include "lo_common.h"

SEC(".data.lo_tunables") __u32 lo_beta = 717;
SEC(".data.lo_tunables") __u32 lo_gain = 3;
SEC(".rodata.lo_consts") const volatile __u32 lo_min_cwnd = 2;
__u64 lo_scaled = 0;

SEC("struct_ops")
void BPF_PROG(lo_csec_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	tcp_reno_cong_avoid(sk, ack, acked);
	lo_scaled = (__u64)tp->snd_cwnd * lo_beta * lo_gain;
	if (tp->snd_cwnd < lo_min_cwnd)
		tp->snd_cwnd = lo_min_cwnd;
}

LO_RENO_BASICS(lo_csec)
LO_OPS(".struct_ops.link", lo_csec, lo_csec, "lo_csec", .cong_avoid = (void *)lo_csec_cong_avoid, );
