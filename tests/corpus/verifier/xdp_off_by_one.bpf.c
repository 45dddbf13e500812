// XDP: checks 14 bytes but reads the 15th (rejected: off by one).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int off_by_one(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;

	if (data + 14 > end)
		return XDP_PASS;
	return data[14] == 0x45 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
