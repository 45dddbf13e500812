/* SPDX-License-Identifier: GPL-2.0 */
/* An unguarded read of a field the kernel lacks: libbpf poisons the instruction and the
 * verifier refuses the program with "invalid func unknown#195896080". */
#include "lo_common.h"

struct tcp_sock___gone {
	__u32 lo_field_not_in_kernel;
} __attribute__((preserve_access_index));

__u64 gone = 0;

SEC("struct_ops")
void BPF_PROG(lo_pois_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock___gone *tp = (void *)sk;

	gone = tp->lo_field_not_in_kernel;
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_pois)
LO_OPS(".struct_ops.link", lo_pois, lo_pois, "lo_pois", .cong_avoid = (void *)lo_pois_cong_avoid, );
