// tc programs of the test_run differential test: direct packet access on an skb.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Swap the MAC addresses; for IPv4 decrement the TTL and mark the skb with the protocol.
 * Returns TC_ACT_SHOT for a runt frame, the new TTL for IPv4, TC_ACT_OK otherwise. */
SEC("tc")
int tc_swap_mac(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];
	struct iphdr *ip;

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_SHOT;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	skb->cb[0] += 1;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return TC_ACT_SHOT;
	ip->ttl -= 1;
	skb->mark = ip->protocol;
	skb->priority = skb->len;
	return ip->ttl;
}

/* Fold the context fields test_run fills into the return value. */
SEC("tc")
int tc_ctx_fields(struct __sk_buff *skb)
{
	__u32 r = skb->len;

	r ^= skb->protocol << 8;
	r ^= skb->pkt_type << 24;
	r ^= skb->ifindex << 28;
	r ^= skb->ingress_ifindex << 20;
	r ^= skb->mark;
	r ^= skb->priority << 4;
	r ^= skb->cb[1];
	r ^= skb->wire_len << 12;
	r ^= skb->gso_segs << 16;
	r ^= skb->gso_size << 18;
	r ^= (__u32)skb->tstamp;
	r ^= skb->data_end - skb->data;
	r ^= (skb->data - skb->data_meta) << 2;
	return r;
}

/* XOR every byte of the first 64 with 0x5a (bounded loop over the packet). */
SEC("tc")
int tc_xor_payload(struct __sk_buff *skb)
{
	unsigned char *p = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	int i, n = 0;

	for (i = 0; i < 64; i++) {
		if ((void *)(p + i + 1) > data_end)
			break;
		p[i] ^= 0x5a;
		n++;
	}
	return n;
}

/* Read the UDP destination port with bpf_skb_load_bytes; rewrite 53 to 5353 with
 * bpf_skb_store_bytes.  Returns the port read (host order), or 1000 + the error. */
SEC("tc")
int tc_rewrite_port(struct __sk_buff *skb)
{
	__be16 port, new_port = bpf_htons(5353);
	int off = ETH_HLEN + sizeof(struct iphdr) + 2;
	int err;

	err = bpf_skb_load_bytes(skb, off, &port, sizeof(port));
	if (err)
		return 1000 - err;
	if (port == bpf_htons(53)) {
		err = bpf_skb_store_bytes(skb, off, &new_port, sizeof(new_port), 0);
		if (err)
			return 2000 - err;
	}
	return bpf_ntohs(port);
}

char _license[] SEC("license") = "GPL";
