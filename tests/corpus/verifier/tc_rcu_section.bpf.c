// tc classifier: an RCU read section around a map update, closed on every path (accepted).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

SEC("tc")
int rcu_section(struct __sk_buff *skb)
{
	__u32 key = skb->mark & 3;
	__u64 *v;

	bpf_rcu_read_lock();
	v = bpf_map_lookup_elem(&seen, &key);
	if (v)
		*v += 1;
	bpf_rcu_read_unlock();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
