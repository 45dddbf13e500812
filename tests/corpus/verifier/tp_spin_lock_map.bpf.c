// tracepoint: locks a hash map value (rejected: tracing programs may not use a map holding a
// bpf_spin_lock).
#include "rbcommon.h"

struct counter {
	struct bpf_spin_lock lock;
	__u64 val;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct counter);
} counters SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int tp_spin_lock(void *ctx)
{
	__u32 key = 0;
	struct counter *c = bpf_map_lookup_elem(&counters, &key);

	if (!c)
		return 0;
	bpf_spin_lock(&c->lock);
	c->val++;
	bpf_spin_unlock(&c->lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
