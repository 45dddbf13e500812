// Socket filter: a bpf_loop callback sets a caller stack slot to 1, then on
// its 2nd iteration to 7, later an index into 2 elements (rejected on the 2nd iteration).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct state {
	__u64 i;
};

static int step(__u32 idx, void *data)
{
	struct state *s = data;

	s->i = s->i == 1 ? 7 : 1;
	return 0;
}

SEC("socket")
int cb_index(struct __sk_buff *skb)
{
	struct state s = { 0 };
	__u64 arr[2] = {};

	bpf_loop(100, step, &s, 0);
	return arr[s.i] & 1;
}

char LICENSE[] SEC("license") = "GPL";
