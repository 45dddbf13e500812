/* SPDX-License-Identifier: GPL-2.0 */
/* A global function with a pointer argument: verified alone, the pointer may be NULL, so
 * the function checks it (loads). */
#include "lo_common.h"

__u64 n_acc = 0;

__noinline int lo_gnull_add(__u64 *acc, __u32 v)
{
	if (!acc)
		return -1;
	*acc += v;
	return 0;
}

SEC("struct_ops")
void BPF_PROG(lo_gnull_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	__u64 local = 0;

	lo_gnull_add(&local, acked);
	n_acc += local;
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_gnull)
LO_OPS(".struct_ops.link", lo_gnull, lo_gnull, "lo_gnull", .cong_avoid = (void *)lo_gnull_cong_avoid, );
