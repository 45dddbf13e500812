/* SPDX-License-Identifier: GPL-2.0 */
/* Reads tcp_sock bitfields: directly (CO-RE byte_off/lshift/rshift with clang-19's wide
 * access unit) and through BPF_CORE_READ_BITFIELD. libbpf does not check the compiled-in
 * value of bitfield relocations. */
#include "lo_common.h"

__u64 n_calls = 0;
__u64 n_limited = 0;
__u64 n_limited_macro = 0;
__u64 last_reordering = 0;

SEC("struct_ops")
void BPF_PROG(lo_bitf_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	n_calls++;
	if (tp->is_cwnd_limited)
		n_limited++;
	if (BPF_CORE_READ_BITFIELD(tp, is_cwnd_limited))
		n_limited_macro++;
	last_reordering = tp->reord_seen + tp->repair;
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_bitf)
LO_OPS(".struct_ops.link", lo_bitf, lo_bitf, "lo_bitf", .cong_avoid = (void *)lo_bitf_cong_avoid, );
