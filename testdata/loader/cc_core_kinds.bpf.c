/* SPDX-License-Identifier: GPL-2.0 */
/* Every CO-RE relocation kind, results stored in globals the test compares with values
 * computed from the target BTF. */
#include "lo_common.h"

struct lo_not_in_kernel { int x; };
enum lo_enum_not_in_kernel { LO_NOPE = 3 };

__u64 k_type_exists = 99, k_type_missing = 99, k_type_size = 0, k_type_id = 0, k_local_id = 0;
__u64 k_type_matches = 99, k_enum_exists = 99, k_enum_missing = 99, k_enum_value = 0;
__u64 k_field_size = 0, k_field_off = 0, k_field_signed = 99, k_field_exists = 99;
__u64 k_bf_lshift = 0, k_bf_rshift = 0, k_bf_size = 0, k_bf_off = 0;
__u64 k_typedef_exists = 99, k_typedef_size = 0;

SEC("struct_ops")
void BPF_PROG(lo_kind_init, struct sock *sk)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	k_type_exists = bpf_core_type_exists(struct tcp_sock);
	k_type_missing = bpf_core_type_exists(struct lo_not_in_kernel);
	k_type_size = bpf_core_type_size(struct tcp_sock);
	k_type_id = bpf_core_type_id_kernel(struct tcp_sock);
	k_local_id = bpf_core_type_id_local(struct tcp_sock);
	k_type_matches = bpf_core_type_matches(struct ack_sample);
	k_enum_exists = bpf_core_enum_value_exists(enum tcp_ca_state, TCP_CA_Loss);
	k_enum_missing = bpf_core_enum_value_exists(enum lo_enum_not_in_kernel, LO_NOPE);
	k_enum_value = bpf_core_enum_value(enum tcp_ca_state, TCP_CA_Recovery);
	k_field_size = bpf_core_field_size(tp->snd_cwnd);
	k_field_off = bpf_core_field_offset(tp->snd_cwnd);
	k_field_signed = __builtin_preserve_field_info(tp->srtt_us, BPF_FIELD_SIGNED);
	k_field_exists = bpf_core_field_exists(tp->snd_cwnd_clamp);
	k_bf_lshift = __builtin_preserve_field_info(tp->is_cwnd_limited, BPF_FIELD_LSHIFT_U64);
	k_bf_rshift = __builtin_preserve_field_info(tp->is_cwnd_limited, BPF_FIELD_RSHIFT_U64);
	k_bf_size = __builtin_preserve_field_info(tp->is_cwnd_limited, BPF_FIELD_BYTE_SIZE);
	k_bf_off = __builtin_preserve_field_info(tp->is_cwnd_limited, BPF_FIELD_BYTE_OFFSET);
	k_typedef_exists = bpf_core_type_exists(u32);
	k_typedef_size = bpf_core_type_size(u64);
}

SEC("struct_ops")
void BPF_PROG(lo_kind_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

LO_RENO_BASICS(lo_kind)
LO_OPS(".struct_ops.link", lo_kind, lo_kind, "lo_kind", .init = (void *)lo_kind_init,
       .cong_avoid = (void *)lo_kind_cong_avoid, );
