/* SPDX-License-Identifier: GPL-2.0 */
/* sk->__sk_common.skc_dport sits in anonymous unions/structs of sock_common: CO-RE must
 * walk them by offset and match only named members (libbpf resolves it). */
#include "lo_common.h"

__u64 last_dport = 0;
__u64 last_dport_probe = 0;
__u64 last_family = 0;

SEC("struct_ops")
void BPF_PROG(lo_dport_init, struct sock *sk)
{
	last_dport = sk->__sk_common.skc_dport;
	last_dport_probe = BPF_CORE_READ(sk, __sk_common.skc_dport);
	last_family = sk->__sk_common.skc_family;
}

SEC("struct_ops")
void BPF_PROG(lo_dport_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_dport)
LO_OPS(".struct_ops.link", lo_dport, lo_dport, "lo_dport", .init = (void *)lo_dport_init,
       .cong_avoid = (void *)lo_dport_cong_avoid, );
