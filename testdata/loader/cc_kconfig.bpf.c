/* SPDX-License-Identifier: GPL-2.0 */
/* .kconfig externs: LINUX_KERNEL_VERSION, a bool, an int, a string and a missing __weak. */
#include "lo_common.h"

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_HZ __kconfig;
extern char CONFIG_DEFAULT_TCP_CONG[16] __kconfig;
extern int CONFIG_LO_DOES_NOT_EXIST __kconfig __weak;

__u64 seen_version = 0;
__u64 seen_bpf_syscall = 0;
__u64 seen_hz = 0;
__u64 seen_missing = 77;
char seen_cong[16] = {};

SEC("struct_ops")
void BPF_PROG(lo_kcfg_init, struct sock *sk)
{
	seen_version = LINUX_KERNEL_VERSION;
	seen_bpf_syscall = CONFIG_BPF_SYSCALL;
	seen_hz = CONFIG_HZ;
	seen_missing = CONFIG_LO_DOES_NOT_EXIST;
	__builtin_memcpy(seen_cong, CONFIG_DEFAULT_TCP_CONG, 16);
}

SEC("struct_ops")
void BPF_PROG(lo_kcfg_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_kcfg)
LO_OPS(".struct_ops.link", lo_kcfg, lo_kcfg, "lo_kcfg", .init = (void *)lo_kcfg_init,
       .cong_avoid = (void *)lo_kcfg_cong_avoid, );
