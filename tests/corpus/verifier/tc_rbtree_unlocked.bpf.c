// tc classifier: inserts into an rbtree without taking the tree's lock (rejected).
#include "rbcommon.h"

SEC("tc")
int rbtree_unlocked(struct __sk_buff *skb)
{
	struct item *it = new_obj(struct item);

	if (!it)
		return 0;
	it->key = skb->len;
	bpf_rbtree_add_impl(&tree, &it->rb, item_less, NULL, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
