/* SPDX-License-Identifier: GPL-2.0 */
/* "?.struct_ops.link": not created unless enabled; its programs autoload only then. */
#include "lo_common.h"

SEC("struct_ops")
void BPF_PROG(lo_opt_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_opt)
LO_OPS("?.struct_ops.link", lo_opt, lo_opt, "lo_opt", .cong_avoid = (void *)lo_opt_cong_avoid, );
