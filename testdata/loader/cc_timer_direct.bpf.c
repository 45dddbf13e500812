/* SPDX-License-Identifier: GPL-2.0 */
/* A store straight into the bpf_timer of a map value
 * (Linux: "bpf_timer cannot be accessed directly by load/store"). */
#include "lo_common.h"

struct lo_td_val {
	struct bpf_timer t;
	__u64 other;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lo_td_val);
} lo_td_timers SEC(".maps");

SEC("struct_ops")
void BPF_PROG(lo_td_init, struct sock *sk)
{
	__u32 key = 0;
	struct lo_td_val *v = bpf_map_lookup_elem(&lo_td_timers, &key);

	if (v)
		*(volatile __u64 *)&v->t = 0;
}

SEC("struct_ops")
void BPF_PROG(lo_td_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_td)
LO_OPS(".struct_ops.link", lo_td, lo_td, "lo_td", .init = (void *)lo_td_init,
       .cong_avoid = (void *)lo_td_cong_avoid, );
