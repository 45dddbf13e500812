// Socket filter: a bpf_for_each_map_elem callback toggles a caller stack slot between 0 and 1, later an index into 2 elements (accepted: the iteration converges).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} vals SEC(".maps");

struct state {
	__u64 i;
};

static long step(void *map, __u32 *key, __u64 *val, void *data)
{
	struct state *s = data;

	s->i = s->i ? 0 : 1;
	return 0;
}

SEC("socket")
int cb_each(struct __sk_buff *skb)
{
	struct state s = { 0 };
	__u64 arr[2] = {};

	bpf_for_each_map_elem(&vals, step, &s, 0);
	return arr[s.i] & 1;
}

char LICENSE[] SEC("license") = "GPL";
