// tc classifier: reads the ethertype without a data_end check (rejected by the verifier).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int parse_eth_nocheck(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;

	skb->mark = (data[12] << 8) | data[13];
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
