/* SPDX-License-Identifier: GPL-2.0 */
/* Typed globals a skeleton user reads and writes by name: ints of each size and
 * signedness, bool, enum, char array, struct; .rodata set before load. */
#include "lo_common.h"

enum lo_mode { LO_MODE_OFF = 0, LO_MODE_ON = 1, LO_MODE_AUTO = 7 };
struct lo_pair { __u32 a; __s16 b; };

const volatile __u32 lo_cfg_floor = 2;
const volatile enum lo_mode lo_cfg_mode = LO_MODE_AUTO;
__s8 lo_i8 = -5;
__u16 lo_u16 = 65000;
__s32 lo_i32 = -100000;
__u64 lo_u64 = 1ULL << 40;
bool lo_flag = true;
char lo_tag[8] = "lo";
struct lo_pair lo_pair = { .a = 1, .b = -2 };
__u64 lo_seen_floor = 0;
__u64 lo_seen_mode = 0;

SEC("struct_ops")
void BPF_PROG(lo_glob_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	tcp_reno_cong_avoid(sk, ack, acked);
	lo_seen_floor = lo_cfg_floor;
	lo_seen_mode = lo_cfg_mode;
	lo_u64 += lo_i32 + lo_i8 + lo_u16 + lo_flag + lo_pair.a + lo_pair.b;
	if (tp->snd_cwnd < lo_cfg_floor)
		tp->snd_cwnd = lo_cfg_floor;
}

LO_RENO_BASICS(lo_glob)
LO_OPS(".struct_ops.link", lo_glob, lo_glob, "lo_glob", .cong_avoid = (void *)lo_glob_cong_avoid, );
