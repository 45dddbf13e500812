// tc classifier: calls a static function while holding a bpf_spin_lock (accepted).
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

static __attribute__((noinline)) int scale(int x)
{
	return x * 3 + 1;
}

SEC("tc")
int lock_static_fn(struct __sk_buff *skb)
{
	__u32 key = 0;
	struct counter *c = bpf_map_lookup_elem(&counters, &key);

	if (!c)
		return 0;
	bpf_spin_lock(&c->lock);
	c->val = scale(skb->len);
	bpf_spin_unlock(&c->lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
