/* SPDX-License-Identifier: GPL-2.0 */
/* bpf_dummy_ops test_1 calling a global subprogram (test_run on both kernels). */
#include "lo_common.h"

__noinline int lo_dg_twice(int v)
{
	return v * 2;
}

SEC("struct_ops")
int BPF_PROG(lo_dg_test_1, struct bpf_dummy_ops_state *state)
{
	return lo_dg_twice(21);
}

SEC(".struct_ops")
struct bpf_dummy_ops lo_dummy = {
	.test_1 = (void *)lo_dg_test_1,
};
