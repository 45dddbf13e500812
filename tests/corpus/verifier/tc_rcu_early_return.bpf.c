// tc classifier: returns from inside an RCU read section when the lookup fails (rejected:
// the main program may not exit with the section open).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

SEC("tc")
int rcu_early_return(struct __sk_buff *skb)
{
	__u32 key = skb->mark;
	__u64 *v;

	bpf_rcu_read_lock();
	v = bpf_map_lookup_elem(&seen, &key);
	if (!v)
		return 0;
	*v += 1;
	bpf_rcu_read_unlock();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
