/* SPDX-License-Identifier: GPL-2.0 */
/* A BTF-defined SK_STORAGE map: Linux refuses it without BTF key/value type ids. */
#include "lo_common.h"

struct lo_sk_state {
	__u64 acks;
	__u32 max_cwnd;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct lo_sk_state);
} lo_sk_state SEC(".maps");

__u64 n_stored = 0;

SEC("struct_ops")
void BPF_PROG(lo_stor_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct lo_sk_state *s = bpf_sk_storage_get(&lo_sk_state, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (s) {
		s->acks += acked;
		if (tp->snd_cwnd > s->max_cwnd)
			s->max_cwnd = tp->snd_cwnd;
		n_stored++;
	}
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_stor)
LO_OPS(".struct_ops.link", lo_stor, lo_stor, "lo_stor", .cong_avoid = (void *)lo_stor_cong_avoid, );
