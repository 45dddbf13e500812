// tc and XDP programs that look up the socket an IPv4 TCP/UDP packet is addressed to
// (bpf_sk_lookup_tcp / bpf_sk_lookup_udp), for tests/kernel/test_sk_lookup_real.py.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Returns state << 24 | protocol << 16 | local port of the socket found, 0 when none,
 * 1 for a packet that is not IPv4 TCP/UDP with both headers. */
static __always_inline __u32 lookup(void *ctx, void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *sk;
	struct iphdr *ip;
	struct udphdr *l4;
	__u32 r;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 1;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl != 5)
		return 1;
	l4 = (void *)(ip + 1);
	if ((void *)(l4 + 1) > data_end)
		return 1;
	tuple.ipv4.saddr = ip->saddr;
	tuple.ipv4.daddr = ip->daddr;
	tuple.ipv4.sport = l4->source;
	tuple.ipv4.dport = l4->dest;
	if (ip->protocol == IPPROTO_TCP)
		sk = bpf_sk_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	else if (ip->protocol == IPPROTO_UDP)
		sk = bpf_sk_lookup_udp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	else
		return 1;
	if (!sk)
		return 0;
	r = sk->state << 24 | sk->protocol << 16 | sk->src_port;
	bpf_sk_release(sk);
	return r;
}

SEC("tc")
int tc_sk_lookup(struct __sk_buff *skb)
{
	return lookup(skb, (void *)(long)skb->data, (void *)(long)skb->data_end);
}

SEC("xdp")
int xdp_sk_lookup(struct xdp_md *ctx)
{
	return lookup(ctx, (void *)(long)ctx->data, (void *)(long)ctx->data_end);
}

char _license[] SEC("license") = "GPL";
