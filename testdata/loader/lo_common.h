/* SPDX-License-Identifier: GPL-2.0 */
/* lo_common.h - shared bits of the loader corpus (issue 11): libbpf's headers plus a
 * reno-based tcp_congestion_ops skeleton so each object only adds what it tests. */
#ifndef LO_COMMON_H
#define LO_COMMON_H
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char _license[] SEC("license") = "GPL";

extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

/* ssthresh / undo_cwnd every CC of the corpus shares; PFX names the programs. */
#define LO_RENO_BASICS(PFX)                                                   \
	SEC("struct_ops") __u32 BPF_PROG(PFX##_ssthresh, struct sock *sk)     \
	{                                                                     \
		return tcp_reno_ssthresh(sk);                                 \
	}                                                                     \
	SEC("struct_ops") __u32 BPF_PROG(PFX##_undo_cwnd, struct sock *sk)    \
	{                                                                     \
		return tcp_reno_undo_cwnd(sk);                                \
	}

/* The ops table: SECNAME is ".struct_ops.link" or ".struct_ops" (legacy). */
#define LO_OPS(SECNAME, VAR, PFX, NAME, ...)                                  \
	SEC(SECNAME) struct tcp_congestion_ops VAR = {                       \
		.ssthresh = (void *)PFX##_ssthresh,                           \
		.undo_cwnd = (void *)PFX##_undo_cwnd,                         \
		.name = NAME,                                                 \
		__VA_ARGS__                                                   \
	}
#endif
