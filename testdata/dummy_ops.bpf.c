/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_dummy_ops programs, run through BPF_PROG_TEST_RUN (kernel-6.18-observed.md §4).
 * test_1's state argument is nullable, so it must be NULL-checked.
 */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

SEC("struct_ops/test_1")
SO_OPS(int, dummy_test_1, (struct bpf_dummy_ops_state *, state))
{
	int ret;

	if (!state)
		return 0xf2f3f4f5;
	ret = state->val;
	state->val = 0x5a;
	return ret;
}

SEC("struct_ops/test_2")
SO_OPS(int, dummy_test_2, (struct bpf_dummy_ops_state *, state), (int, a1), (unsigned short, a2),
       (char, a3), (unsigned long, a4))
{
	int sum = a1 + a2 + a3 + (int)a4;

	state->val = sum;
	return sum;
}

SEC("struct_ops.s/test_sleepable")
SO_OPS(int, dummy_test_sleepable, (struct bpf_dummy_ops_state *, state))
{
	return 42;
}

SEC(".struct_ops")
struct bpf_dummy_ops dummy_1 = {
	.test_1 = (void *)dummy_test_1,
	.test_2 = (void *)dummy_test_2,
	.test_sleepable = (void *)dummy_test_sleepable,
};
