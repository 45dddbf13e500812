// tc classifier: an allocated object with its own bpf_spin_lock, taken and released (accepted).
#include "rbcommon.h"

struct locked_obj {
	struct bpf_spin_lock lock;
	__u64 val;
};

SEC("tc")
int obj_lock(struct __sk_buff *skb)
{
	struct locked_obj *o = new_obj(struct locked_obj);

	if (!o)
		return 0;
	bpf_spin_lock(&o->lock);
	o->val = skb->len;
	bpf_spin_unlock(&o->lock);
	bpf_obj_drop_impl(o, NULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
