/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sockopt_cc: Reno through kfuncs whose init uses bpf_setsockopt / bpf_getsockopt
 * (legacy .struct_ops, so it registers on the real kernel by map update too).
 *
 *   so_sockopt  init: clamp snd_cwnd at `clamp` (TCP_BPF_SNDCWND_CLAMP), read the
 *               CC name back (TCP_CONGESTION) into .bss, probe a few errnos, and
 *               set TCP_CONGESTION to its own name (0 normally, -EBUSY when this
 *               init runs inside another CC's TCP_CONGESTION switch).
 *   so_sw       init: switches the socket to `switch_to` (default "so_sockopt").
 */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

#define SOL_SOCKET 1
#define SOL_TCP 6
#define TCP_NODELAY 1
#define TCP_CONGESTION 13
#define SO_MAX_PACING_RATE 47

extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

int clamp = 20;                    /* .data: the cwnd clamp init installs */
char switch_to[16] = "so_sockopt"; /* .data: where so_sw switches to */

char cc_name[16];     /* getsockopt(TCP_CONGESTION) in so_sockopt init */
long set_clamp_ret;   /* setsockopt(TCP_BPF_SNDCWND_CLAMP, clamp) */
long get_cc_ret;      /* getsockopt(TCP_CONGESTION) */
long nodelay_ret;     /* setsockopt(TCP_NODELAY): -EOPNOTSUPP for struct_ops */
long bad_clamp_ret;   /* setsockopt(TCP_BPF_SNDCWND_CLAMP, 0): -EINVAL */
long get_clamp_ret;   /* getsockopt(TCP_BPF_SNDCWND_CLAMP): -EINVAL (set-only option) */
long short_len_ret;   /* setsockopt(TCP_BPF_SNDCWND_CLAMP, optlen 2): -EINVAL */
long bad_level_ret;   /* setsockopt(level 12345): -EINVAL */
long self_ret;        /* setsockopt(TCP_CONGESTION, "so_sockopt") */
long sw_ret;          /* so_sw: setsockopt(TCP_CONGESTION, switch_to) */
__u32 clamp_seen;     /* tp->snd_cwnd_clamp after the call */
__u32 ssthresh_seen;  /* tp->snd_ssthresh after the call */
__u32 max_cwnd;       /* largest snd_cwnd seen by cong_avoid */
__u64 n_init, n_release, n_cong_avoid, n_sw_init, n_sw_release;

SEC("struct_ops/so_sockopt_init")
SO_OPS(void, so_sockopt_init, (struct sock *, sk))
{
	struct tcp_sock *tp = so_tcp_sk(sk);
	char self[16] = "so_sockopt";
	int v = clamp, zero = 0, one = 1;

	n_init++;
	set_clamp_ret = so_setsockopt(sk, SOL_TCP, TCP_BPF_SNDCWND_CLAMP, &v, sizeof(v));
	clamp_seen = tp->snd_cwnd_clamp;
	ssthresh_seen = tp->snd_ssthresh;
	get_cc_ret = so_getsockopt(sk, SOL_TCP, TCP_CONGESTION, cc_name, sizeof(cc_name));
	nodelay_ret = so_setsockopt(sk, SOL_TCP, TCP_NODELAY, &one, sizeof(one));
	bad_clamp_ret = so_setsockopt(sk, SOL_TCP, TCP_BPF_SNDCWND_CLAMP, &zero, sizeof(zero));
	get_clamp_ret = so_getsockopt(sk, SOL_TCP, TCP_BPF_SNDCWND_CLAMP, &v, sizeof(v));
	short_len_ret = so_setsockopt(sk, SOL_TCP, TCP_BPF_SNDCWND_CLAMP, &one, 2);
	bad_level_ret = so_setsockopt(sk, 12345, TCP_NODELAY, &one, sizeof(one));
	self_ret = so_setsockopt(sk, SOL_TCP, TCP_CONGESTION, self, sizeof(self));
}

SEC("struct_ops/so_sockopt_release")
SO_OPS(void, so_sockopt_release, (struct sock *, sk))
{
	n_release++;
}

SEC("struct_ops/so_sockopt_ssthresh")
SO_OPS(__u32, so_sockopt_ssthresh, (struct sock *, sk))
{
	return tcp_reno_ssthresh(sk);
}

SEC("struct_ops/so_sockopt_cong_avoid")
SO_OPS(void, so_sockopt_cong_avoid, (struct sock *, sk), (__u32, ack), (__u32, acked))
{
	struct tcp_sock *tp = so_tcp_sk(sk);

	n_cong_avoid++;
	tcp_reno_cong_avoid(sk, ack, acked);
	if (tp->snd_cwnd > max_cwnd)
		max_cwnd = tp->snd_cwnd;
}

SEC("struct_ops/so_sockopt_undo_cwnd")
SO_OPS(__u32, so_sockopt_undo_cwnd, (struct sock *, sk))
{
	return tcp_reno_undo_cwnd(sk);
}

SEC("struct_ops/so_sw_init")
SO_OPS(void, so_sw_init, (struct sock *, sk))
{
	n_sw_init++;
	sw_ret = so_setsockopt(sk, SOL_TCP, TCP_CONGESTION, switch_to, sizeof(switch_to));
}

SEC("struct_ops/so_sw_release")
SO_OPS(void, so_sw_release, (struct sock *, sk))
{
	n_sw_release++;
}

SEC(".struct_ops")
struct tcp_congestion_ops so_sockopt = {
	.init = (void *)so_sockopt_init,
	.release = (void *)so_sockopt_release,
	.ssthresh = (void *)so_sockopt_ssthresh,
	.cong_avoid = (void *)so_sockopt_cong_avoid,
	.undo_cwnd = (void *)so_sockopt_undo_cwnd,
	.name = "so_sockopt",
};

SEC(".struct_ops")
struct tcp_congestion_ops so_sw = {
	.init = (void *)so_sw_init,
	.release = (void *)so_sw_release,
	.ssthresh = (void *)so_sockopt_ssthresh,
	.cong_avoid = (void *)so_sockopt_cong_avoid,
	.undo_cwnd = (void *)so_sockopt_undo_cwnd,
	.name = "so_sw",
};
