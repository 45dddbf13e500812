/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Programs for the in-repo emulated bpf_testmod_ops (same shape as the kernel
 * selftests' test module; declared here because the real kernel has no such type).
 *
 *   testmod_1     test_1 / test_2 / test_maybe_null (NULL-checked) and data = 13
 *   testmod_bad   ?.struct_ops (autocreate off): test_maybe_null WITHOUT a NULL check;
 *                 enabling it must fail at load (the argument is nullable)
 *   testmod_tramp 40 tramp_N ops, each its own program: more trampolines than fit a page
 */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

#define TRAMP(n) int (*tramp_##n)(int value)

struct bpf_testmod_ops {
	int (*test_1)(void);
	void (*test_2)(int a, int b);
	int (*test_maybe_null)(int dummy, struct task_struct *task);
	int (*unsupported_ops)(void);
	int data;
	TRAMP(1); TRAMP(2); TRAMP(3); TRAMP(4); TRAMP(5); TRAMP(6); TRAMP(7); TRAMP(8);
	TRAMP(9); TRAMP(10); TRAMP(11); TRAMP(12); TRAMP(13); TRAMP(14); TRAMP(15); TRAMP(16);
	TRAMP(17); TRAMP(18); TRAMP(19); TRAMP(20); TRAMP(21); TRAMP(22); TRAMP(23); TRAMP(24);
	TRAMP(25); TRAMP(26); TRAMP(27); TRAMP(28); TRAMP(29); TRAMP(30); TRAMP(31); TRAMP(32);
	TRAMP(33); TRAMP(34); TRAMP(35); TRAMP(36); TRAMP(37); TRAMP(38); TRAMP(39); TRAMP(40);
};

int test_1_result = 0;
int test_2_result = 0;
int maybe_null_tgid = -1;
__u64 tramp_calls = 0;

SEC("struct_ops/test_1")
int testmod_test_1(unsigned long long *ctx)
{
	test_1_result = 0xdeadbeef;
	return 0;
}

SEC("struct_ops/test_2")
SO_OPS(void, testmod_test_2, (int, a), (int, b))
{
	test_2_result = a + b;
}

SEC("struct_ops/test_maybe_null")
SO_OPS(int, testmod_maybe_null, (int, dummy), (struct task_struct *, task))
{
	if (task)
		maybe_null_tgid = task->tgid;
	return 0;
}

SEC("?struct_ops/test_maybe_null")
SO_OPS(int, testmod_maybe_null_bad, (int, dummy), (struct task_struct *, task))
{
	maybe_null_tgid = task->tgid; /* no NULL check: must be rejected */
	return 0;
}

SEC(".struct_ops")
struct bpf_testmod_ops testmod_1 = {
	.test_1 = (void *)testmod_test_1,
	.test_2 = (void *)testmod_test_2,
	.test_maybe_null = (void *)testmod_maybe_null,
	.data = 13,
};

SEC("?.struct_ops")
struct bpf_testmod_ops testmod_bad = {
	.test_maybe_null = (void *)testmod_maybe_null_bad,
};

/* tramp_N returns value + N, so a caller can tell which slot ran. */
#define TRAMP_PROG(n)                                             \
	SEC("struct_ops/tramp_" #n)                               \
	SO_OPS(int, testmod_tramp_##n, (int, value))              \
	{                                                         \
		tramp_calls++;                                    \
		return value + n;                                 \
	}

TRAMP_PROG(1) TRAMP_PROG(2) TRAMP_PROG(3) TRAMP_PROG(4) TRAMP_PROG(5)
TRAMP_PROG(6) TRAMP_PROG(7) TRAMP_PROG(8) TRAMP_PROG(9) TRAMP_PROG(10)
TRAMP_PROG(11) TRAMP_PROG(12) TRAMP_PROG(13) TRAMP_PROG(14) TRAMP_PROG(15)
TRAMP_PROG(16) TRAMP_PROG(17) TRAMP_PROG(18) TRAMP_PROG(19) TRAMP_PROG(20)
TRAMP_PROG(21) TRAMP_PROG(22) TRAMP_PROG(23) TRAMP_PROG(24) TRAMP_PROG(25)
TRAMP_PROG(26) TRAMP_PROG(27) TRAMP_PROG(28) TRAMP_PROG(29) TRAMP_PROG(30)
TRAMP_PROG(31) TRAMP_PROG(32) TRAMP_PROG(33) TRAMP_PROG(34) TRAMP_PROG(35)
TRAMP_PROG(36) TRAMP_PROG(37) TRAMP_PROG(38) TRAMP_PROG(39) TRAMP_PROG(40)

#define T(n) .tramp_##n = (void *)testmod_tramp_##n
SEC(".struct_ops")
struct bpf_testmod_ops testmod_tramp = {
	T(1), T(2), T(3), T(4), T(5), T(6), T(7), T(8), T(9), T(10),
	T(11), T(12), T(13), T(14), T(15), T(16), T(17), T(18), T(19), T(20),
	T(21), T(22), T(23), T(24), T(25), T(26), T(27), T(28), T(29), T(30),
	T(31), T(32), T(33), T(34), T(35), T(36), T(37), T(38), T(39), T(40),
};
