/* SPDX-License-Identifier: GPL-2.0 */
/* Program names longer than the kernel's 15 characters: the full name reaches the
 * kernel through the BTF FUNC of func_info. */
#include "lo_common.h"

SEC("struct_ops")
void BPF_PROG(lo_a_rather_long_program_name_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_a_rather_long_program_name)
LO_OPS(".struct_ops.link", lo_long, lo_a_rather_long_program_name, "lo_long",
       .cong_avoid = (void *)lo_a_rather_long_program_name_cong_avoid, );
