/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Optional ("?") sections: programs in ?struct_ops start with autoload off, maps in
 * ?.struct_ops / ?.struct_ops.link start with autocreate off.
 *
 *   dummy_opt_base  .struct_ops         test_1 = opt_plain (always loaded)
 *   dummy_opt_q     ?.struct_ops        test_1 = opt_q_1
 *   dummy_opt_ql    ?.struct_ops.link   test_2 = opt_q_2
 *   opt_unbound     ?struct_ops program referenced by no map (fine: never loaded)
 */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

SEC("struct_ops/test_1")
SO_OPS(int, opt_plain, (struct bpf_dummy_ops_state *, state))
{
	return 1;
}

SEC("?struct_ops/test_1")
SO_OPS(int, opt_q_1, (struct bpf_dummy_ops_state *, state))
{
	return 2;
}

SEC("?struct_ops/test_2")
SO_OPS(int, opt_q_2, (struct bpf_dummy_ops_state *, state), (int, a1))
{
	return 3 + a1;
}

SEC("?struct_ops.s/test_sleepable")
SO_OPS(int, opt_unbound, (struct bpf_dummy_ops_state *, state))
{
	return 4;
}

SEC(".struct_ops")
struct bpf_dummy_ops dummy_opt_base = {
	.test_1 = (void *)opt_plain,
};

SEC("?.struct_ops")
struct bpf_dummy_ops dummy_opt_q = {
	.test_1 = (void *)opt_q_1,
};

SEC("?.struct_ops.link")
struct bpf_dummy_ops dummy_opt_ql = {
	.test_2 = (void *)opt_q_2,
};
