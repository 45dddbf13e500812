// Socket filter: bpf_loop with a callback summing into its context (accepted).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct acc {
	__u64 sum;
};

static int add_one(__u32 i, void *data)
{
	struct acc *a = data;

	a->sum += i;
	return 0;
}

SEC("socket")
int loop_cb(struct __sk_buff *skb)
{
	struct acc a = { 0 };

	bpf_loop(8, add_one, &a, 0);
	return a.sum & 1;
}

char LICENSE[] SEC("license") = "GPL";
