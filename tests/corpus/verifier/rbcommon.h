// Shared declarations of the rbtree corpus programs: the graph kfuncs and types as Linux 6.18
// declares them, one tree of "struct item" and its lock in a ".data.T" section.
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct bpf_rb_root { __u64 opaque[2]; } __attribute__((aligned(8)));
struct bpf_rb_node { __u64 opaque[4]; } __attribute__((aligned(8)));

extern void *bpf_obj_new_impl(__u64 local_type_id, void *meta) __ksym;
extern void bpf_obj_drop_impl(void *kptr, void *meta) __ksym;
extern int bpf_rbtree_add_impl(struct bpf_rb_root *root, struct bpf_rb_node *node,
			       bool (less)(struct bpf_rb_node *a, const struct bpf_rb_node *b),
			       void *meta, __u64 off) __ksym;
extern struct bpf_rb_node *bpf_rbtree_first(struct bpf_rb_root *root) __ksym;
extern struct bpf_rb_node *bpf_rbtree_remove(struct bpf_rb_root *root, struct bpf_rb_node *node) __ksym;

#define private(name) SEC(".data." #name) __attribute__((visibility("hidden"), aligned(8)))
#define __contains(name, node) __attribute__((btf_decl_tag("contains:" #name ":" #node)))
#define new_obj(type) ((type *)bpf_obj_new_impl(bpf_core_type_id_local(type), NULL))

struct item {
	struct bpf_rb_node rb;
	__u64 key;
};

static bool item_less(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct item *x = (struct item *)a, *y = (struct item *)b;

	return x->key < y->key;
}

private(T) struct bpf_spin_lock tree_lock;
private(T) struct bpf_rb_root tree __contains(item, rb);
