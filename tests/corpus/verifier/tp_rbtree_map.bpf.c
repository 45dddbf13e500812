// tracepoint: takes the lock of a section holding an rbtree (rejected: tracing programs may
// not use a map holding a bpf_rb_root, checked before the lock).
#include "rbcommon.h"

SEC("tracepoint/syscalls/sys_enter_getpid")
int tp_rbtree(void *ctx)
{
	bpf_spin_lock(&tree_lock);
	bpf_spin_unlock(&tree_lock);
	return bpf_core_type_id_local(struct item) & 1;
}

char LICENSE[] SEC("license") = "GPL";
