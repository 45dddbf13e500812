// Socket filter: a bounded loop over a map value's words (accepted).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct val {
	__u32 w[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct val);
} words SEC(".maps");

SEC("socket")
int loop_sum(struct __sk_buff *skb)
{
	__u32 key = 0, sum = 0;
	struct val *v = bpf_map_lookup_elem(&words, &key);

	if (!v)
		return 0;
	for (int i = 0; i < 16; i++)
		sum += v->w[i];
	return sum & 1;
}

char LICENSE[] SEC("license") = "GPL";
