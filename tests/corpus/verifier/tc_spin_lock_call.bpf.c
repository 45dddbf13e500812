// tc classifier: reads the clock while holding the value's bpf_spin_lock (rejected: no helper
// calls but bpf_spin_unlock inside the locked region).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct stamp {
	struct bpf_spin_lock lock;
	__u64 last;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stamp);
} stamps SEC(".maps");

SEC("tc")
int stamp_locked(struct __sk_buff *skb)
{
	__u32 key = 0;
	struct stamp *s = bpf_map_lookup_elem(&stamps, &key);

	if (!s)
		return 0;
	bpf_spin_lock(&s->lock);
	s->last = bpf_ktime_get_ns();
	bpf_spin_unlock(&s->lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
