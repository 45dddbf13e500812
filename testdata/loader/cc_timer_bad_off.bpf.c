/* SPDX-License-Identifier: GPL-2.0 */
/* A bpf_timer helper given a pointer into the map value that is not the bpf_timer
 * (Linux: "off 16 doesn't point to 'struct bpf_timer' that is at 0"). */
#include "lo_common.h"

struct lo_tb_val {
	struct bpf_timer t;
	__u64 other;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lo_tb_val);
} lo_tb_timers SEC(".maps");

SEC("struct_ops")
void BPF_PROG(lo_tb_init, struct sock *sk)
{
	__u32 key = 0;
	struct lo_tb_val *v = bpf_map_lookup_elem(&lo_tb_timers, &key);

	if (v)
		bpf_timer_init((struct bpf_timer *)&v->other, &lo_tb_timers, 1);
}

SEC("struct_ops")
void BPF_PROG(lo_tb_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_tb)
LO_OPS(".struct_ops.link", lo_tb, lo_tb, "lo_tb", .init = (void *)lo_tb_init,
       .cong_avoid = (void *)lo_tb_cong_avoid, );
