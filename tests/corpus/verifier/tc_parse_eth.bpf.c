// tc classifier: reads the ethertype after a data/data_end check (accepted).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int parse_eth(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *end = (void *)(long)skb->data_end;

	if (data + 14 > end)
		return 0;
	skb->mark = (data[12] << 8) | data[13];
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
