// Socket filter: a bpf_loop callback counts in a caller stack slot, later an index:
// at most 4 iterations keep it in [0, 4] of a 5-element array (accepted; iterated callback).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct state {
	__u64 i;
};

static int step(__u32 idx, void *data)
{
	struct state *s = data;

	s->i++;
	return 0;
}

SEC("socket")
int cb_index(struct __sk_buff *skb)
{
	struct state s = { 0 };
	__u64 arr[5] = {};

	bpf_loop(4, step, &s, 0);
	return arr[s.i] & 1;
}

char LICENSE[] SEC("license") = "GPL";
