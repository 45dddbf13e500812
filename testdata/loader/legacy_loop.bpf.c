/* SPDX-License-Identifier: GPL-2.0 */
/* Legacy .struct_ops with a bpf_loop callback. */
#include "lo_common.h"

__u64 lloop_sum = 0;

static int lo_lloop_cb(__u32 i, void *data)
{
	*(__u64 *)data += i;
	return 0;
}

SEC("struct_ops")
void BPF_PROG(lo_lloop_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	__u64 s = 0;

	bpf_loop(3, lo_lloop_cb, &s, 0);
	lloop_sum += s;
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_lloop)
LO_OPS(".struct_ops", lo_lloop, lo_lloop, "lo_lloop", .cong_avoid = (void *)lo_lloop_cong_avoid, );
