/* SPDX-License-Identifier: GPL-2.0 */
/* The verifier refuses this program (a read far past struct sock): the error must name
 * the program and carry the log, never read "permission denied". */
#include "lo_common.h"

__u64 junk = 0;

SEC("struct_ops")
void BPF_PROG(lo_rej_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	junk = *(volatile __u64 *)((char *)sk + 60000);
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_rej)
LO_OPS(".struct_ops.link", lo_rej, lo_rej, "lo_rej", .cong_avoid = (void *)lo_rej_cong_avoid, );
