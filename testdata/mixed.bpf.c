/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A mixed object: tc, socket and xdp programs with a BTF-defined array map and shared
 * bpf-to-bpf subprograms (one static, one global), next to a struct_ops map.
 */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "Dual BSD/GPL";

struct {
	SO_MAP_UINT(type, BPF_MAP_TYPE_ARRAY);
	SO_MAP_UINT(max_entries, 4);
	SO_MAP_TYPE(key, __u32);
	SO_MAP_TYPE(value, __u64);
} mixed_counts SEC(".maps");

struct {
	SO_MAP_UINT(type, BPF_MAP_TYPE_HASH);
	SO_MAP_UINT(max_entries, 128);
	SO_MAP_UINT(key_size, 8);
	SO_MAP_UINT(value_size, 16);
	SO_MAP_UINT(map_flags, BPF_F_NO_PREALLOC);
} mixed_sized SEC(".maps");

static void *(*so_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;

const char mixed_tag[8] = "mixed";
__u32 mixed_seen = 1;

static __attribute__((noinline)) int bump(__u32 slot)
{
	__u64 *v = so_map_lookup_elem(&mixed_counts, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
	return mixed_tag[slot & 7];
}

__attribute__((noinline)) int mixed_global_helper(int x)
{
	return x * 2 + (int)mixed_seen;
}

SEC("tc")
int mixed_tc(struct __sk_buff *skb)
{
	bump(0);
	return mixed_global_helper(skb->len) > 0 ? 0 : 2;
}

SEC("socket")
int mixed_socket(struct __sk_buff *skb)
{
	bump(1);
	return skb->len;
}

SEC("xdp")
int mixed_xdp(struct xdp_md *ctx)
{
	bump(2);
	return 2; /* XDP_PASS */
}

SEC("struct_ops/test_1")
SO_OPS(int, mixed_test_1, (struct bpf_dummy_ops_state *, state))
{
	return state ? mixed_global_helper(state->val) : 0;
}

SEC(".struct_ops")
struct bpf_dummy_ops mixed_dummy = {
	.test_1 = (void *)mixed_test_1,
};
