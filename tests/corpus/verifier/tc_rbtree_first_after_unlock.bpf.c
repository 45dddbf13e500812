// tc classifier: removes the first item under the tree's lock, reads it and drops it after
// unlocking (accepted: the removed item is an owning reference, valid without the lock).
#include "rbcommon.h"

SEC("tc")
int rbtree_pop(struct __sk_buff *skb)
{
	struct bpf_rb_node *n;
	struct item *it = new_obj(struct item);

	if (it)
		bpf_obj_drop_impl(it, NULL);
	bpf_spin_lock(&tree_lock);
	n = bpf_rbtree_first(&tree);
	if (!n) {
		bpf_spin_unlock(&tree_lock);
		return 0;
	}
	n = bpf_rbtree_remove(&tree, n);
	bpf_spin_unlock(&tree_lock);
	if (!n)
		return 0;
	it = (struct item *)n;
	skb->mark = it->key;
	bpf_obj_drop_impl(it, NULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
