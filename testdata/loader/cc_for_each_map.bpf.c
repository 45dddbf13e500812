/* SPDX-License-Identifier: GPL-2.0 */
/* bpf_for_each_map_elem over a BTF-defined array with a callback subprogram. */
#include "lo_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} lo_weights SEC(".maps");

__u64 weight_sum = 0;

static long lo_sum_one(struct bpf_map *map, __u32 *key, __u64 *val, void *ctx)
{
	*(__u64 *)ctx += *val;
	return 0;
}

SEC("struct_ops")
void BPF_PROG(lo_each_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	__u64 sum = 0;

	bpf_for_each_map_elem(&lo_weights, lo_sum_one, &sum, 0);
	weight_sum = sum;
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_each)
LO_OPS(".struct_ops.link", lo_each, lo_each, "lo_each", .cong_avoid = (void *)lo_each_cong_avoid, );
