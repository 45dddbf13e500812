/* SPDX-License-Identifier: GPL-2.0 */
/* A bpf_loop callback that calls a global function. */
#include "lo_common.h"

__u64 lg_total = 0;

__noinline int lo_lg_weight(__u32 i)
{
	return (int)(i * i);
}

static int lo_lg_cb(__u32 i, void *data)
{
	*(__u64 *)data += lo_lg_weight(i);
	return 0;
}

SEC("struct_ops")
void BPF_PROG(lo_lg_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	__u64 s = 0;

	bpf_loop(5, lo_lg_cb, &s, 0);
	lg_total += s;
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_lg)
LO_OPS(".struct_ops.link", lo_lg, lo_lg, "lo_lg", .cong_avoid = (void *)lo_lg_cong_avoid, );
