/* SPDX-License-Identifier: GPL-2.0 */
/* A typed __weak __ksym variable the kernel does not have: its address is 0, so
 * bpf_ksym_exists() is false and the guarded read is dead code. */
#include "lo_common.h"

extern const int lo_no_such_var __ksym __weak;

__u64 kv_missing_exists = 99;
__u64 kv_value = 5;

SEC("struct_ops")
void BPF_PROG(lo_kv_init, struct sock *sk)
{
	kv_missing_exists = bpf_ksym_exists(&lo_no_such_var);
	if (bpf_ksym_exists(&lo_no_such_var))
		kv_value = lo_no_such_var;
}

SEC("struct_ops")
void BPF_PROG(lo_kv_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_kv)
LO_OPS(".struct_ops.link", lo_kv, lo_kv, "lo_kv", .init = (void *)lo_kv_init,
       .cong_avoid = (void *)lo_kv_cong_avoid, );
