/* SPDX-License-Identifier: GPL-2.0 */
/* A strong untyped __ksym the kernel's symbol table does not list: libbpf fails the
 * load before any syscall. */
#include "lo_common.h"

extern const void lo_no_such_symbol __ksym;

__u64 kum_addr;

SEC("struct_ops")
void BPF_PROG(lo_kum_init, struct sock *sk)
{
	kum_addr = (__u64)&lo_no_such_symbol;
}

SEC("struct_ops")
void BPF_PROG(lo_kum_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_kum)
LO_OPS(".struct_ops.link", lo_kum, lo_kum, "lo_kum", .init = (void *)lo_kum_init,
       .cong_avoid = (void *)lo_kum_cong_avoid, );
