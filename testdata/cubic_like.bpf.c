/* SPDX-License-Identifier: GPL-2.0 */
/*
 * so_cubic: a small cubic-shaped congestion control written for structops tests.
 *
 * Exercises: CO-RE field reads/writes of tcp_sock (vmlinux.h is compiled with
 * preserve_access_index), field-exists / field-size / type-exists / enum-value
 * relocations, an integer cube root seeded from a .rodata table (bpf-to-bpf call),
 * a const volatile tunable in .rodata, a .kconfig extern, and per-connection state
 * in icsk_ca_priv.
 */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

extern unsigned long CONFIG_HZ __kconfig;

/* Tunables (userspace may rewrite .rodata before load). */
const volatile __u32 beta_x1024 = 717;   /* multiplicative decrease, 0.7 */
const volatile __u32 cube_scale = 410;   /* growth constant: C ~ 0.4 in 1/1024 units */

/* round(16 * cbrt(i)) for i in [0, 64): the seed of the cube-root iteration. */
static const __u8 cbrt_seed[64] = {
	0,  16, 20, 23, 25, 27, 29, 31, 32, 33, 34, 36, 37, 38, 39, 39,
	40, 41, 42, 43, 43, 44, 45, 46, 46, 47, 47, 48, 49, 49, 50, 50,
	51, 51, 52, 52, 53, 53, 54, 54, 55, 55, 56, 56, 56, 57, 57, 58,
	58, 59, 59, 59, 60, 60, 60, 61, 61, 62, 62, 62, 63, 63, 63, 64,
};

/* Per-connection state kept in inet_csk(sk)->icsk_ca_priv (104 bytes available). */
struct so_cubic_ca {
	__u32 epoch_start;   /* jiffies when the current growth epoch began, 0 = none */
	__u32 last_max_cwnd; /* cwnd before the last reduction */
	__u32 origin_cwnd;   /* plateau of the cubic curve */
	__u32 k;             /* time (jiffies) from epoch start to the plateau */
	__u32 cnt;           /* acks needed per +1 cwnd */
	__u32 loss_events;
	__u32 clamp;         /* snd_cwnd_clamp seen at init, when the field exists */
};

__u64 n_acked_called = 0;
__u64 n_cbrt_calls = 0;
__u32 last_k = 0;

static __so_inline __u32 so_bits(__u64 x)
{
	__u32 r = 0;

	if (x >> 32) { r += 32; x >>= 32; }
	if (x >> 16) { r += 16; x >>= 16; }
	if (x >> 8) { r += 8; x >>= 8; }
	if (x >> 4) { r += 4; x >>= 4; }
	if (x >> 2) { r += 2; x >>= 2; }
	if (x >> 1) { r += 1; x >>= 1; }
	return r + (__u32)x;
}

/* floor(cbrt(a)): table seed on the top 6 bits, two Newton steps, one fix-up. */
static __attribute__((noinline)) __u32 so_cbrt(__u64 a)
{
	__u32 bits, shift, x;
	__u64 q;

	n_cbrt_calls++;
	if (a < 64)
		return cbrt_seed[a & 63] >> 4;
	bits = so_bits(a);
	shift = ((bits - 6 + 2) / 3) * 3;
	x = ((__u32)cbrt_seed[(a >> shift) & 63] << (shift / 3)) >> 4;
	if (x == 0)
		x = 1;
	q = (__u64)x * x;
	x = (2 * x + (__u32)(a / q)) / 3;
	if (x == 0)
		x = 1;
	q = (__u64)x * x;
	x = (2 * x + (__u32)(a / q)) / 3;
	if ((__u64)x * x * x > a)
		x--;
	return x;
}

static __so_inline __u32 so_now(void)
{
	return (__u32)so_jiffies64();
}

static __so_inline void so_reset(struct so_cubic_ca *ca)
{
	ca->epoch_start = 0;
	ca->origin_cwnd = 0;
	ca->k = 0;
	ca->cnt = 0;
}

SEC("struct_ops/so_cubic_init")
SO_OPS(void, so_cubic_init, (struct sock *, sk))
{
	struct so_cubic_ca *ca = so_ca_priv(sk);
	struct tcp_sock *tp = so_tcp_sk(sk);

	so_reset(ca);
	ca->last_max_cwnd = 0;
	ca->loss_events = 0;
	ca->clamp = SO_FIELD_EXISTS(tp, snd_cwnd_clamp) ? tp->snd_cwnd_clamp : 0xffff;
}

SEC("struct_ops/so_cubic_ssthresh")
SO_OPS(__u32, so_cubic_ssthresh, (struct sock *, sk))
{
	struct so_cubic_ca *ca = so_ca_priv(sk);
	struct tcp_sock *tp = so_tcp_sk(sk);
	__u32 cwnd = tp->snd_cwnd;
	__u32 next;

	ca->epoch_start = 0;
	ca->last_max_cwnd = cwnd;
	ca->loss_events++;
	next = (cwnd * beta_x1024) >> 10;
	return next < 2 ? 2 : next;
}

SEC("struct_ops/so_cubic_cong_avoid")
SO_OPS(void, so_cubic_cong_avoid, (struct sock *, sk), (__u32, ack), (__u32, acked))
{
	struct so_cubic_ca *ca = so_ca_priv(sk);
	struct tcp_sock *tp = so_tcp_sk(sk);
	__u32 cwnd = tp->snd_cwnd, now, t, target, d;
	__u64 cube;

	if (cwnd < tp->snd_ssthresh) {
		/* slow start, capped at ssthresh */
		cwnd += acked;
		if (cwnd > tp->snd_ssthresh)
			cwnd = tp->snd_ssthresh;
		tp->snd_cwnd = cwnd;
		return;
	}
	now = so_now();
	if (ca->epoch_start == 0) {
		ca->epoch_start = now ? now : 1;
		if (ca->last_max_cwnd > cwnd) {
			ca->k = so_cbrt((__u64)(ca->last_max_cwnd - cwnd) * cube_scale * CONFIG_HZ);
			ca->origin_cwnd = ca->last_max_cwnd;
		} else {
			ca->k = 0;
			ca->origin_cwnd = cwnd;
		}
		last_k = ca->k;
	}
	t = now - ca->epoch_start;
	d = t > ca->k ? t - ca->k : ca->k - t;
	if (d > 1000)
		d = 1000;
	cube = ((__u64)d * d * d * cube_scale) / ((__u64)CONFIG_HZ * CONFIG_HZ * CONFIG_HZ + 1);
	if (cube > 0xffff)
		cube = 0xffff;
	target = t > ca->k ? ca->origin_cwnd + (__u32)cube : ca->origin_cwnd - (__u32)cube;
	ca->cnt = target > cwnd ? cwnd / (target - cwnd) : 100 * cwnd;
	if (ca->cnt < 2)
		ca->cnt = 2;
	tp->snd_cwnd_cnt += acked;
	if (tp->snd_cwnd_cnt >= ca->cnt) {
		tp->snd_cwnd_cnt = 0;
		if (cwnd < tp->snd_cwnd_clamp)
			tp->snd_cwnd = cwnd + 1;
	}
}

SEC("struct_ops/so_cubic_set_state")
SO_OPS(void, so_cubic_set_state, (struct sock *, sk), (__u8, new_state))
{
	if (new_state == __builtin_preserve_enum_value(*(typeof(enum tcp_ca_state) *)TCP_CA_Loss, 1))
		so_reset(so_ca_priv(sk));
}

SEC("struct_ops/so_cubic_cwnd_event")
SO_OPS(void, so_cubic_cwnd_event, (struct sock *, sk), (enum tcp_ca_event, ev))
{
	struct so_cubic_ca *ca = so_ca_priv(sk);

	/* an idle restart must not count the idle time as growth time */
	if (ev == CA_EVENT_TX_START && ca->epoch_start)
		ca->epoch_start = so_now();
}

SEC("struct_ops/so_cubic_pkts_acked")
SO_OPS(void, so_cubic_pkts_acked, (struct sock *, sk), (const struct ack_sample *, sample))
{
	if (__builtin_preserve_type_info(*(struct ack_sample *)0, 0) && sample->pkts_acked)
		n_acked_called++;
}

SEC("struct_ops/so_cubic_undo_cwnd")
SO_OPS(__u32, so_cubic_undo_cwnd, (struct sock *, sk))
{
	struct tcp_sock *tp = so_tcp_sk(sk);
	__u32 prior = 0;

	SO_READ(prior, tp, prior_cwnd);
	return tp->snd_cwnd > prior ? tp->snd_cwnd : prior;
}

SEC(".struct_ops")
struct tcp_congestion_ops so_cubic = {
	.init = (void *)so_cubic_init,
	.ssthresh = (void *)so_cubic_ssthresh,
	.cong_avoid = (void *)so_cubic_cong_avoid,
	.set_state = (void *)so_cubic_set_state,
	.cwnd_event = (void *)so_cubic_cwnd_event,
	.pkts_acked = (void *)so_cubic_pkts_acked,
	.undo_cwnd = (void *)so_cubic_undo_cwnd,
	.name = "so_cubic",
};
