/* SPDX-License-Identifier: Apache-2.0 */
/*
 * so_bpf.h - the few macros the structops test programs need.
 *
 * Written for this project; deliberately tiny.  It provides:
 *   SEC(), __ksym, __kconfig            section placement of programs, maps and externs
 *   SO_MAP_UINT/SO_MAP_TYPE             BTF-defined map attributes (same BTF encoding
 *                                       libbpf expects: "int (*name)[N]" / "T *name")
 *   SO_OPS(ret, name, (T, a), ...)      struct_ops entry: unpacks the u64 ctx array into
 *                                       typed parameters
 *   SO_READ(dst, p, field)              CO-RE relocated read through bpf_probe_read_kernel
 *   helper declarations by helper id    (enum bpf_func_id comes from vmlinux.h)
 */
#ifndef SO_BPF_H
#define SO_BPF_H

#define SEC(name) __attribute__((section(name), used))
#define __ksym __attribute__((section(".ksyms")))
#define __kconfig __attribute__((section(".kconfig")))
#define __so_inline inline __attribute__((always_inline))

/* BTF map definitions: the value lives in the pointee/array dimension, not in memory. */
#define SO_MAP_UINT(attr, val) int (*attr)[val]
#define SO_MAP_TYPE(attr, T) T *attr

#ifndef NULL
#define NULL ((void *)0)
#endif

#define TCP_CONG_NEEDS_ECN 0x2
#define TCP_INFINITE_SSTHRESH 0x7fffffff

/* ---- helpers, called through their id (the "call imm" of the instruction) ---- */
static long (*so_probe_read_kernel)(void *dst, __u32 size, const void *src) =
	(void *)BPF_FUNC_probe_read_kernel;
static void *(*so_sk_storage_get)(void *map, void *sk, void *value, __u64 flags) =
	(void *)BPF_FUNC_sk_storage_get;
static long (*so_sk_storage_delete)(void *map, void *sk) = (void *)BPF_FUNC_sk_storage_delete;
static __u64 (*so_jiffies64)(void) = (void *)BPF_FUNC_jiffies64;
static long (*so_setsockopt)(void *sk, int level, int optname, void *optval, int optlen) =
	(void *)BPF_FUNC_setsockopt;
static long (*so_getsockopt)(void *sk, int level, int optname, void *optval, int optlen) =
	(void *)BPF_FUNC_getsockopt;
static long (*so_tcp_send_ack)(void *tp, __u32 rcv_nxt) = (void *)BPF_FUNC_tcp_send_ack;

/* ---- CO-RE read of one field into dst (relocated by the loader) ---- */
#define SO_READ(dst, p, field)                                                      \
	so_probe_read_kernel(&(dst), sizeof(dst),                                   \
			     __builtin_preserve_access_index(&((p)->field)))
#define SO_FIELD_EXISTS(p, field) __builtin_preserve_field_info((p)->field, 2)
#define SO_FIELD_SIZE(p, field) __builtin_preserve_field_info((p)->field, 1)

/* ---- struct_ops entry points ----
 * The kernel calls a struct_ops program with ctx = array of u64 arguments.
 * SO_OPS(ret, name, (T0, a0), (T1, a1), ...) defines `ret name(u64 *ctx)` that casts
 * ctx[i] to Ti and calls an inlined body written with named, typed parameters.
 */
#define __so_param(T, n) T n
#define __so_arg0(T, n) (T)ctx[0]
#define __so_arg1(T, n) (T)ctx[1]
#define __so_arg2(T, n) (T)ctx[2]
#define __so_arg3(T, n) (T)ctx[3]
#define __so_arg4(T, n) (T)ctx[4]
#define __so_arg5(T, n) (T)ctx[5]

#define __so_params1(a) __so_param a
#define __so_params2(a, b) __so_param a, __so_param b
#define __so_params3(a, b, c) __so_param a, __so_param b, __so_param c
#define __so_params4(a, b, c, d) __so_params3(a, b, c), __so_param d
#define __so_params5(a, b, c, d, e) __so_params4(a, b, c, d), __so_param e
#define __so_params6(a, b, c, d, e, f) __so_params5(a, b, c, d, e), __so_param f

#define __so_args1(a) __so_arg0 a
#define __so_args2(a, b) __so_arg0 a, __so_arg1 b
#define __so_args3(a, b, c) __so_args2(a, b), __so_arg2 c
#define __so_args4(a, b, c, d) __so_args3(a, b, c), __so_arg3 d
#define __so_args5(a, b, c, d, e) __so_args4(a, b, c, d), __so_arg4 e
#define __so_args6(a, b, c, d, e, f) __so_args5(a, b, c, d, e), __so_arg5 f

#define __so_count(...) __so_pick(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define __so_pick(_1, _2, _3, _4, _5, _6, n, ...) n
#define __so_cat(a, b) a##b
#define __so_xcat(a, b) __so_cat(a, b)

#define SO_OPS(ret, name, ...)                                                      \
	ret name(unsigned long long *ctx);                                          \
	static __so_inline ret __so_body_##name(                                    \
		__so_xcat(__so_params, __so_count(__VA_ARGS__))(__VA_ARGS__));      \
	ret name(unsigned long long *ctx)                                           \
	{                                                                           \
		return __so_body_##name(                                            \
			__so_xcat(__so_args, __so_count(__VA_ARGS__))(__VA_ARGS__)); \
	}                                                                           \
	static __so_inline ret __so_body_##name(                                    \
		__so_xcat(__so_params, __so_count(__VA_ARGS__))(__VA_ARGS__))

/* tcp_sock / inet_connection_sock views of a struct sock pointer. */
static __so_inline struct tcp_sock *so_tcp_sk(struct sock *sk)
{
	return (struct tcp_sock *)sk;
}

static __so_inline struct inet_connection_sock *so_inet_csk(struct sock *sk)
{
	return (struct inet_connection_sock *)sk;
}

static __so_inline void *so_ca_priv(struct sock *sk)
{
	return (void *)so_inet_csk(sk)->icsk_ca_priv;
}

#endif /* SO_BPF_H */
