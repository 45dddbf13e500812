// tc classifier: inserts an allocated item into an rbtree under the tree's lock (accepted).
#include "rbcommon.h"

SEC("tc")
int rbtree_locked(struct __sk_buff *skb)
{
	struct item *it = new_obj(struct item);

	if (!it)
		return 0;
	it->key = skb->len;
	bpf_spin_lock(&tree_lock);
	bpf_rbtree_add_impl(&tree, &it->rb, item_less, NULL, 0);
	bpf_spin_unlock(&tree_lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
