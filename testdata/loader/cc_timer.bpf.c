/* SPDX-License-Identifier: GPL-2.0 */
/* A bpf_timer in a BTF-defined map value (the kernel needs the value's BTF to find the
 * timer) with a callback subprogram. */
#include "lo_common.h"

struct lo_timer_val {
	struct bpf_timer t;
	__u64 fired;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lo_timer_val);
} lo_timers SEC(".maps");

__u64 n_armed = 0;

static int lo_timer_cb(void *map, __u32 *key, struct lo_timer_val *v)
{
	v->fired++;
	return 0;
}

SEC("struct_ops")
void BPF_PROG(lo_tmr_init, struct sock *sk)
{
	__u32 key = 0;
	struct lo_timer_val *v = bpf_map_lookup_elem(&lo_timers, &key);

	if (!v)
		return;
	if (bpf_timer_init(&v->t, &lo_timers, 1 /* CLOCK_MONOTONIC */) == 0)
		bpf_timer_set_callback(&v->t, lo_timer_cb);
	if (bpf_timer_start(&v->t, 1000000, 0) == 0)
		n_armed++;
}

SEC("struct_ops")
void BPF_PROG(lo_tmr_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_tmr)
LO_OPS(".struct_ops.link", lo_tmr, lo_tmr, "lo_tmr", .init = (void *)lo_tmr_init,
       .cong_avoid = (void *)lo_tmr_cong_avoid, );
