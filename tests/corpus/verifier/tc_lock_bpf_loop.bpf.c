// tc classifier: runs bpf_loop while holding a bpf_spin_lock (rejected: a helper call).
#include "rbcommon.h"

struct counter {
	struct bpf_spin_lock lock;
	__u64 val;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counter);
} counters SEC(".maps");

static long add_one(__u64 i, void *ctx)
{
	return 0;
}

SEC("tc")
int lock_bpf_loop(struct __sk_buff *skb)
{
	__u32 key = 0;
	struct counter *c = bpf_map_lookup_elem(&counters, &key);

	if (!c)
		return 0;
	bpf_spin_lock(&c->lock);
	bpf_loop(4, add_one, NULL, 0);
	c->val++;
	bpf_spin_unlock(&c->lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
