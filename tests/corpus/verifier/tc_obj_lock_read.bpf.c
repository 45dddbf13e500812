// tc classifier: reads the bpf_spin_lock word of an allocated object directly (rejected).
#include "rbcommon.h"

struct locked_obj {
	struct bpf_spin_lock lock;
	__u64 val;
};

SEC("tc")
int obj_lock_read(struct __sk_buff *skb)
{
	struct locked_obj *o = new_obj(struct locked_obj);
	__u32 word;

	if (!o)
		return 0;
	word = *(volatile __u32 *)&o->lock;
	skb->mark = word;
	bpf_obj_drop_impl(o, NULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
