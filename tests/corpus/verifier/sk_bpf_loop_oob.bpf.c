// Socket filter: a bpf_loop callback indexes a stack array with the unbounded loop index
// (rejected: the callback's i is any u32).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct acc {
	__u64 v[4];
};

static int store(__u32 i, void *data)
{
	struct acc *a = data;

	a->v[i] = i;
	return 0;
}

SEC("socket")
int loop_oob(struct __sk_buff *skb)
{
	struct acc a = {};

	bpf_loop(4, store, &a, 0);
	return a.v[0] & 1;
}

char LICENSE[] SEC("license") = "GPL";
