/* SPDX-License-Identifier: GPL-2.0 */
/* Broken on purpose: a struct_ops program that no struct_ops map references. */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

SEC("struct_ops/test_1")
SO_OPS(int, used_test_1, (struct bpf_dummy_ops_state *, state))
{
	return state ? state->val : 0;
}

SEC("struct_ops/test_2")
SO_OPS(int, forgotten_test_2, (struct bpf_dummy_ops_state *, state))
{
	return 7;
}

SEC(".struct_ops")
struct bpf_dummy_ops dummy_unref = {
	.test_1 = (void *)used_test_1,
};
