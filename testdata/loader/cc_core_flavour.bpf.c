/* SPDX-License-Identifier: GPL-2.0 */
/* CO-RE flavours: tcp_sock___lo matches the kernel's tcp_sock by essential name; a field
 * the kernel lacks is guarded by bpf_core_field_exists (0, the read is poisoned dead code). */
#include "lo_common.h"

struct tcp_sock___lo {
	__u32 snd_cwnd;
	__u32 snd_ssthresh;
	__u32 lo_field_not_in_kernel;
} __attribute__((preserve_access_index));

__u64 fl_cwnd = 0;
__u64 fl_ssthresh = 0;
__u64 fl_missing_exists = 99;
__u64 fl_missing_val = 0;

SEC("struct_ops")
void BPF_PROG(lo_flav_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock___lo *tp = (void *)sk;

	tcp_reno_cong_avoid(sk, ack, acked);
	fl_cwnd = tp->snd_cwnd;
	fl_ssthresh = BPF_CORE_READ(tp, snd_ssthresh);
	fl_missing_exists = bpf_core_field_exists(tp->lo_field_not_in_kernel);
	if (bpf_core_field_exists(tp->lo_field_not_in_kernel))
		fl_missing_val = tp->lo_field_not_in_kernel;
}

LO_RENO_BASICS(lo_flav)
LO_OPS(".struct_ops.link", lo_flav, lo_flav, "lo_flav", .cong_avoid = (void *)lo_flav_cong_avoid, );
