/* SPDX-License-Identifier: GPL-2.0 */
/* CO-RE enum value relocations on a local flavoured enum (tcp_ca_event___lo) matched to
 * the kernel's enum tcp_ca_event by essential name. */
#include "lo_common.h"

enum tcp_ca_event___lo { CA_EVENT_TX_START___lo = 100, CA_EVENT_LOSS___lo = 200 };

__u64 ev_loss = 0, ev_tx = 0, ev_exists = 99;

SEC("struct_ops")
void BPF_PROG(lo_ev_init, struct sock *sk)
{
	ev_loss = bpf_core_enum_value(enum tcp_ca_event___lo, CA_EVENT_LOSS___lo);
	ev_tx = bpf_core_enum_value(enum tcp_ca_event___lo, CA_EVENT_TX_START___lo);
	ev_exists = bpf_core_enum_value_exists(enum tcp_ca_event___lo, CA_EVENT_LOSS___lo);
}

SEC("struct_ops")
void BPF_PROG(lo_ev_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_ev)
LO_OPS(".struct_ops.link", lo_ev, lo_ev, "lo_ev", .init = (void *)lo_ev_init,
       .cong_avoid = (void *)lo_ev_cong_avoid, );
