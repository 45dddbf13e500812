// tc classifier: counts packets per key in a hash map under the value's bpf_spin_lock (accepted).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct counter {
	struct bpf_spin_lock lock;
	__u32 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct counter);
} counters SEC(".maps");

SEC("tc")
int count_locked(struct __sk_buff *skb)
{
	__u32 key = skb->mark & 15;
	struct counter *c = bpf_map_lookup_elem(&counters, &key);

	if (!c)
		return 0;
	bpf_spin_lock(&c->lock);
	c->packets++;
	c->bytes += skb->len;
	bpf_spin_unlock(&c->lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
