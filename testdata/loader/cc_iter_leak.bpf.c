/* SPDX-License-Identifier: GPL-2.0 */
/* An iterator created and never destroyed: an unreleased reference at exit. */
#include "lo_common.h"

extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

__u64 lo_il_n = 0;

SEC("struct_ops")
void BPF_PROG(lo_il_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct bpf_iter_num it;

	bpf_iter_num_new(&it, 0, 10);
	if (bpf_iter_num_next(&it))
		lo_il_n++;
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_il)
LO_OPS(".struct_ops.link", lo_il, lo_il, "lo_il", .cong_avoid = (void *)lo_il_cong_avoid, );
