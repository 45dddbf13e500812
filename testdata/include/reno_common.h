/* SPDX-License-Identifier: GPL-2.0 */
/* Shared body of the so_reno test congestion control (link and legacy flavours). */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";

extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

/* Call counters, read back from the .bss map by the tests. */
__u64 n_init = 0;
__u64 n_release = 0;
__u64 n_ssthresh = 0;
__u64 n_cong_avoid = 0;
__u64 n_undo = 0;

SEC("struct_ops/so_reno_init")
SO_OPS(void, so_reno_init, (struct sock *, sk))
{
	n_init++;
}

SEC("struct_ops/so_reno_release")
SO_OPS(void, so_reno_release, (struct sock *, sk))
{
	n_release++;
}

SEC("struct_ops/so_reno_ssthresh")
SO_OPS(__u32, so_reno_ssthresh, (struct sock *, sk))
{
	n_ssthresh++;
	return tcp_reno_ssthresh(sk);
}

SEC("struct_ops/so_reno_cong_avoid")
SO_OPS(void, so_reno_cong_avoid, (struct sock *, sk), (__u32, ack), (__u32, acked))
{
	n_cong_avoid++;
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC("struct_ops/so_reno_undo_cwnd")
SO_OPS(__u32, so_reno_undo_cwnd, (struct sock *, sk))
{
	n_undo++;
	return tcp_reno_undo_cwnd(sk);
}

#define SO_RENO_OPS                                   \
	{                                             \
		.init = (void *)so_reno_init,         \
		.release = (void *)so_reno_release,   \
		.ssthresh = (void *)so_reno_ssthresh, \
		.cong_avoid = (void *)so_reno_cong_avoid, \
		.undo_cwnd = (void *)so_reno_undo_cwnd, \
		.name = "so_reno",                    \
	}
