// tc classifier: looks a socket up and releases it (accepted).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int sk_lookup_release(struct __sk_buff *skb)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *sk;

	sk = bpf_sk_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	skb->mark = sk->state;
	bpf_sk_release(sk);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
