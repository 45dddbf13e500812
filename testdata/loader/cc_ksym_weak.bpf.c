/* SPDX-License-Identifier: GPL-2.0 */
/* A __weak kfunc the kernel does not have: bpf_ksym_exists() is 0 and the guarded call
 * is poisoned (dead code); an existing weak kfunc resolves. */
#include "lo_common.h"

extern void lo_no_such_kfunc(struct sock *sk) __ksym __weak;
extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym __weak;

__u64 missing_exists = 99;
__u64 present_exists = 99;

SEC("struct_ops")
void BPF_PROG(lo_weak_init, struct sock *sk)
{
	missing_exists = bpf_ksym_exists(lo_no_such_kfunc);
	present_exists = bpf_ksym_exists(tcp_reno_ssthresh);
	if (bpf_ksym_exists(lo_no_such_kfunc))
		lo_no_such_kfunc(sk);
}

SEC("struct_ops")
void BPF_PROG(lo_weak_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_weak)
LO_OPS(".struct_ops.link", lo_weak, lo_weak, "lo_weak", .init = (void *)lo_weak_init,
       .cong_avoid = (void *)lo_weak_cong_avoid, );
