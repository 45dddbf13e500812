// Socket filter: counts packet bytes in an array map (accepted: NULL-checked lookup).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bytes SEC(".maps");

SEC("socket")
int count_len(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&bytes, &key);

	if (v)
		__sync_fetch_and_add(v, skb->len);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
