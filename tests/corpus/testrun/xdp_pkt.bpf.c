// XDP programs of the test_run differential test: direct packet access, metadata and
// the bpf_xdp_adjust_head / _meta / _tail helpers.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Drop UDP to port 53, bounce (XDP_TX) other IPv4 with swapped addresses, pass the rest. */
SEC("xdp")
int xdp_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;
	__u32 tmp;

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_DROP;
	if (ip->protocol == IPPROTO_UDP) {
		udp = (void *)(ip + 1);
		if ((void *)(udp + 1) > data_end)
			return XDP_DROP;
		if (udp->dest == bpf_htons(53))
			return XDP_DROP;
	}
	tmp = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = tmp;
	return XDP_TX;
}

/* Strip the Ethernet header, then stamp the new first byte. */
SEC("xdp")
int xdp_pop_eth(struct xdp_md *ctx)
{
	unsigned char *p;
	int err;

	err = bpf_xdp_adjust_head(ctx, (int)sizeof(struct ethhdr));
	if (err)
		return 100 - err;
	p = (void *)(long)ctx->data;
	if ((void *)(p + 1) > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	p[0] = 0xee;
	return XDP_PASS;
}

/* Reserve 4 bytes of metadata holding the packet's length, then drop 4 bytes of tail. */
SEC("xdp")
int xdp_meta_tail(struct xdp_md *ctx)
{
	__u32 *meta;
	void *data;
	int err;

	err = bpf_xdp_adjust_meta(ctx, -4);
	if (err)
		return 100 - err;
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if ((void *)(meta + 1) > data)
		return XDP_ABORTED;
	*meta = ctx->data_end - ctx->data;
	err = bpf_xdp_adjust_tail(ctx, -4);
	if (err)
		return 100 - err;
	return XDP_PASS;
}

/* Grow the tail by 8 (zeroed) bytes, then stamp the byte after the Ethernet header
 * through freshly loaded packet pointers; returns the new length. */
SEC("xdp")
int xdp_grow_tail(struct xdp_md *ctx)
{
	unsigned char *p;
	int err;

	err = bpf_xdp_adjust_tail(ctx, 8);
	if (err)
		return 100 - err;
	p = (void *)(long)ctx->data;
	if ((void *)(p + 15) > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	p[14] = 0xab;
	return ctx->data_end - ctx->data;
}

/* Read the last 4 bytes of the whole frame (fragments included) with bpf_xdp_load_bytes
 * and write them back inverted with bpf_xdp_store_bytes; returns them, or 1000 + the error. */
SEC("xdp")
int xdp_tail_bytes(struct xdp_md *ctx)
{
	__u32 len = bpf_xdp_get_buff_len(ctx);
	__u32 v;
	int err;

	if (len < 4 || len > 0xffff)
		return 1;
	err = bpf_xdp_load_bytes(ctx, len - 4, &v, sizeof(v));
	if (err)
		return 1000 - err;
	v = ~v;
	err = bpf_xdp_store_bytes(ctx, len - 4, &v, sizeof(v));
	if (err)
		return 2000 - err;
	return ~v;
}

char _license[] SEC("license") = "GPL";
