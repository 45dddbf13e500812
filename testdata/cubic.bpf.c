/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_cubic: CUBIC as Linux runs it, written for structops from the facts of the
 * algorithm (RFC 9438 and the kernel's parameters), as a BPF tcp_congestion_ops.
 *
 * - growth W(t) = C (t - K)^3 + W_max in fixed point: t in jiffies shifted to
 *   units of 2^-10 s, C = 410 / 1024 (bic_scale 41 * 10), K = cube root of
 *   cube_factor * (W_max - cwnd) with cube_factor = 2^40 / 410, evaluated at
 *   t + delay_min; cnt recomputed at most once per jiffy, capped at 20 before the
 *   first loss, floored at 2;
 * - beta 717/1024 with fast convergence; the TCP-friendly Reno estimate
 *   (beta_scale 15) caps cnt;
 * - HyStart: ACK train (ACKs < 2 ms apart spanning > delay_min / 2) and delay
 *   increase (min of 8 samples > delay_min + clamp(delay_min / 8, 4 ms, 16 ms)) from
 *   cwnd 16 on, one round per snd_nxt of the round start;
 * - state in icsk_ca_priv with the field order of the kernel's struct bictcp, so the
 *   bytes match structops.sim.cubic (the native model) exactly.
 *
 * Time: tcp_jiffies32 is the low half of bpf_jiffies64(), the microsecond clock is
 * tp->tcp_mstamp -- in the simulator both are simulated time.
 */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

extern unsigned long CONFIG_HZ __kconfig;
extern __u32 tcp_slow_start(struct tcp_sock *tp, __u32 acked) __ksym;
extern void tcp_cong_avoid_ai(struct tcp_sock *tp, __u32 w, __u32 acked) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

#define BETA_SCALE_1024 1024
#define BICTCP_HZ 10
#define HYSTART_ACK_TRAIN 0x1
#define HYSTART_DELAY 0x2
#define HYSTART_MIN_SAMPLES 8
#define HYSTART_DELAY_MIN 4000U
#define HYSTART_DELAY_MAX 16000U
#define SO_SK_PACING_NONE 0

/* Tunables (the kernel's module parameters and their defaults). */
const volatile __u32 beta = 717;
const volatile __u32 bic_scale = 41;
const volatile int fast_convergence = 1;
const volatile int tcp_friendliness = 1;
const volatile int hystart = 1;
const volatile int hystart_detect = HYSTART_ACK_TRAIN | HYSTART_DELAY;
const volatile __u32 hystart_low_window = 16;
const volatile __u32 hystart_ack_delta_us = 2000;

/* round(64 * cbrt(i)): the seed of the cube root for the top 6 significant bits. */
static const __u8 cbrt_seed[64] = {
	  0,  64,  81,  92, 102, 109, 116, 122,
	128, 133, 138, 142, 147, 150, 154, 158,
	161, 165, 168, 171, 174, 177, 179, 182,
	185, 187, 190, 192, 194, 197, 199, 201,
	203, 205, 207, 209, 211, 213, 215, 217,
	219, 221, 222, 224, 226, 228, 229, 231,
	233, 234, 236, 237, 239, 240, 242, 243,
	245, 246, 248, 249, 251, 252, 253, 255,
};

struct cubic_state {
	__u32 cnt;              /* ACKs per +1 cwnd */
	__u32 last_max_cwnd;    /* W_max */
	__u32 last_cwnd;
	__u32 last_time;        /* jiffies of the last cnt update */
	__u32 origin_point;     /* the curve's plateau */
	__u32 k;                /* 2^-10 s from epoch start to the plateau */
	__u32 delay_min;        /* us */
	__u32 epoch_start;      /* jiffies, 0 = no epoch */
	__u32 ack_cnt;
	__u32 tcp_cwnd;         /* Reno estimate */
	__u16 unused;
	__u8 sample_cnt;
	__u8 found;
	__u32 round_start;      /* us */
	__u32 end_seq;
	__u32 last_ack;         /* us */
	__u32 curr_rtt;         /* us */
};

static __so_inline __u32 jiffies32(void)
{
	return (__u32)so_jiffies64();
}

static __so_inline __u32 clock_us(struct tcp_sock *tp)
{
	return (__u32)tp->tcp_mstamp;
}

static __so_inline int after32(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

static __so_inline __u32 fls64(__u64 x)
{
	__u32 r = 0;

	if (!x)
		return 0;
	if (x >> 32) { r += 32; x >>= 32; }
	if (x >> 16) { r += 16; x >>= 16; }
	if (x >> 8) { r += 8; x >>= 8; }
	if (x >> 4) { r += 4; x >>= 4; }
	if (x >> 2) { r += 2; x >>= 2; }
	if (x >> 1) { r += 1; x >>= 1; }
	return r + (__u32)x;
}

/* Cube root: seed from the top bits, one Newton-Raphson step, times 341/1024. */
static __attribute__((noinline)) __u32 cubic_root(__u64 a)
{
	__u32 b, x;
	__u64 shift;

	b = fls64(a);
	if (b < 7)
		return ((__u32)cbrt_seed[a & 63] + 35) >> 6;
	b = ((b * 84) >> 8) - 1;
	shift = a >> (b * 3);
	x = ((__u32)(((__u32)cbrt_seed[shift & 63] + 10) << b)) >> 6;
	if (x < 2)
		x = 2;
	x = 2 * x + (__u32)(a / ((__u64)x * (__u64)(x - 1)));
	return (__u32)(((__u64)x * 341) >> 10);
}

static __so_inline void cubic_reset(struct cubic_state *ca)
{
	ca->cnt = 0;
	ca->last_max_cwnd = 0;
	ca->last_cwnd = 0;
	ca->last_time = 0;
	ca->origin_point = 0;
	ca->k = 0;
	ca->delay_min = 0;
	ca->epoch_start = 0;
	ca->ack_cnt = 0;
	ca->tcp_cwnd = 0;
	ca->found = 0;
}

static __so_inline void hystart_reset(struct tcp_sock *tp, struct cubic_state *ca)
{
	__u32 now = clock_us(tp);

	ca->round_start = now;
	ca->last_ack = now;
	ca->end_seq = tp->snd_nxt;
	ca->curr_rtt = ~0U;
	ca->sample_cnt = 0;
}

SEC("struct_ops/bpf_cubic_init")
SO_OPS(void, bpf_cubic_init, (struct sock *, sk))
{
	struct cubic_state *ca = so_ca_priv(sk);

	cubic_reset(ca);
	ca->unused = 0;
	ca->sample_cnt = 0;
	if (hystart)
		hystart_reset(so_tcp_sk(sk), ca);
}

SEC("struct_ops/bpf_cubic_cwnd_event")
SO_OPS(void, bpf_cubic_cwnd_event, (struct sock *, sk), (enum tcp_ca_event, ev))
{
	struct cubic_state *ca = so_ca_priv(sk);
	struct tcp_sock *tp = so_tcp_sk(sk);
	__u32 now;
	__s32 delta;

	if (ev != CA_EVENT_TX_START)
		return;
	/* restarting after idle: the idle time is not growth time */
	now = jiffies32();
	delta = (__s32)(now - tp->lsndtime);
	if (ca->epoch_start && delta > 0) {
		ca->epoch_start += delta;
		if (after32(ca->epoch_start, now))
			ca->epoch_start = now;
	}
}

static __so_inline void cubic_update(struct cubic_state *ca, __u32 cwnd, __u32 acked)
{
	__u32 now = jiffies32(), delta, target, max_cnt, n, hz = CONFIG_HZ;
	__u64 offs, t;

	ca->ack_cnt += acked;
	if (ca->last_cwnd == cwnd && (__s32)(now - ca->last_time) <= (__s32)(hz / 32))
		return;
	if (!(ca->epoch_start && now == ca->last_time)) {
		ca->last_cwnd = cwnd;
		ca->last_time = now;
		if (ca->epoch_start == 0) {
			ca->epoch_start = now;
			ca->ack_cnt = acked;
			ca->tcp_cwnd = cwnd;
			if (ca->last_max_cwnd <= cwnd) {
				ca->k = 0;
				ca->origin_point = cwnd;
			} else {
				ca->k = cubic_root(((1ULL << (10 + 3 * BICTCP_HZ)) / (bic_scale * 10)) *
						   (ca->last_max_cwnd - cwnd));
				ca->origin_point = ca->last_max_cwnd;
			}
		}
		/* t = now - epoch + delay_min (in jiffies, rounded up), in 2^-10 s */
		t = (__u64)(__s64)(__s32)(now - ca->epoch_start);
		t += ((__u64)ca->delay_min * hz + 999999) / 1000000;
		t = (t << BICTCP_HZ) / hz;
		offs = t < ca->k ? ca->k - t : t - ca->k;
		delta = (__u32)(((__u64)(bic_scale * 10) * offs * offs * offs) >> (10 + 3 * BICTCP_HZ));
		target = t < ca->k ? ca->origin_point - delta : ca->origin_point + delta;
		ca->cnt = target > cwnd ? cwnd / (target - cwnd) : 100 * cwnd;
		if (ca->last_max_cwnd == 0 && ca->cnt > 20)
			ca->cnt = 20;
	}
	if (tcp_friendliness) {
		__u32 scale = 8 * (BETA_SCALE_1024 + beta) / 3 / (BETA_SCALE_1024 - beta);

		delta = (cwnd * scale) >> 3;
		if (delta && ca->ack_cnt > delta) {
			n = (ca->ack_cnt - 1) / delta;
			ca->ack_cnt -= n * delta;
			ca->tcp_cwnd += n;
		}
		if (ca->tcp_cwnd > cwnd) {
			max_cnt = cwnd / (ca->tcp_cwnd - cwnd);
			if (ca->cnt > max_cnt)
				ca->cnt = max_cnt;
		}
	}
	if (ca->cnt < 2)
		ca->cnt = 2;
}

SEC("struct_ops/bpf_cubic_cong_avoid")
SO_OPS(void, bpf_cubic_cong_avoid, (struct sock *, sk), (__u32, ack), (__u32, acked))
{
	struct cubic_state *ca = so_ca_priv(sk);
	struct tcp_sock *tp = so_tcp_sk(sk);

	/* tcp_is_cwnd_limited */
	if (!tp->is_cwnd_limited &&
	    !(tp->snd_cwnd < tp->snd_ssthresh && tp->snd_cwnd < 2 * tp->max_packets_out))
		return;
	if (tp->snd_cwnd < tp->snd_ssthresh) {
		acked = tcp_slow_start(tp, acked);
		if (!acked)
			return;
	}
	cubic_update(ca, tp->snd_cwnd, acked);
	tcp_cong_avoid_ai(tp, ca->cnt, acked);
}

SEC("struct_ops/bpf_cubic_ssthresh")
SO_OPS(__u32, bpf_cubic_ssthresh, (struct sock *, sk))
{
	struct cubic_state *ca = so_ca_priv(sk);
	struct tcp_sock *tp = so_tcp_sk(sk);
	__u32 cwnd = tp->snd_cwnd, next;

	ca->epoch_start = 0;
	if (cwnd < ca->last_max_cwnd && fast_convergence)
		ca->last_max_cwnd = (cwnd * (BETA_SCALE_1024 + beta)) / (2 * BETA_SCALE_1024);
	else
		ca->last_max_cwnd = cwnd;
	next = (cwnd * beta) / BETA_SCALE_1024;
	return next > 2 ? next : 2;
}

SEC("struct_ops/bpf_cubic_set_state")
SO_OPS(void, bpf_cubic_set_state, (struct sock *, sk), (__u8, new_state))
{
	struct cubic_state *ca = so_ca_priv(sk);

	if (new_state == TCP_CA_Loss) {
		cubic_reset(ca);
		hystart_reset(so_tcp_sk(sk), ca);
	}
}

static __so_inline void hystart_update(struct sock *sk, struct cubic_state *ca, __u32 delay)
{
	struct tcp_sock *tp = so_tcp_sk(sk);
	__u32 threshold, now;

	if (after32(tp->snd_una, ca->end_seq))
		hystart_reset(tp, ca);
	if (tp->snd_cwnd < hystart_low_window)
		return;
	if (hystart_detect & HYSTART_ACK_TRAIN) {
		now = clock_us(tp);
		if ((__s32)(now - ca->last_ack) <= (__s32)hystart_ack_delta_us) {
			ca->last_ack = now;
			/* no GSO: hystart_ack_delay() is 0 for MTU-sized segments */
			threshold = ca->delay_min;
			if (sk->sk_pacing_status == SO_SK_PACING_NONE)
				threshold >>= 1;
			if ((__s32)(now - ca->round_start) > (__s32)threshold) {
				ca->found = 1;
				tp->snd_ssthresh = tp->snd_cwnd;
			}
		}
	}
	if (hystart_detect & HYSTART_DELAY) {
		if (ca->curr_rtt > delay)
			ca->curr_rtt = delay;
		if (ca->sample_cnt < HYSTART_MIN_SAMPLES) {
			ca->sample_cnt++;
		} else {
			threshold = ca->delay_min >> 3;
			if (threshold < HYSTART_DELAY_MIN)
				threshold = HYSTART_DELAY_MIN;
			if (threshold > HYSTART_DELAY_MAX)
				threshold = HYSTART_DELAY_MAX;
			if (ca->curr_rtt > ca->delay_min + threshold) {
				ca->found = 1;
				tp->snd_ssthresh = tp->snd_cwnd;
			}
		}
	}
}

SEC("struct_ops/bpf_cubic_acked")
SO_OPS(void, bpf_cubic_acked, (struct sock *, sk), (const struct ack_sample *, sample))
{
	struct cubic_state *ca = so_ca_priv(sk);
	struct tcp_sock *tp = so_tcp_sk(sk);
	__u32 delay;

	if (sample->rtt_us < 0)
		return;
	/* no delay samples in the first second of an epoch (right after recovery) */
	if (ca->epoch_start && (__s32)(jiffies32() - ca->epoch_start) < (__s32)CONFIG_HZ)
		return;
	delay = sample->rtt_us;
	if (delay == 0)
		delay = 1;
	if (ca->delay_min == 0 || ca->delay_min > delay)
		ca->delay_min = delay;
	if (!ca->found && tp->snd_cwnd < tp->snd_ssthresh && hystart)
		hystart_update(sk, ca, delay);
}

SEC("struct_ops/bpf_cubic_undo_cwnd")
SO_OPS(__u32, bpf_cubic_undo_cwnd, (struct sock *, sk))
{
	return tcp_reno_undo_cwnd(sk);
}

SEC(".struct_ops.link")
struct tcp_congestion_ops bpf_cubic = {
	.init = (void *)bpf_cubic_init,
	.ssthresh = (void *)bpf_cubic_ssthresh,
	.cong_avoid = (void *)bpf_cubic_cong_avoid,
	.set_state = (void *)bpf_cubic_set_state,
	.undo_cwnd = (void *)bpf_cubic_undo_cwnd,
	.cwnd_event = (void *)bpf_cubic_cwnd_event,
	.pkts_acked = (void *)bpf_cubic_acked,
	.name = "bpf_cubic",
};
