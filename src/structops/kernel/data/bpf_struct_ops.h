/*
 * bpf_struct_ops.h - the struct_ops core types that vmlinux.c and bpf_testmod.c both
 * declare (kernel/bpf/bpf_struct_ops.c), written once: the map state enum, the common
 * head of every value, and BPF_STRUCT_OPS_VALUE(name), the `bpf_struct_ops_<name>`
 * value type the kernel's BPF_STRUCT_OPS_TYPE() generates (common, then data at 64).
 * The includer declares refcount_t and __aligned() first.  In bpf_testmod.c these
 * resolve to the base's types (same spellings, deduplicated by pahole).
 */
#ifndef STRUCTOPS_BPF_STRUCT_OPS_H
#define STRUCTOPS_BPF_STRUCT_OPS_H

enum bpf_struct_ops_state {
	BPF_STRUCT_OPS_STATE_INIT = 0,
	BPF_STRUCT_OPS_STATE_INUSE = 1,
	BPF_STRUCT_OPS_STATE_TOBEFREE = 2,
	BPF_STRUCT_OPS_STATE_READY = 3,
};

struct bpf_struct_ops_common_value {
	refcount_t refcnt;
	enum bpf_struct_ops_state state;
};

#define BPF_STRUCT_OPS_VALUE(name)                          \
	struct bpf_struct_ops_##name {                      \
		struct bpf_struct_ops_common_value common;  \
		struct name data __aligned(64);             \
	}

#endif
