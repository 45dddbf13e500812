/* SPDX-License-Identifier: GPL-2.0 */
/* CO-RE through an array: inet_connection_sock.icsk_ca_priv[3] (array element access). */
#include "lo_common.h"

__u64 priv3 = 0;
__u64 priv_size = 0;

SEC("struct_ops")
void BPF_PROG(lo_arr_init, struct sock *sk)
{
	struct inet_connection_sock *icsk = (struct inet_connection_sock *)sk;

	icsk->icsk_ca_priv[3] = 0x1234;
	priv3 = icsk->icsk_ca_priv[3];
	priv_size = bpf_core_field_size(icsk->icsk_ca_priv);
}

SEC("struct_ops")
void BPF_PROG(lo_arr_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_arr)
LO_OPS(".struct_ops.link", lo_arr, lo_arr, "lo_arr", .init = (void *)lo_arr_init,
       .cong_avoid = (void *)lo_arr_cong_avoid, );
