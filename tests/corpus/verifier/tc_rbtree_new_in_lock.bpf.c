// tc classifier: allocates while holding the tree's lock (rejected: bpf_obj_new is not a
// call allowed with a lock held).
#include "rbcommon.h"

SEC("tc")
int rbtree_new_in_lock(struct __sk_buff *skb)
{
	struct item *it;

	bpf_spin_lock(&tree_lock);
	it = new_obj(struct item);
	if (it) {
		it->key = skb->len;
		bpf_rbtree_add_impl(&tree, &it->rb, item_less, NULL, 0);
	}
	bpf_spin_unlock(&tree_lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
