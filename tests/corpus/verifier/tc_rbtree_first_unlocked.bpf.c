// tc classifier: peeks at the first item without the tree's lock (rejected).
#include "rbcommon.h"

SEC("tc")
int rbtree_peek(struct __sk_buff *skb)
{
	struct bpf_rb_node *n;
	struct item *it = new_obj(struct item);

	if (it)
		bpf_obj_drop_impl(it, NULL);
	n = bpf_rbtree_first(&tree);
	return n ? 1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
