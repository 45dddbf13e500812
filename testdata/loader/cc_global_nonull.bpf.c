/* SPDX-License-Identifier: GPL-2.0 */
/* A global function dereferencing its pointer argument without a NULL check: Linux
 * verifies it alone (the argument may be NULL) and refuses the program. */
#include "lo_common.h"

__u64 n_acc = 0;

__noinline int lo_gbad_add(__u64 *acc, __u32 v)
{
	*acc += v;
	return 0;
}

SEC("struct_ops")
void BPF_PROG(lo_gbad_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	__u64 local = 0;

	lo_gbad_add(&local, acked);
	n_acc += local;
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_gbad)
LO_OPS(".struct_ops.link", lo_gbad, lo_gbad, "lo_gbad", .cong_avoid = (void *)lo_gbad_cong_avoid, );
