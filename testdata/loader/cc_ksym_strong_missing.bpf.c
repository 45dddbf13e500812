/* SPDX-License-Identifier: GPL-2.0 */
/* A strong kfunc the kernel does not have: libbpf fails the load before any syscall. */
#include "lo_common.h"

extern void lo_no_such_kfunc(struct sock *sk) __ksym;

SEC("struct_ops")
void BPF_PROG(lo_strong_init, struct sock *sk)
{
	lo_no_such_kfunc(sk);
}

SEC("struct_ops")
void BPF_PROG(lo_strong_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_strong)
LO_OPS(".struct_ops.link", lo_strong, lo_strong, "lo_strong", .init = (void *)lo_strong_init,
       .cong_avoid = (void *)lo_strong_cong_avoid, );
