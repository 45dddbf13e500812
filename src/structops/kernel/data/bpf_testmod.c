/*
 * bpf_testmod.c - type source of the emulated "bpf_testmod" module BTF (bpf_testmod.btf).
 *
 * Like vmlinux.c this is compiled with `gcc -g` only for its DWARF; pahole encodes
 * it as SPLIT BTF on top of vmlinux.btf (`pahole --btf_base`), the way a kernel
 * module's BTF sits on top of the kernel's: types it shares with the base (int,
 * u64, struct module, struct task_struct, ...) are not repeated, and its type ids
 * continue after the base's last id.
 *
 * The struct_ops types mirror the selftests module (tools/testing/selftests/bpf/
 * test_kmods/bpf_testmod.h) as described in reference/selftests-libbpf-bpftool.md
 * A.0: bpf_testmod_ops (with `unsupported_ops`, which has no cfi stub, and 40
 * tramp_N members so one map needs more than one trampoline page), bpf_testmod_ops2,
 * bpf_testmod_ops3, bpf_testmod_st_ops and bpf_testmod_multi_st_ops, each with its
 * bpf_struct_ops_<name> value type.  Stub parameters named `task__nullable` and
 * `task__ref` are what the struct_ops core reads to mark arguments nullable or
 * referenced.
 *
 * The real module is not present on the reference kernel (CONFIG_MODULES=n), so
 * the stub function names that the selftests source does not fix are ours.
 */

#define __aligned(x) __attribute__((__aligned__(x)))
#define __stub __attribute__((__noinline__, __used__))

/*
 * Same spellings as vmlinux.c so that pahole's dedup maps them onto the base;
 * structs the module only points to are declared here and resolve to the base.
 */
typedef unsigned long long __u64;
typedef __u64 u64;
typedef _Bool bool;

struct task_struct;
struct cgroup;
struct module;

typedef struct {
	int counter;
} atomic_t;

struct refcount_struct {
	atomic_t refs;
};
typedef struct refcount_struct refcount_t;

#include "bpf_struct_ops.h"

struct bpf_testmod_ops {
	int (*test_1)(void);
	void (*test_2)(int, int);
	int (*test_maybe_null)(int, struct task_struct *);
	int (*unsupported_ops)(void);
	int (*test_refcounted)(int, struct task_struct *);
	struct task_struct *(*test_return_ref_kptr)(int, struct task_struct *, struct cgroup *);
	char onebyte;
	struct {
		int a;
		int b;
	} unsupported;
	int data;
	int (*tramp_1)(int);
	int (*tramp_2)(int);
	int (*tramp_3)(int);
	int (*tramp_4)(int);
	int (*tramp_5)(int);
	int (*tramp_6)(int);
	int (*tramp_7)(int);
	int (*tramp_8)(int);
	int (*tramp_9)(int);
	int (*tramp_10)(int);
	int (*tramp_11)(int);
	int (*tramp_12)(int);
	int (*tramp_13)(int);
	int (*tramp_14)(int);
	int (*tramp_15)(int);
	int (*tramp_16)(int);
	int (*tramp_17)(int);
	int (*tramp_18)(int);
	int (*tramp_19)(int);
	int (*tramp_20)(int);
	int (*tramp_21)(int);
	int (*tramp_22)(int);
	int (*tramp_23)(int);
	int (*tramp_24)(int);
	int (*tramp_25)(int);
	int (*tramp_26)(int);
	int (*tramp_27)(int);
	int (*tramp_28)(int);
	int (*tramp_29)(int);
	int (*tramp_30)(int);
	int (*tramp_31)(int);
	int (*tramp_32)(int);
	int (*tramp_33)(int);
	int (*tramp_34)(int);
	int (*tramp_35)(int);
	int (*tramp_36)(int);
	int (*tramp_37)(int);
	int (*tramp_38)(int);
	int (*tramp_39)(int);
	int (*tramp_40)(int);
};

struct bpf_testmod_ops2 {
	int (*test_1)(void);
};

struct bpf_testmod_ops3 {
	int (*test_1)(void);
	int (*test_2)(void);
};

struct st_ops_args {
	u64 a;
};

struct bpf_testmod_st_ops {
	int (*test_prologue)(struct st_ops_args *);
	int (*test_epilogue)(struct st_ops_args *);
	int (*test_pro_epilogue)(struct st_ops_args *);
	struct module *owner;
};

struct bpf_testmod_multi_st_ops {
	int (*test_1)(struct st_ops_args *);
};

/* Value types, as the kernel's BPF_STRUCT_OPS_TYPE() would generate them. */
BPF_STRUCT_OPS_VALUE(bpf_testmod_ops);
BPF_STRUCT_OPS_VALUE(bpf_testmod_ops2);
BPF_STRUCT_OPS_VALUE(bpf_testmod_ops3);
BPF_STRUCT_OPS_VALUE(bpf_testmod_st_ops);
BPF_STRUCT_OPS_VALUE(bpf_testmod_multi_st_ops);

/* ---- cfi stubs of bpf_testmod_ops (unsupported_ops deliberately has none) ---- */
__stub int bpf_testmod_test_1(void)
{
	return 0;
}

__stub void bpf_testmod_test_2(int a, int b)
{
	(void)(a + b);
}

__stub int bpf_testmod_ops__test_maybe_null(int dummy, struct task_struct *task__nullable)
{
	return dummy + (task__nullable != 0);
}

__stub int bpf_testmod_ops__test_refcounted(int dummy, struct task_struct *task__ref)
{
	return dummy + (task__ref != 0);
}

__stub struct task_struct *bpf_testmod_ops__test_return_ref_kptr(int dummy, struct task_struct *task__ref,
								 struct cgroup *cgrp)
{
	return dummy && cgrp ? task__ref : 0;
}

__stub int bpf_testmod_tramp(int value)
{
	return value;
}

/* ---- cfi stubs of bpf_testmod_ops3 ---- */
__stub int bpf_testmod_ops3__test_1(void)
{
	return 0;
}

__stub int bpf_testmod_ops3__test_2(void)
{
	return 0;
}

/* ---- cfi stubs of bpf_testmod_st_ops and bpf_testmod_multi_st_ops ---- */
__stub int bpf_testmod_st_ops__test_prologue(struct st_ops_args *args)
{
	return (int)args->a;
}

__stub int bpf_testmod_st_ops__test_epilogue(struct st_ops_args *args)
{
	return (int)args->a;
}

__stub int bpf_testmod_st_ops__test_pro_epilogue(struct st_ops_args *args)
{
	return (int)args->a;
}

__stub int bpf_testmod_multi_st_ops__test_1(struct st_ops_args *args)
{
	return (int)args->a;
}

/* ---- kfuncs the module registers for struct_ops programs ---- */
__stub int bpf_kfunc_st_ops_inc10(struct st_ops_args *args)
{
	args->a += 10;
	return (int)args->a;
}

__stub int bpf_kfunc_multi_st_ops_test_1(struct st_ops_args *args, unsigned int id)
{
	return (int)(args->a + id);
}
