/* SPDX-License-Identifier: GPL-2.0 */
/* A BTF-defined hash map with struct key and value (BTF key/value type ids). */
#include "lo_common.h"

struct lo_key { __u32 cwnd_bucket; __u32 pad; };
struct lo_val { __u64 hits; };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct lo_key);
	__type(value, struct lo_val);
} lo_hist SEC(".maps");

SEC("struct_ops")
void BPF_PROG(lo_hash_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct lo_key k = { .cwnd_bucket = tp->snd_cwnd / 8 };
	struct lo_val one = { .hits = 1 }, *v;

	v = bpf_map_lookup_elem(&lo_hist, &k);
	if (v)
		v->hits++;
	else
		bpf_map_update_elem(&lo_hist, &k, &one, BPF_NOEXIST);
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_hash)
LO_OPS(".struct_ops.link", lo_hash, lo_hash, "lo_hash", .cong_avoid = (void *)lo_hash_cong_avoid, );
