// Tracepoint: counts events per CPU with a field of the raw record (accepted).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_write")
int count(void *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 *v = bpf_map_lookup_elem(&counts, &cpu);
	__u64 fd = *(__u64 *)((char *)ctx + 16);

	if (v)
		*v += fd;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
