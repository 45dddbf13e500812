// Socket filter: a bpf_loop callback that itself calls bpf_loop; the inner callback counts
// in the caller's stack, later an index into 4 elements (rejected: 2 x 3 iterations take j to 6, past the 4 elements and the state above them).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct state {
	__u64 i;
	__u64 j;
};

static int inner(__u32 idx, void *data)
{
	struct state *s = data;

	s->j++;
	return 0;
}

static int outer(__u32 idx, void *data)
{
	struct state *s = data;

	s->i++;
	bpf_loop(3, inner, s, 0);
	return 0;
}

SEC("socket")
int cb_nested(struct __sk_buff *skb)
{
	struct state s = { 0 };
	__u64 arr[4] = {};

	bpf_loop(2, outer, &s, 0);
	return arr[s.j] & 1;
}

char LICENSE[] SEC("license") = "GPL";
