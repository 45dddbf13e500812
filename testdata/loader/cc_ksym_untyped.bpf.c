/* SPDX-License-Identifier: GPL-2.0 */
/* Untyped __ksym variables (declared as const void): libbpf resolves them from the
 * kernel's symbol table (/proc/kallsyms), not from BTF, and loads the address as a
 * plain 64-bit constant.  A __weak one the kernel does not have loads 0. */
#include "lo_common.h"

extern const void bbr_main __ksym;
extern const void lo_no_such_symbol __ksym __weak;

__u64 ku_present = 1;
__u64 ku_missing = 1;
__u64 ku_missing_exists = 99;

SEC("struct_ops")
void BPF_PROG(lo_ku_init, struct sock *sk)
{
	ku_present = (__u64)&bbr_main;
	ku_missing = (__u64)&lo_no_such_symbol;
	ku_missing_exists = bpf_ksym_exists(&lo_no_such_symbol);
}

SEC("struct_ops")
void BPF_PROG(lo_ku_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_ku)
LO_OPS(".struct_ops.link", lo_ku, lo_ku, "lo_ku", .init = (void *)lo_ku_init,
       .cong_avoid = (void *)lo_ku_cong_avoid, );
