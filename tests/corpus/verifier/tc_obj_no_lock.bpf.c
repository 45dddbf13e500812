// tc classifier: bpf_spin_lock on an allocated object whose type has no lock (rejected).
#include "rbcommon.h"

struct plain_obj {
	__u64 a;
	__u64 val;
};

SEC("tc")
int obj_no_lock(struct __sk_buff *skb)
{
	struct plain_obj *o = new_obj(struct plain_obj);

	if (!o)
		return 0;
	bpf_spin_lock((struct bpf_spin_lock *)&o->a);
	o->val = skb->len;
	bpf_spin_unlock((struct bpf_spin_lock *)&o->a);
	bpf_obj_drop_impl(o, NULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
