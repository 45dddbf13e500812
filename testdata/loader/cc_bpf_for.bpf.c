/* SPDX-License-Identifier: GPL-2.0 */
/* Open-coded numbers iterator (bpf_for: bpf_iter_num_new/next/destroy) summing a range
 * whose end is a .rodata setting. */
#include "lo_common.h"

extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

const volatile int lo_for_n = 100;
__u64 lo_for_sum = 0;
__u64 lo_for_table[16] = {};

SEC("struct_ops")
void BPF_PROG(lo_for_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct bpf_iter_num it;
	int *v;
	__u64 sum = 0;

	bpf_iter_num_new(&it, 0, lo_for_n);
	while ((v = bpf_iter_num_next(&it))) {
		int i = *v;

		if (i >= 0 && i < 16)
			lo_for_table[i] += acked;
		sum += i;
	}
	bpf_iter_num_destroy(&it);
	lo_for_sum += sum;
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_for)
LO_OPS(".struct_ops.link", lo_for, lo_for, "lo_for", .cong_avoid = (void *)lo_for_cong_avoid, );
