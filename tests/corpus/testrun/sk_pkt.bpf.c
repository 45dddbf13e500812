// Socket filters and tc programs with legacy packet loads (LD_ABS / LD_IND) for the test_run
// differential test: a socket filter's skb starts at the network header, a tc program's at
// the Ethernet header; out-of-bounds loads end the program with 0.
#include <linux/bpf.h>
#include <linux/filter.h>
#include <bpf/bpf_helpers.h>

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

/* IPv4: protocol << 24 | total length << 8 | TTL; the TTL load is the last one, a word
 * at len - 2 is out of bounds (the program returns 0 there) unless the header is short. */
SEC("socket")
int sk_ip_fields(struct __sk_buff *skb)
{
	__u32 r;

	if ((load_byte(skb, 0) >> 4) != 4)
		return 1;
	r = load_byte(skb, 9) << 24 | load_half(skb, 2) << 8 | load_byte(skb, 8);
	if (skb->len > 100)
		r ^= load_word(skb, skb->len - 2);
	return r;
}

/* The context a socket filter sees in a test run, folded into the return value. */
SEC("socket")
int sk_ctx_fields(struct __sk_buff *skb)
{
	__u32 r = skb->len;

	r ^= skb->protocol << 8;
	r ^= skb->pkt_type << 24;
	r ^= skb->ifindex << 28;
	r ^= skb->ingress_ifindex << 20;
	r ^= skb->mark;
	r ^= skb->priority << 4;
	r ^= skb->cb[1];
	r ^= skb->queue_mapping << 16;
	r ^= skb->vlan_present << 30;
	skb->cb[0] = r;
	return r;
}

/* Link-layer and network-header loads (SKF_LL_OFF / SKF_NET_OFF). */
SEC("socket")
int sk_ll_net(struct __sk_buff *skb)
{
	return load_half(skb, SKF_LL_OFF + 12) << 16 | load_byte(skb, SKF_NET_OFF + 9) << 8 |
	       load_byte(skb, SKF_LL_OFF + 6);
}

/* tc: IPv4 over Ethernet, the UDP destination port found through the header length (LD_IND). */
SEC("tc")
int tc_ld_abs(struct __sk_buff *skb)
{
	__u32 ihl;

	if (load_half(skb, 12) != 0x0800)
		return 1;
	if (load_byte(skb, 23) != 17)
		return 2;
	ihl = (load_byte(skb, 14) & 0xf) * 4;
	return load_half(skb, 14 + ihl + 2) | load_byte(skb, 14 + ihl + 8) << 16;
}

/* The same as a tc action (SCHED_ACT: tc's ops and test run). */
SEC("action")
int act_ld_abs(struct __sk_buff *skb)
{
	return tc_ld_abs(skb) ^ skb->len << 24;
}

/* The socket a test run's skb belongs to (skb->sk, a sock_common): family, addresses,
 * state and rx queue folded together; 0xdead without one. */
static __always_inline __u32 sock_fields(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return 0xdead;
	return sk->family ^ sk->src_ip4 ^ (sk->dst_ip4 << 1) ^ (sk->state << 8) ^ sk->rx_queue_mapping ^
	       sk->src_ip6[0] ^ (sk->dst_ip6[3] << 2) ^ sk->src_port ^ sk->dst_port ^ sk->bound_dev_if;
}

SEC("socket")
int sk_sock_fields(struct __sk_buff *skb)
{
	return sock_fields(skb);
}

SEC("tc")
int tc_sock_fields(struct __sk_buff *skb)
{
	return sock_fields(skb);
}

/* bpf_skb_load_bytes_relative from the link-layer and network headers (the error of a
 * read past the end folded in) and bpf_skb_load_bytes from data. */
static __always_inline __u32 relative_loads(struct __sk_buff *skb)
{
	__u32 mac = 0, net = 0, tail = 0, data = 0;
	long e1, e2;

	e1 = bpf_skb_load_bytes_relative(skb, 12, &mac, 4, BPF_HDR_START_MAC);
	e2 = bpf_skb_load_bytes_relative(skb, 16, &net, 4, BPF_HDR_START_NET);
	tail = bpf_skb_load_bytes_relative(skb, skb->len - 2, &tail, 4, BPF_HDR_START_NET);
	bpf_skb_load_bytes(skb, 0, &data, 4);
	return mac ^ net ^ (data << 1) ^ (tail << 16) ^ ((__u32)e1 << 8) ^ ((__u32)e2 << 12);
}

SEC("socket")
int sk_load_relative(struct __sk_buff *skb)
{
	return relative_loads(skb);
}

SEC("tc")
int tc_load_relative(struct __sk_buff *skb)
{
	return relative_loads(skb);
}

char LICENSE[] SEC("license") = "GPL";
