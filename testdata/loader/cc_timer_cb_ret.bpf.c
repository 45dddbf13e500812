/* SPDX-License-Identifier: GPL-2.0 */
/* A timer callback must return 0 (Linux checks it as an async callback). */
#include "lo_common.h"

struct lo_tr_val {
	struct bpf_timer t;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lo_tr_val);
} lo_tr_timers SEC(".maps");

__u64 lo_tr_fired = 0;

static int lo_tr_cb(void *map, __u32 *key, struct lo_tr_val *v)
{
	lo_tr_fired++;
	return lo_tr_fired & 1;
}

SEC("struct_ops")
void BPF_PROG(lo_tr_init, struct sock *sk)
{
	__u32 key = 0;
	struct lo_tr_val *v = bpf_map_lookup_elem(&lo_tr_timers, &key);

	if (!v)
		return;
	bpf_timer_init(&v->t, &lo_tr_timers, 1);
	bpf_timer_set_callback(&v->t, lo_tr_cb);
}

SEC("struct_ops")
void BPF_PROG(lo_tr_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_tr)
LO_OPS(".struct_ops.link", lo_tr, lo_tr, "lo_tr", .init = (void *)lo_tr_init,
       .cong_avoid = (void *)lo_tr_cong_avoid, );
