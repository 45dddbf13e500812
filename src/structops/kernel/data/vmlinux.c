/*
 * vmlinux.c - type source of the emulated kernel's own BTF (vmlinux.btf).
 *
 * This file is never linked into anything: it is compiled with `gcc -g` only so
 * that pahole can turn its DWARF into BTF, the same way a real kernel build gets
 * its BTF.  It declares a subset of the Linux 6.18 kernel types a struct_ops user
 * touches, with member names, member types and member order taken from the BTF of
 * a real 6.18 kernel (x86_64), so that BPF objects compiled against a real
 * vmlinux.h resolve by CO-RE against the emulated kernel.
 *
 * Three kinds of struct appear here (README.md explains; the kernel test checks):
 *   faithful - every member of the real struct, same names, types, offsets, size;
 *   opaque   - one member `__opaque` of the real size: the real name only, for
 *              types embedded by value whose insides no struct_ops program needs;
 *   subset   - a few real members with real names and types (task_struct, cgroup,
 *              module); offsets differ from the real kernel.
 * Structs only pointed to (struct net, struct sk_buff, ...) stay declared-only and
 * become FWD entries.
 *
 * Functions are the cfi stubs of the two struct_ops types the 6.18 kernel offers
 * (their parameter names carry the __nullable / __ref suffixes the verifier reads)
 * and the kfuncs a BPF congestion control may call.  Bodies only use their
 * arguments so that the compiler emits them; they never run.
 *
 * Build: `make -C testdata kernel-btf` (gcc -g -O0 -funsigned-char, pahole -J).
 */

#define __aligned(x) __attribute__((__aligned__(x)))
#define __stub __attribute__((__noinline__, __used__))

/* declared-only types referenced from function-pointer parameter lists */
union tcp_cc_info;
struct sock;
struct sk_buff;

/* ---- integer typedefs (include/uapi/asm-generic/int-ll64.h chain) ---- */
typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __s8 s8;
typedef __u8 u8;
typedef __s16 s16;
typedef __u16 u16;
typedef __s32 s32;
typedef __u32 u32;
typedef __s64 s64;
typedef __u64 u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef unsigned long __kernel_ulong_t;
typedef __kernel_ulong_t __kernel_size_t;
typedef __kernel_size_t size_t;
typedef _Bool bool;
typedef int __kernel_pid_t;
typedef __kernel_pid_t pid_t;
typedef unsigned int __kernel_uid32_t;
typedef __kernel_uid32_t uid_t;
typedef s64 ktime_t;
typedef unsigned int gfp_t;
typedef u64 netdev_features_t;
typedef __u64 __addrpair;
typedef __u32 __portpair;

/* ---- atomics, locks, lists (faithful) ---- */
typedef struct {
	int counter;
} atomic_t;

typedef struct {
	s64 counter;
} atomic64_t;

typedef atomic64_t atomic_long_t;

struct refcount_struct {
	atomic_t refs;
};
typedef struct refcount_struct refcount_t;

typedef struct {
	uid_t val;
} kuid_t;

struct qspinlock {
	union {
		atomic_t val;
		struct {
			u8 locked;
			u8 pending;
		};
		struct {
			u16 locked_pending;
			u16 tail;
		};
	};
};
typedef struct qspinlock arch_spinlock_t;

struct raw_spinlock {
	arch_spinlock_t raw_lock;
};
typedef struct raw_spinlock raw_spinlock_t;

struct spinlock {
	union {
		struct raw_spinlock rlock;
	};
};
typedef struct spinlock spinlock_t;

struct qrwlock {
	union {
		atomic_t cnts;
		struct {
			u8 wlocked;
			u8 __lstate[3];
		};
	};
	arch_spinlock_t wait_lock;
};
typedef struct qrwlock arch_rwlock_t;

typedef struct {
	arch_rwlock_t raw_lock;
} rwlock_t;

struct list_head {
	struct list_head *next;
	struct list_head *prev;
};

struct hlist_node {
	struct hlist_node *next;
	struct hlist_node **pprev;
};

struct hlist_nulls_node {
	struct hlist_nulls_node *next;
	struct hlist_nulls_node **pprev;
};

struct callback_head {
	struct callback_head *next;
	void (*func)(struct callback_head *);
};

struct rb_root {
	struct rb_node *rb_node;
};

struct wait_queue_head {
	spinlock_t lock;
	struct list_head head;
};
typedef struct wait_queue_head wait_queue_head_t;

struct timer_list {
	struct hlist_node entry;
	unsigned long expires;
	void (*function)(struct timer_list *);
	u32 flags;
};

struct xarray {
	spinlock_t xa_lock;
	gfp_t xa_flags;
	void *xa_head;
};

/* ---- opaque by-value types: real name and size only ---- */
struct hrtimer {
	u64 __opaque[8];
};

struct mutex {
	u64 __opaque[4];
};

struct request_sock_queue {
	u64 __opaque[9];
};

struct inet_cork_full {
	u64 __opaque[19];
};

struct bpf_map {
	u64 __opaque[37];
};

/* ---- subset types: a few real members, offsets differ from the kernel ---- */
enum module_state {
	MODULE_STATE_LIVE = 0,
	MODULE_STATE_COMING = 1,
	MODULE_STATE_GOING = 2,
	MODULE_STATE_UNFORMED = 3,
};

struct module {
	enum module_state state;
	struct list_head list;
	char name[56];
} __aligned(64);

/* ---- sched_ext entity types embedded in task_struct (faithful, 6.18 layout) ---- */
struct rb_node {
	unsigned long __rb_parent_color;
	struct rb_node *rb_right;
	struct rb_node *rb_left;
} __aligned(8);

struct llist_node {
	struct llist_node *next;
};

struct rhash_head {
	struct rhash_head *next;
};

struct cpumask {
	unsigned long bits[4];
};
typedef struct cpumask cpumask_t;

struct scx_dispatch_q {
	raw_spinlock_t lock;
	struct list_head list;
	struct rb_root priq;
	u32 nr;
	u32 seq;
	u64 id;
	struct rhash_head hash_node;
	struct llist_node free_node;
	struct callback_head rcu;
};

struct scx_dsq_list_node {
	struct list_head node;
	u32 flags;
	u32 priv;
};

struct sched_ext_entity {
	struct scx_dispatch_q *dsq;
	struct scx_dsq_list_node dsq_list;
	struct rb_node dsq_priq;
	u32 dsq_seq;
	u32 dsq_flags;
	u32 flags;
	u32 weight;
	s32 sticky_cpu;
	s32 holding_cpu;
	s32 selected_cpu;
	u32 kf_mask;
	struct task_struct *kf_tasks[2];
	atomic_long_t ops_state;
	struct list_head runnable_node;
	unsigned long runnable_at;
	u64 ddsp_dsq_id;
	u64 ddsp_enq_flags;
	u64 slice;
	u64 dsq_vtime;
	bool disallow;
	struct cgroup *cgrp_moving_from;
	struct list_head tasks_node;
};

/* subset: the runtime accounting schedulers read (scx_userland, scx_flatcg: se.sum_exec_runtime) */
struct sched_entity {
	u64 exec_start;
	u64 sum_exec_runtime;
	u64 prev_sum_exec_runtime;
	u64 vruntime;
	u64 nr_migrations;
};

struct task_struct {
	unsigned int __state;
	unsigned int flags;
	int on_cpu;
	int prio;
	int static_prio;
	int normal_prio;
	struct sched_entity se;
	struct sched_ext_entity scx;
	unsigned int policy;
	int nr_cpus_allowed;
	const cpumask_t *cpus_ptr;
	cpumask_t *user_cpus_ptr;
	cpumask_t cpus_mask;
	unsigned short migration_disabled;
	unsigned short migration_flags;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct task_struct *parent;
	struct task_struct *group_leader;
	char comm[16];
};

/* subset: the socket a sock belongs to (sk->sk_socket) and back (its sk) */
struct socket {
	short type;
	unsigned long flags;
	struct sock *sk;
};

/* subset: a cgroup's id is its kernfs node's (cgroup_id(), scx_flatcg reads cgrp->kn->id) */
struct kernfs_node {
	const char *name;
	u64 id;
};

struct cgroup {
	unsigned long flags;
	int level;
	int max_depth;
	struct kernfs_node *kn;
};

/* ---- program context types of include/uapi/linux/bpf.h (faithful) ---- */
struct __sk_buff {
	__u32 len;
	__u32 pkt_type;
	__u32 mark;
	__u32 queue_mapping;
	__u32 protocol;
	__u32 vlan_present;
	__u32 vlan_tci;
	__u32 vlan_proto;
	__u32 priority;
	__u32 ingress_ifindex;
	__u32 ifindex;
	__u32 tc_index;
	__u32 cb[5];
	__u32 hash;
	__u32 tc_classid;
	__u32 data;
	__u32 data_end;
	__u32 napi_id;
	__u32 family;
	__u32 remote_ip4;
	__u32 local_ip4;
	__u32 remote_ip6[4];
	__u32 local_ip6[4];
	__u32 remote_port;
	__u32 local_port;
	__u32 data_meta;
	union {
		struct bpf_flow_keys *flow_keys;
	} __aligned(8);
	__u64 tstamp;
	__u32 wire_len;
	__u32 gso_segs;
	union {
		struct bpf_sock *sk;
	} __aligned(8);
	__u32 gso_size;
	__u8 tstamp_type;
	__u64 hwtstamp;
};

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

/* ---- struct_ops core (kernel/bpf/bpf_struct_ops.c) ---- */
#include "bpf_struct_ops.h"

struct bpf_struct_ops_value {
	struct bpf_struct_ops_common_value common;
	char data[] __aligned(64);
};

struct bpf_struct_ops_map {
	struct bpf_map map;
	const struct bpf_struct_ops_desc *st_ops_desc;
	struct mutex lock;
	struct bpf_link **links;
	struct bpf_ksym **ksyms;
	u32 funcs_cnt;
	u32 image_pages_cnt;
	void *image_pages[8];
	struct btf *btf;
	struct bpf_struct_ops_value *uvalue;
	struct bpf_struct_ops_value kvalue __aligned(64);
};

/* ---- bpf_dummy_ops (net/bpf/bpf_dummy_struct_ops.c) ---- */
struct bpf_dummy_ops_state {
	int val;
};

struct bpf_dummy_ops {
	int (*test_1)(struct bpf_dummy_ops_state *);
	int (*test_2)(struct bpf_dummy_ops_state *, int, unsigned short, char, unsigned long);
	int (*test_sleepable)(struct bpf_dummy_ops_state *);
};

BPF_STRUCT_OPS_VALUE(bpf_dummy_ops);

/* ---- sockets: sock_common / sock / inet_sock / inet_connection_sock (faithful) ---- */
struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be16 u6_addr16[8];
		__be32 u6_addr32[4];
	} in6_u;
};

typedef struct {
	struct net *net;
} possible_net_t;

typedef struct {
} netns_tracker;

struct sock_common {
	union {
		__addrpair skc_addrpair;
		struct {
			__be32 skc_daddr;
			__be32 skc_rcv_saddr;
		};
	};
	union {
		unsigned int skc_hash;
		__u16 skc_u16hashes[2];
	};
	union {
		__portpair skc_portpair;
		struct {
			__be16 skc_dport;
			__u16 skc_num;
		};
	};
	unsigned short skc_family;
	volatile unsigned char skc_state;
	unsigned char skc_reuse : 4;
	unsigned char skc_reuseport : 1;
	unsigned char skc_ipv6only : 1;
	unsigned char skc_net_refcnt : 1;
	int skc_bound_dev_if;
	union {
		struct hlist_node skc_bind_node;
		struct hlist_node skc_portaddr_node;
	};
	struct proto *skc_prot;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
	atomic64_t skc_cookie;
	union {
		unsigned long skc_flags;
		struct sock *skc_listener;
		struct inet_timewait_death_row *skc_tw_dr;
	};
	int skc_dontcopy_begin[0];
	union {
		struct hlist_node skc_node;
		struct hlist_nulls_node skc_nulls_node;
	};
	unsigned short skc_tx_queue_mapping;
	unsigned short skc_rx_queue_mapping;
	union {
		int skc_incoming_cpu;
		u32 skc_rcv_wnd;
		u32 skc_tw_rcv_nxt;
	};
	refcount_t skc_refcnt;
	int skc_dontcopy_end[0];
	union {
		u32 skc_rxhash;
		u32 skc_window_clamp;
		u32 skc_tw_snd_nxt;
	};
};

struct sk_buff_list {
	struct sk_buff *next;
	struct sk_buff *prev;
};

struct sk_buff_head {
	union {
		struct {
			struct sk_buff *next;
			struct sk_buff *prev;
		};
		struct sk_buff_list list;
	};
	__u32 qlen;
	spinlock_t lock;
};

typedef struct {
	spinlock_t slock;
	int owned;
	wait_queue_head_t wq;
} socket_lock_t;

struct page_frag {
	struct page *page;
	__u32 offset;
	__u32 size;
};

struct sock_cgroup_data {
	struct cgroup *cgroup;
	u32 classid;
	u16 prioidx;
};

struct sock {
	struct sock_common __sk_common;
	__u8 __cacheline_group_begin__sock_write_rx[0];
	atomic_t sk_drops;
	__s32 sk_peek_off;
	struct sk_buff_head sk_error_queue;
	struct sk_buff_head sk_receive_queue;
	struct {
		atomic_t rmem_alloc;
		int len;
		struct sk_buff *head;
		struct sk_buff *tail;
	} sk_backlog;
	__u8 __cacheline_group_end__sock_write_rx[0];
	__u8 __cacheline_group_begin__sock_read_rx[0];
	struct dst_entry *sk_rx_dst;
	int sk_rx_dst_ifindex;
	u32 sk_rx_dst_cookie;
	unsigned int sk_ll_usec;
	unsigned int sk_napi_id;
	u16 sk_busy_poll_budget;
	u8 sk_prefer_busy_poll;
	u8 sk_userlocks;
	int sk_rcvbuf;
	struct sk_filter *sk_filter;
	union {
		struct socket_wq *sk_wq;
		struct socket_wq *sk_wq_raw;
	};
	void (*sk_data_ready)(struct sock *);
	long sk_rcvtimeo;
	int sk_rcvlowat;
	__u8 __cacheline_group_end__sock_read_rx[0];
	__u8 __cacheline_group_begin__sock_read_rxtx[0];
	int sk_err;
	struct socket *sk_socket;
	struct mem_cgroup *sk_memcg;
	struct xfrm_policy *sk_policy[2];
	__u8 __cacheline_group_end__sock_read_rxtx[0];
	__u8 __cacheline_group_begin__sock_write_rxtx[0];
	socket_lock_t sk_lock;
	u32 sk_reserved_mem;
	int sk_forward_alloc;
	u32 sk_tsflags;
	__u8 __cacheline_group_end__sock_write_rxtx[0];
	__u8 __cacheline_group_begin__sock_write_tx[0];
	int sk_write_pending;
	atomic_t sk_omem_alloc;
	int sk_err_soft;
	int sk_wmem_queued;
	refcount_t sk_wmem_alloc;
	unsigned long sk_tsq_flags;
	union {
		struct sk_buff *sk_send_head;
		struct rb_root tcp_rtx_queue;
	};
	struct sk_buff_head sk_write_queue;
	u32 sk_dst_pending_confirm;
	u32 sk_pacing_status;
	struct page_frag sk_frag;
	struct timer_list sk_timer;
	unsigned long sk_pacing_rate;
	atomic_t sk_zckey;
	atomic_t sk_tskey;
	__u8 __cacheline_group_end__sock_write_tx[0];
	__u8 __cacheline_group_begin__sock_read_tx[0];
	unsigned long sk_max_pacing_rate;
	long sk_sndtimeo;
	u32 sk_priority;
	u32 sk_mark;
	kuid_t sk_uid;
	u16 sk_protocol;
	u16 sk_type;
	struct dst_entry *sk_dst_cache;
	netdev_features_t sk_route_caps;
	u16 sk_gso_type;
	u16 sk_gso_max_segs;
	unsigned int sk_gso_max_size;
	gfp_t sk_allocation;
	u32 sk_txhash;
	int sk_sndbuf;
	u8 sk_pacing_shift;
	bool sk_use_task_frag;
	__u8 __cacheline_group_end__sock_read_tx[0];
	u8 sk_gso_disabled : 1;
	u8 sk_kern_sock : 1;
	u8 sk_no_check_tx : 1;
	u8 sk_no_check_rx : 1;
	u8 sk_shutdown;
	unsigned long sk_lingertime;
	struct proto *sk_prot_creator;
	rwlock_t sk_callback_lock;
	u32 sk_ack_backlog;
	u32 sk_max_ack_backlog;
	unsigned long sk_ino;
	spinlock_t sk_peer_lock;
	int sk_bind_phc;
	struct pid *sk_peer_pid;
	const struct cred *sk_peer_cred;
	ktime_t sk_stamp;
	int sk_disconnects;
	union {
		u8 sk_txrehash;
		u8 sk_scm_recv_flags;
		struct {
			u8 sk_scm_credentials : 1;
			u8 sk_scm_security : 1;
			u8 sk_scm_pidfd : 1;
			u8 sk_scm_rights : 1;
			u8 sk_scm_unused : 4;
		};
	};
	u8 sk_clockid;
	u8 sk_txtime_deadline_mode : 1;
	u8 sk_txtime_report_errors : 1;
	u8 sk_txtime_unused : 6;
	u8 sk_bpf_cb_flags;
	void *sk_user_data;
	void *sk_security;
	struct sock_cgroup_data sk_cgrp_data;
	void (*sk_state_change)(struct sock *);
	void (*sk_write_space)(struct sock *);
	void (*sk_error_report)(struct sock *);
	int (*sk_backlog_rcv)(struct sock *, struct sk_buff *);
	void (*sk_destruct)(struct sock *);
	struct sock_reuseport *sk_reuseport_cb;
	struct bpf_local_storage *sk_bpf_storage;
	struct numa_drop_counters *sk_drop_counters;
	struct callback_head sk_rcu;
	netns_tracker ns_tracker;
	struct xarray sk_user_frags;
};

struct inet_sock {
	struct sock sk;
	struct ipv6_pinfo *pinet6;
	struct ipv6_fl_socklist *ipv6_fl_list;
	unsigned long inet_flags;
	__be32 inet_saddr;
	__s16 uc_ttl;
	__be16 inet_sport;
	struct ip_options_rcu *inet_opt;
	atomic_t inet_id;
	__u8 tos;
	__u8 min_ttl;
	__u8 mc_ttl;
	__u8 pmtudisc;
	__u8 rcv_tos;
	__u8 convert_csum;
	int uc_index;
	int mc_index;
	__be32 mc_addr;
	u32 local_port_range;
	struct ip_mc_socklist *mc_list;
	struct inet_cork_full cork;
};

/* ---- tcp_congestion_ops (include/net/tcp.h) ---- */
enum tcp_ca_event {
	CA_EVENT_TX_START = 0,
	CA_EVENT_CWND_RESTART = 1,
	CA_EVENT_COMPLETE_CWR = 2,
	CA_EVENT_LOSS = 3,
	CA_EVENT_ECN_NO_CE = 4,
	CA_EVENT_ECN_IS_CE = 5,
};

enum tcp_ca_ack_event_flags {
	CA_ACK_SLOWPATH = 1,
	CA_ACK_WIN_UPDATE = 2,
	CA_ACK_ECE = 4,
};

enum tcp_ca_state {
	TCP_CA_Open = 0,
	TCP_CA_Disorder = 1,
	TCP_CA_CWR = 2,
	TCP_CA_Recovery = 3,
	TCP_CA_Loss = 4,
};

struct ack_sample {
	u32 pkts_acked;
	s32 rtt_us;
	u32 in_flight;
};

struct rate_sample {
	u64 prior_mstamp;
	u32 prior_delivered;
	u32 prior_delivered_ce;
	s32 delivered;
	s32 delivered_ce;
	long interval_us;
	u32 snd_interval_us;
	u32 rcv_interval_us;
	long rtt_us;
	int losses;
	u32 acked_sacked;
	u32 prior_in_flight;
	u32 last_end_seq;
	bool is_app_limited;
	bool is_retrans;
	bool is_ack_delayed;
};

struct tcp_congestion_ops {
	u32 (*ssthresh)(struct sock *);
	void (*cong_avoid)(struct sock *, u32, u32);
	void (*set_state)(struct sock *, u8);
	void (*cwnd_event)(struct sock *, enum tcp_ca_event);
	void (*in_ack_event)(struct sock *, u32);
	void (*pkts_acked)(struct sock *, const struct ack_sample *);
	u32 (*min_tso_segs)(struct sock *);
	void (*cong_control)(struct sock *, u32, int, const struct rate_sample *);
	u32 (*undo_cwnd)(struct sock *);
	u32 (*sndbuf_expand)(struct sock *);
	size_t (*get_info)(struct sock *, u32, int *, union tcp_cc_info *);
	char name[16];
	struct module *owner;
	struct list_head list;
	u32 key;
	u32 flags;
	void (*init)(struct sock *);
	void (*release)(struct sock *);
} __aligned(64);

BPF_STRUCT_OPS_VALUE(tcp_congestion_ops);

struct inet_connection_sock {
	struct inet_sock icsk_inet;
	struct request_sock_queue icsk_accept_queue;
	struct inet_bind_bucket *icsk_bind_hash;
	struct inet_bind2_bucket *icsk_bind2_hash;
	struct timer_list icsk_retransmit_timer;
	struct timer_list icsk_delack_timer;
	__u32 icsk_rto;
	__u32 icsk_rto_min;
	u32 icsk_rto_max;
	__u32 icsk_delack_max;
	__u32 icsk_pmtu_cookie;
	unsigned char unhashed_state;
	const struct tcp_congestion_ops *icsk_ca_ops;
	const struct inet_connection_sock_af_ops *icsk_af_ops;
	const struct tcp_ulp_ops *icsk_ulp_ops;
	void *icsk_ulp_data;
	unsigned int (*icsk_sync_mss)(struct sock *, u32);
	__u8 icsk_ca_state : 5;
	__u8 icsk_ca_initialized : 1;
	__u8 icsk_ca_setsockopt : 1;
	__u8 icsk_ca_dst_locked : 1;
	__u8 icsk_retransmits;
	__u8 icsk_pending;
	__u8 icsk_backoff;
	__u8 icsk_syn_retries;
	__u8 icsk_probes_out;
	__u16 icsk_ext_hdr_len;
	struct {
		__u8 pending;
		__u8 quick;
		__u8 pingpong;
		__u8 retry;
		__u32 ato : 8;
		__u32 lrcv_flowlabel : 20;
		__u32 dst_quick_ack : 1;
		__u32 unused : 3;
		__u32 lrcvtime;
		__u16 last_seg_size;
		__u16 rcv_mss;
	} icsk_ack;
	struct {
		int search_high;
		int search_low;
		u32 probe_size : 31;
		u32 enabled : 1;
		u32 probe_timestamp;
	} icsk_mtup;
	u32 icsk_probes_tstamp;
	u32 icsk_user_timeout;
	u64 icsk_ca_priv[13];
};

/* ---- tcp_sock (include/linux/tcp.h) ---- */
struct minmax_sample {
	u32 t;
	u32 v;
};

struct minmax {
	struct minmax_sample s[3];
};

struct tcp_options_received {
	int ts_recent_stamp;
	u32 ts_recent;
	u32 rcv_tsval;
	u32 rcv_tsecr;
	u16 saw_tstamp : 1;
	u16 tstamp_ok : 1;
	u16 dsack : 1;
	u16 wscale_ok : 1;
	u16 sack_ok : 3;
	u16 smc_ok : 1;
	u16 snd_wscale : 4;
	u16 rcv_wscale : 4;
	u8 accecn : 6;
	u8 saw_unknown : 1;
	u8 unused : 1;
	u8 num_sacks;
	u16 user_mss;
	u16 mss_clamp;
};

struct tcp_rack {
	u64 mstamp;
	u32 rtt_us;
	u32 end_seq;
	u32 last_delivered;
	u8 reo_wnd_steps;
	u8 reo_wnd_persist : 5;
	u8 dsack_seen : 1;
	u8 advanced : 1;
};

struct tcp_sack_block {
	u32 start_seq;
	u32 end_seq;
};

struct tcp_sock {
	struct inet_connection_sock inet_conn;
	__u8 __cacheline_group_begin__tcp_sock_read_tx[0];
	u32 max_window;
	u32 rcv_ssthresh;
	u32 reordering;
	u32 notsent_lowat;
	u16 gso_segs;
	struct sk_buff *retransmit_skb_hint;
	__u8 __cacheline_group_end__tcp_sock_read_tx[0];
	__u8 __cacheline_group_begin__tcp_sock_read_txrx[0];
	u32 tsoffset;
	u32 snd_wnd;
	u32 mss_cache;
	u32 snd_cwnd;
	u32 prr_out;
	u32 lost_out;
	u32 sacked_out;
	u16 tcp_header_len;
	u8 scaling_ratio;
	u8 repair : 1;
	u8 tcp_usec_ts : 1;
	u8 is_sack_reneg : 1;
	u8 is_cwnd_limited : 1;
	u8 recvmsg_inq : 1;
	__u8 __cacheline_group_end__tcp_sock_read_txrx[0];
	__u8 __cacheline_group_begin__tcp_sock_read_rx[0];
	u32 copied_seq;
	u32 snd_wl1;
	u32 tlp_high_seq;
	u32 rttvar_us;
	u32 retrans_out;
	u16 advmss;
	u16 urg_data;
	u32 lost;
	u32 snd_ssthresh;
	struct minmax rtt_min;
	struct rb_root out_of_order_queue;
	__u8 __cacheline_group_end__tcp_sock_read_rx[0];
	__u8 __cacheline_group_begin__tcp_sock_write_tx[0] __aligned(64);
	u32 segs_out;
	u32 data_segs_out;
	u64 bytes_sent;
	u32 snd_sml;
	u8 chrono_type;
	u32 chrono_start;
	u32 chrono_stat[3];
	u32 write_seq;
	u32 pushed_seq;
	u32 lsndtime;
	u32 mdev_us;
	u32 rtt_seq;
	u64 tcp_wstamp_ns;
	u64 accecn_opt_tstamp;
	struct list_head tsorted_sent_queue;
	struct sk_buff *highest_sack;
	u8 ecn_flags;
	__u8 __cacheline_group_end__tcp_sock_write_tx[0];
	__u8 __cacheline_group_begin__tcp_sock_write_txrx[0];
	u8 nonagle : 4;
	u8 rate_app_limited : 1;
	u8 : 0;
	u8 received_ce_pending : 4;
	u8 unused2 : 4;
	u8 accecn_minlen : 2;
	u8 est_ecnfield : 2;
	u8 accecn_opt_demand : 2;
	u8 prev_ecnfield : 2;
	__be32 pred_flags;
	u64 tcp_clock_cache;
	u64 tcp_mstamp;
	u32 rcv_nxt;
	u32 snd_nxt;
	u32 snd_una;
	u32 window_clamp;
	u32 srtt_us;
	u32 packets_out;
	u32 snd_up;
	u32 delivered;
	u32 delivered_ce;
	u32 received_ce;
	u32 received_ecn_bytes[3];
	u32 app_limited;
	u32 rcv_wnd;
	u32 rcv_tstamp;
	struct tcp_options_received rx_opt;
	__u8 __cacheline_group_end__tcp_sock_write_txrx[0];
	__u8 __cacheline_group_begin__tcp_sock_write_rx[0];
	u64 bytes_received;
	u32 segs_in;
	u32 data_segs_in;
	u32 rcv_wup;
	u32 max_packets_out;
	u32 cwnd_usage_seq;
	u32 rate_delivered;
	u32 rate_interval_us;
	u32 rcv_rtt_last_tsecr;
	u32 delivered_ecn_bytes[3];
	u64 first_tx_mstamp;
	u64 delivered_mstamp;
	u64 bytes_acked;
	struct {
		u32 rtt_us;
		u32 seq;
		u64 time;
	} rcv_rtt_est;
	struct {
		int space;
		u32 seq;
		u64 time;
	} rcvq_space;
	__u8 __cacheline_group_end__tcp_sock_write_rx[0];
	u32 dsack_dups;
	u32 compressed_ack_rcv_nxt;
	struct list_head tsq_node;
	struct tcp_rack rack;
	u8 compressed_ack;
	u8 dup_ack_counter : 2;
	u8 tlp_retrans : 1;
	u8 syn_ect_snt : 2;
	u8 syn_ect_rcv : 2;
	u8 thin_lto : 1;
	u8 fastopen_connect : 1;
	u8 fastopen_no_cookie : 1;
	u8 fastopen_client_fail : 2;
	u8 frto : 1;
	u8 repair_queue;
	u8 save_syn : 2;
	u8 syn_data : 1;
	u8 syn_fastopen : 1;
	u8 syn_fastopen_exp : 1;
	u8 syn_fastopen_ch : 1;
	u8 syn_data_acked : 1;
	u8 syn_fastopen_child : 1;
	u8 keepalive_probes;
	u8 accecn_fail_mode : 4;
	u8 saw_accecn_opt : 2;
	u32 tcp_tx_delay;
	u32 mdev_max_us;
	u32 reord_seen;
	u32 snd_cwnd_cnt;
	u32 snd_cwnd_clamp;
	u32 snd_cwnd_used;
	u32 snd_cwnd_stamp;
	u32 prior_cwnd;
	u32 prr_delivered;
	u32 last_oow_ack_time;
	struct hrtimer pacing_timer;
	struct hrtimer compressed_ack_timer;
	struct sk_buff *ooo_last_skb;
	struct tcp_sack_block duplicate_sack[1];
	struct tcp_sack_block selective_acks[4];
	struct tcp_sack_block recv_sack_cache[4];
	u32 prior_ssthresh;
	u32 high_seq;
	u32 retrans_stamp;
	u32 undo_marker;
	int undo_retrans;
	u32 mtu_info;
	u64 bytes_retrans;
	u32 total_retrans;
	u32 rto_stamp;
	u16 total_rto;
	u16 total_rto_recoveries;
	u32 total_rto_time;
	u32 urg_seq;
	unsigned int keepalive_time;
	unsigned int keepalive_intvl;
	int linger2;
	u8 bpf_sock_ops_cb_flags;
	u8 bpf_chg_cc_inprogress : 1;
	u16 timeout_rehash;
	u32 rcv_ooopack;
	struct {
		u32 probe_seq_start;
		u32 probe_seq_end;
	} mtu_probe;
	u32 plb_rehash;
	bool is_mptcp;
	const struct tcp_sock_af_ops *af_specific;
	struct tcp_md5sig_info *md5sig_info;
	struct tcp_fastopen_request *fastopen_req;
	struct request_sock *fastopen_rsk;
	struct saved_syn *saved_syn;
};

/* ---- cfi stubs: bpf_dummy_ops (parameter names are the kernel's) ---- */
__stub int bpf_dummy_ops__test_1(struct bpf_dummy_ops_state *cb__nullable) { return 0; }
__stub int bpf_dummy_test_2(struct bpf_dummy_ops_state *cb, int a1, unsigned short a2, char a3, unsigned long a4) { return 0; }
__stub int bpf_dummy_test_sleepable(struct bpf_dummy_ops_state *cb) { return 0; }

/* ---- cfi stubs: tcp_congestion_ops (net/ipv4/bpf_tcp_ca.c) ---- */
__stub u32 bpf_tcp_ca_ssthresh(struct sock *sk) { return 0; }
__stub void bpf_tcp_ca_cong_avoid(struct sock *sk, u32 ack, u32 acked) { }
__stub void bpf_tcp_ca_set_state(struct sock *sk, u8 new_state) { }
__stub void bpf_tcp_ca_cwnd_event(struct sock *sk, enum tcp_ca_event ev) { }
__stub void bpf_tcp_ca_in_ack_event(struct sock *sk, u32 flags) { }
__stub void bpf_tcp_ca_pkts_acked(struct sock *sk, const struct ack_sample *sample) { }
__stub u32 bpf_tcp_ca_min_tso_segs(struct sock *sk) { return 0; }
__stub void bpf_tcp_ca_cong_control(struct sock *sk, u32 ack, int flag, const struct rate_sample *rs) { }
__stub u32 bpf_tcp_ca_undo_cwnd(struct sock *sk) { return 0; }
__stub u32 bpf_tcp_ca_sndbuf_expand(struct sock *sk) { return 0; }
__stub void __bpf_tcp_ca_init(struct sock *sk) { }
__stub void __bpf_tcp_ca_release(struct sock *sk) { }

/* ---- kfuncs a BPF congestion control may call (bpf_tcp_ca_check_kfunc_ids) ---- */
__stub u32 tcp_reno_ssthresh(struct sock *sk) { return 0; }
__stub void tcp_reno_cong_avoid(struct sock *sk, u32 ack, u32 acked) { }
__stub u32 tcp_reno_undo_cwnd(struct sock *sk) { return 0; }
__stub u32 tcp_slow_start(struct tcp_sock *tp, u32 acked) { return 0; }
__stub void tcp_cong_avoid_ai(struct tcp_sock *tp, u32 w, u32 acked) { }

/* cubic and bbr are built in on the reference kernel; their kfuncs */
__stub void cubictcp_init(struct sock *sk) { }
__stub u32 cubictcp_recalc_ssthresh(struct sock *sk) { return 0; }
__stub void cubictcp_cong_avoid(struct sock *sk, u32 ack, u32 acked) { }
__stub void cubictcp_state(struct sock *sk, u8 new_state) { }
__stub void cubictcp_cwnd_event(struct sock *sk, enum tcp_ca_event event) { }
__stub void cubictcp_acked(struct sock *sk, const struct ack_sample *sample) { }
__stub void bbr_init(struct sock *sk) { }
__stub void bbr_main(struct sock *sk, u32 ack, int flag, const struct rate_sample *rs) { }
__stub u32 bbr_sndbuf_expand(struct sock *sk) { return 0; }
__stub u32 bbr_undo_cwnd(struct sock *sk) { return 0; }
__stub void bbr_cwnd_event(struct sock *sk, enum tcp_ca_event event) { }
__stub u32 bbr_ssthresh(struct sock *sk) { return 0; }
__stub u32 bbr_min_tso_segs(struct sock *sk) { return 0; }
__stub void bbr_set_state(struct sock *sk, u8 new_state) { }

/* ---- generic kfuncs on task and cgroup references (kernel/bpf/helpers.c) ---- */
__stub struct task_struct *bpf_task_acquire(struct task_struct *p) { return 0; }
__stub void bpf_task_release(struct task_struct *p) { }
__stub struct task_struct *bpf_task_from_pid(s32 pid) { return 0; }
__stub struct cgroup *bpf_cgroup_acquire(struct cgroup *cgrp) { return 0; }
__stub void bpf_cgroup_release(struct cgroup *cgrp) { }
__stub void bpf_rcu_read_lock(void) { }
__stub void bpf_rcu_read_unlock(void) { }

/* ---- sched_ext (kernel/sched/ext_internal.h, ext.c, ext_idle.c; 6.18) ---- */
struct rq;

enum scx_consts {
	SCX_DSP_DFL_MAX_BATCH = 32,
	SCX_DSP_MAX_LOOPS = 32,
	SCX_WATCHDOG_MAX_TIMEOUT = 30000,
	SCX_EXIT_BT_LEN = 64,
	SCX_EXIT_MSG_LEN = 1024,
	SCX_EXIT_DUMP_DFL_LEN = 32768,
	SCX_CPUPERF_ONE = 1024,
	SCX_TASK_ITER_BATCH = 32,
};

enum scx_cpu_preempt_reason {
	SCX_CPU_PREEMPT_RT = 0,
	SCX_CPU_PREEMPT_DL = 1,
	SCX_CPU_PREEMPT_STOP = 2,
	SCX_CPU_PREEMPT_UNKNOWN = 3,
};

enum scx_deq_flags {
	SCX_DEQ_SLEEP = 1ULL,
	SCX_DEQ_CORE_SCHED_EXEC = 4294967296ULL,
};

enum scx_dsq_id_flags {
	SCX_DSQ_FLAG_BUILTIN = 9223372036854775808ULL,
	SCX_DSQ_FLAG_LOCAL_ON = 4611686018427387904ULL,
	SCX_DSQ_INVALID = 9223372036854775808ULL,
	SCX_DSQ_GLOBAL = 9223372036854775809ULL,
	SCX_DSQ_LOCAL = 9223372036854775810ULL,
	SCX_DSQ_LOCAL_ON = 13835058055282163712ULL,
	SCX_DSQ_LOCAL_CPU_MASK = 4294967295ULL,
};

enum scx_dsq_iter_flags {
	SCX_DSQ_ITER_REV = 65536,
	__SCX_DSQ_ITER_HAS_SLICE = 1073741824,
	__SCX_DSQ_ITER_HAS_VTIME = 2147483648U,
	__SCX_DSQ_ITER_USER_FLAGS = 65536,
	__SCX_DSQ_ITER_ALL_FLAGS = 3221291008U,
};

enum scx_dsq_lnode_flags {
	SCX_DSQ_LNODE_ITER_CURSOR = 1,
	__SCX_DSQ_LNODE_PRIV_SHIFT = 16,
};

enum scx_enable_state {
	SCX_ENABLING = 0,
	SCX_ENABLED = 1,
	SCX_DISABLING = 2,
	SCX_DISABLED = 3,
};

enum scx_enq_flags {
	SCX_ENQ_WAKEUP = 1ULL,
	SCX_ENQ_HEAD = 16ULL,
	SCX_ENQ_CPU_SELECTED = 1024ULL,
	SCX_ENQ_PREEMPT = 4294967296ULL,
	SCX_ENQ_REENQ = 1099511627776ULL,
	SCX_ENQ_LAST = 2199023255552ULL,
	__SCX_ENQ_INTERNAL_MASK = 18374686479671623680ULL,
	SCX_ENQ_CLEAR_OPSS = 72057594037927936ULL,
	SCX_ENQ_DSQ_PRIQ = 144115188075855872ULL,
};

enum scx_ent_dsq_flags {
	SCX_TASK_DSQ_ON_PRIQ = 1,
};

enum scx_ent_flags {
	SCX_TASK_QUEUED = 1,
	SCX_TASK_RESET_RUNNABLE_AT = 4,
	SCX_TASK_DEQD_FOR_SLEEP = 8,
	SCX_TASK_STATE_SHIFT = 8,
	SCX_TASK_STATE_BITS = 2,
	SCX_TASK_STATE_MASK = 768,
	SCX_TASK_CURSOR = -2147483648,
};

enum scx_exit_code {
	SCX_ECODE_RSN_HOTPLUG = 4294967296ULL,
	SCX_ECODE_ACT_RESTART = 281474976710656ULL,
};

enum scx_exit_flags {
	SCX_EFLAG_INITIALIZED = 1ULL,
};

enum scx_exit_kind {
	SCX_EXIT_NONE = 0,
	SCX_EXIT_DONE = 1,
	SCX_EXIT_UNREG = 64,
	SCX_EXIT_UNREG_BPF = 65,
	SCX_EXIT_UNREG_KERN = 66,
	SCX_EXIT_SYSRQ = 67,
	SCX_EXIT_ERROR = 1024,
	SCX_EXIT_ERROR_BPF = 1025,
	SCX_EXIT_ERROR_STALL = 1026,
};

enum scx_kf_mask {
	SCX_KF_UNLOCKED = 0,
	SCX_KF_CPU_RELEASE = 1,
	SCX_KF_DISPATCH = 2,
	SCX_KF_ENQUEUE = 4,
	SCX_KF_SELECT_CPU = 8,
	SCX_KF_REST = 16,
	__SCX_KF_RQ_LOCKED = 31,
	__SCX_KF_TERMINAL = 28,
};

enum scx_kick_flags {
	SCX_KICK_IDLE = 1,
	SCX_KICK_PREEMPT = 2,
	SCX_KICK_WAIT = 4,
};

enum scx_opi {
	SCX_OPI_BEGIN = 0,
	SCX_OPI_NORMAL_BEGIN = 0,
	SCX_OPI_NORMAL_END = 30,
	SCX_OPI_CPU_HOTPLUG_BEGIN = 30,
	SCX_OPI_CPU_HOTPLUG_END = 32,
	SCX_OPI_END = 32,
};

enum scx_ops_flags {
	SCX_OPS_KEEP_BUILTIN_IDLE = 1ULL,
	SCX_OPS_ENQ_LAST = 2ULL,
	SCX_OPS_ENQ_EXITING = 4ULL,
	SCX_OPS_SWITCH_PARTIAL = 8ULL,
	SCX_OPS_ENQ_MIGRATION_DISABLED = 16ULL,
	SCX_OPS_ALLOW_QUEUED_WAKEUP = 32ULL,
	SCX_OPS_BUILTIN_IDLE_PER_NODE = 64ULL,
	SCX_OPS_HAS_CGROUP_WEIGHT = 65536ULL,
	SCX_OPS_ALL_FLAGS = 65663ULL,
	__SCX_OPS_INTERNAL_MASK = 18374686479671623680ULL,
	SCX_OPS_HAS_CPU_PREEMPT = 72057594037927936ULL,
};

enum scx_ops_state {
	SCX_OPSS_NONE = 0,
	SCX_OPSS_QUEUEING = 1,
	SCX_OPSS_QUEUED = 2,
	SCX_OPSS_DISPATCHING = 3,
	SCX_OPSS_QSEQ_SHIFT = 2,
};

enum scx_pick_idle_cpu_flags {
	SCX_PICK_IDLE_CORE = 1,
	SCX_PICK_IDLE_IN_NODE = 2,
};

enum scx_public_consts {
	SCX_OPS_NAME_LEN = 128ULL,
	SCX_SLICE_DFL = 20000000ULL,
	SCX_SLICE_INF = 18446744073709551615ULL,
};

enum scx_rq_flags {
	SCX_RQ_ONLINE = 1,
	SCX_RQ_CAN_STOP_TICK = 2,
	SCX_RQ_BAL_PENDING = 4,
	SCX_RQ_BAL_KEEP = 8,
	SCX_RQ_BYPASSING = 16,
	SCX_RQ_CLK_VALID = 32,
	SCX_RQ_BAL_CB_PENDING = 64,
	SCX_RQ_IN_WAKEUP = 65536,
	SCX_RQ_IN_BALANCE = 131072,
};

enum scx_task_state {
	SCX_TASK_NONE = 0,
	SCX_TASK_INIT = 1,
	SCX_TASK_READY = 2,
	SCX_TASK_ENABLED = 3,
	SCX_TASK_NR_STATES = 4,
};

enum scx_tg_flags {
	SCX_TG_ONLINE = 1,
	SCX_TG_INITED = 2,
};

enum scx_wake_flags {
	SCX_WAKE_FORK = 4,
	SCX_WAKE_TTWU = 8,
	SCX_WAKE_SYNC = 16,
};

struct scx_exit_info {
	enum scx_exit_kind kind;
	s64 exit_code;
	u64 flags;
	const char *reason;
	unsigned long *bt;
	u32 bt_len;
	char *msg;
	char *dump;
};

struct scx_init_task_args {
	bool fork;
	struct cgroup *cgroup;
};

struct scx_exit_task_args {
	bool cancelled;
};

struct scx_cgroup_init_args {
	u32 weight;
	u64 bw_period_us;
	u64 bw_quota_us;
	u64 bw_burst_us;
};

struct scx_cpu_acquire_args {
};

struct scx_cpu_release_args {
	enum scx_cpu_preempt_reason reason;
	struct task_struct *task;
};

struct scx_dump_ctx {
	enum scx_exit_kind kind;
	s64 exit_code;
	const char *reason;
	u64 at_ns;
	u64 at_jiffies;
};

struct scx_event_stats {
	s64 SCX_EV_SELECT_CPU_FALLBACK;
	s64 SCX_EV_DISPATCH_LOCAL_DSQ_OFFLINE;
	s64 SCX_EV_DISPATCH_KEEP_LAST;
	s64 SCX_EV_ENQ_SKIP_EXITING;
	s64 SCX_EV_ENQ_SKIP_MIGRATION_DISABLED;
	s64 SCX_EV_REFILL_SLICE_DFL;
	s64 SCX_EV_BYPASS_DURATION;
	s64 SCX_EV_BYPASS_DISPATCH;
	s64 SCX_EV_BYPASS_ACTIVATE;
};

struct bpf_iter_scx_dsq {
	u64 __opaque[6];
} __aligned(8);

struct bpf_iter_num {
	u64 __opaque[1];
} __aligned(8);

struct bpf_cpumask {
	cpumask_t cpumask;
	refcount_t usage;
};

/* BPF graph roots/nodes in map values and allocated objects (include/linux/bpf.h, uapi) */
struct bpf_rb_root {
	__u64 __opaque[2];
} __aligned(8);

struct bpf_rb_node {
	__u64 __opaque[4];
} __aligned(8);

struct sched_ext_ops {
	s32 (*select_cpu)(struct task_struct *, s32, u64);
	void (*enqueue)(struct task_struct *, u64);
	void (*dequeue)(struct task_struct *, u64);
	void (*dispatch)(s32, struct task_struct *);
	void (*tick)(struct task_struct *);
	void (*runnable)(struct task_struct *, u64);
	void (*running)(struct task_struct *);
	void (*stopping)(struct task_struct *, bool);
	void (*quiescent)(struct task_struct *, u64);
	bool (*yield)(struct task_struct *, struct task_struct *);
	bool (*core_sched_before)(struct task_struct *, struct task_struct *);
	void (*set_weight)(struct task_struct *, u32);
	void (*set_cpumask)(struct task_struct *, const struct cpumask *);
	void (*update_idle)(s32, bool);
	void (*cpu_acquire)(s32, struct scx_cpu_acquire_args *);
	void (*cpu_release)(s32, struct scx_cpu_release_args *);
	s32 (*init_task)(struct task_struct *, struct scx_init_task_args *);
	void (*exit_task)(struct task_struct *, struct scx_exit_task_args *);
	void (*enable)(struct task_struct *);
	void (*disable)(struct task_struct *);
	void (*dump)(struct scx_dump_ctx *);
	void (*dump_cpu)(struct scx_dump_ctx *, s32, bool);
	void (*dump_task)(struct scx_dump_ctx *, struct task_struct *);
	s32 (*cgroup_init)(struct cgroup *, struct scx_cgroup_init_args *);
	void (*cgroup_exit)(struct cgroup *);
	s32 (*cgroup_prep_move)(struct task_struct *, struct cgroup *, struct cgroup *);
	void (*cgroup_move)(struct task_struct *, struct cgroup *, struct cgroup *);
	void (*cgroup_cancel_move)(struct task_struct *, struct cgroup *, struct cgroup *);
	void (*cgroup_set_weight)(struct cgroup *, u32);
	void (*cgroup_set_bandwidth)(struct cgroup *, u64, u64, u64);
	void (*cpu_online)(s32);
	void (*cpu_offline)(s32);
	s32 (*init)(void);
	void (*exit)(struct scx_exit_info *);
	u32 dispatch_max_batch;
	u64 flags;
	u32 timeout_ms;
	u32 exit_dump_len;
	u64 hotplug_seq;
	char name[128];
	void *priv;
};

BPF_STRUCT_OPS_VALUE(sched_ext_ops);

/* cfi stubs of sched_ext_ops (prev__nullable, to__nullable: SX-R3) */
static volatile long scx_stub_sink;
#define SCX_SINK(x) (scx_stub_sink += (long)(x))

__stub s32 sched_ext_ops__select_cpu(struct task_struct *p, s32 prev_cpu, u64 wake_flags) { SCX_SINK(p); return prev_cpu + (s32)wake_flags; }
__stub void sched_ext_ops__enqueue(struct task_struct *p, u64 enq_flags) { SCX_SINK(p); SCX_SINK(enq_flags); }
__stub void sched_ext_ops__dequeue(struct task_struct *p, u64 enq_flags) { SCX_SINK(p); SCX_SINK(enq_flags); }
__stub void sched_ext_ops__dispatch(s32 prev_cpu, struct task_struct *prev__nullable) { SCX_SINK(prev_cpu); SCX_SINK(prev__nullable); }
__stub void sched_ext_ops__tick(struct task_struct *p) { SCX_SINK(p); }
__stub void sched_ext_ops__runnable(struct task_struct *p, u64 enq_flags) { SCX_SINK(p); SCX_SINK(enq_flags); }
__stub void sched_ext_ops__running(struct task_struct *p) { SCX_SINK(p); }
__stub void sched_ext_ops__stopping(struct task_struct *p, bool runnable) { SCX_SINK(p); SCX_SINK(runnable); }
__stub void sched_ext_ops__quiescent(struct task_struct *p, u64 deq_flags) { SCX_SINK(p); SCX_SINK(deq_flags); }
__stub bool sched_ext_ops__yield(struct task_struct *from, struct task_struct *to__nullable) { return from == to__nullable; }
__stub bool sched_ext_ops__core_sched_before(struct task_struct *a, struct task_struct *b) { return a == b; }
__stub void sched_ext_ops__set_weight(struct task_struct *p, u32 weight) { SCX_SINK(p); SCX_SINK(weight); }
__stub void sched_ext_ops__set_cpumask(struct task_struct *p, const struct cpumask *mask) { SCX_SINK(p); SCX_SINK(mask); }
__stub void sched_ext_ops__update_idle(s32 cpu, bool idle) { SCX_SINK(cpu); SCX_SINK(idle); }
__stub void sched_ext_ops__cpu_acquire(s32 cpu, struct scx_cpu_acquire_args *args) { SCX_SINK(cpu); SCX_SINK(args); }
__stub void sched_ext_ops__cpu_release(s32 cpu, struct scx_cpu_release_args *args) { SCX_SINK(cpu); SCX_SINK(args); }
__stub s32 sched_ext_ops__init_task(struct task_struct *p, struct scx_init_task_args *args) { SCX_SINK(p); return args != 0; }
__stub void sched_ext_ops__exit_task(struct task_struct *p, struct scx_exit_task_args *args) { SCX_SINK(p); SCX_SINK(args); }
__stub void sched_ext_ops__enable(struct task_struct *p) { SCX_SINK(p); }
__stub void sched_ext_ops__disable(struct task_struct *p) { SCX_SINK(p); }
__stub void sched_ext_ops__dump(struct scx_dump_ctx *ctx) { SCX_SINK(ctx); }
__stub void sched_ext_ops__dump_cpu(struct scx_dump_ctx *ctx, s32 cpu, bool idle) { SCX_SINK(ctx); SCX_SINK(cpu + idle); }
__stub void sched_ext_ops__dump_task(struct scx_dump_ctx *ctx, struct task_struct *p) { SCX_SINK(ctx); SCX_SINK(p); }
__stub s32 sched_ext_ops__cgroup_init(struct cgroup *cgrp, struct scx_cgroup_init_args *args) { SCX_SINK(cgrp); return args != 0; }
__stub void sched_ext_ops__cgroup_exit(struct cgroup *cgrp) { SCX_SINK(cgrp); }
__stub s32 sched_ext_ops__cgroup_prep_move(struct task_struct *p, struct cgroup *from, struct cgroup *to) { SCX_SINK(p); return from == to; }
__stub void sched_ext_ops__cgroup_move(struct task_struct *p, struct cgroup *from, struct cgroup *to) { SCX_SINK(p); SCX_SINK(from); SCX_SINK(to); }
__stub void sched_ext_ops__cgroup_cancel_move(struct task_struct *p, struct cgroup *from, struct cgroup *to) { SCX_SINK(p); SCX_SINK(from); SCX_SINK(to); }
__stub void sched_ext_ops__cgroup_set_weight(struct cgroup *cgrp, u32 weight) { SCX_SINK(cgrp); SCX_SINK(weight); }
__stub void sched_ext_ops__cgroup_set_bandwidth(struct cgroup *cgrp, u64 period_us, u64 quota_us, u64 burst_us) { SCX_SINK(cgrp); SCX_SINK(period_us + quota_us + burst_us); }
__stub void sched_ext_ops__cpu_online(s32 cpu) { SCX_SINK(cpu); }
__stub void sched_ext_ops__cpu_offline(s32 cpu) { SCX_SINK(cpu); }
__stub s32 sched_ext_ops__init(void) { return (s32)scx_stub_sink; }
__stub void sched_ext_ops__exit(struct scx_exit_info *info) { SCX_SINK(info); }

/* sched_ext kfuncs (SX-K35) */
__stub s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) { return (s32)(dsq_id + node); }
__stub void scx_bpf_destroy_dsq(u64 dsq_id) { SCX_SINK(dsq_id); }
__stub s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags, bool *is_idle) { SCX_SINK(p); SCX_SINK(is_idle); return prev_cpu + (s32)wake_flags; }
__stub s32 scx_bpf_select_cpu_and(struct task_struct *p, s32 prev_cpu, u64 wake_flags, const struct cpumask *cpus_allowed, u64 flags) { SCX_SINK(p); SCX_SINK(cpus_allowed); return prev_cpu + (s32)(wake_flags + flags); }
__stub void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) { SCX_SINK(p); SCX_SINK(dsq_id + slice + enq_flags); }
__stub void scx_bpf_dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime, u64 enq_flags) { SCX_SINK(p); SCX_SINK(dsq_id + slice + vtime + enq_flags); }
__stub u32 scx_bpf_dispatch_nr_slots(void) { return (u32)scx_stub_sink; }
__stub void scx_bpf_dispatch_cancel(void) { SCX_SINK(0); }
__stub bool scx_bpf_dsq_move_to_local(u64 dsq_id) { return dsq_id != 0; }
__stub void scx_bpf_dsq_move_set_slice(struct bpf_iter_scx_dsq *it__iter, u64 slice) { SCX_SINK(it__iter); SCX_SINK(slice); }
__stub void scx_bpf_dsq_move_set_vtime(struct bpf_iter_scx_dsq *it__iter, u64 vtime) { SCX_SINK(it__iter); SCX_SINK(vtime); }
__stub bool scx_bpf_dsq_move(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p, u64 dsq_id, u64 enq_flags) { SCX_SINK(it__iter); return p != 0 && dsq_id != enq_flags; }
__stub bool scx_bpf_dsq_move_vtime(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p, u64 dsq_id, u64 enq_flags) { SCX_SINK(it__iter); return p != 0 && dsq_id != enq_flags; }
__stub u32 scx_bpf_reenqueue_local(void) { return (u32)scx_stub_sink; }
__stub void scx_bpf_kick_cpu(s32 cpu, u64 flags) { SCX_SINK(cpu); SCX_SINK(flags); }
__stub s32 scx_bpf_dsq_nr_queued(u64 dsq_id) { return (s32)dsq_id; }
__stub int bpf_iter_scx_dsq_new(struct bpf_iter_scx_dsq *it, u64 dsq_id, u64 flags) { SCX_SINK(it); return (int)(dsq_id + flags); }
__stub struct task_struct *bpf_iter_scx_dsq_next(struct bpf_iter_scx_dsq *it) { SCX_SINK(it); return 0; }
__stub void bpf_iter_scx_dsq_destroy(struct bpf_iter_scx_dsq *it) { SCX_SINK(it); }
__stub void scx_bpf_exit_bstr(s64 exit_code, char *fmt, unsigned long long *data, u32 data__sz) { SCX_SINK(exit_code); SCX_SINK(fmt); SCX_SINK(data); SCX_SINK(data__sz); }
__stub void scx_bpf_error_bstr(char *fmt, unsigned long long *data, u32 data__sz) { SCX_SINK(fmt); SCX_SINK(data); SCX_SINK(data__sz); }
__stub void scx_bpf_dump_bstr(char *fmt, unsigned long long *data, u32 data__sz) { SCX_SINK(fmt); SCX_SINK(data); SCX_SINK(data__sz); }
__stub u32 scx_bpf_cpuperf_cap(s32 cpu) { return (u32)cpu; }
__stub u32 scx_bpf_cpuperf_cur(s32 cpu) { return (u32)cpu; }
__stub void scx_bpf_cpuperf_set(s32 cpu, u32 perf) { SCX_SINK(cpu); SCX_SINK(perf); }
__stub u32 scx_bpf_nr_node_ids(void) { return 1; }
__stub u32 scx_bpf_nr_cpu_ids(void) { return 1; }
__stub int scx_bpf_cpu_node(s32 cpu) { return cpu; }
__stub const struct cpumask *scx_bpf_get_possible_cpumask(void) { return 0; }
__stub const struct cpumask *scx_bpf_get_online_cpumask(void) { return 0; }
__stub void scx_bpf_put_cpumask(const struct cpumask *cpumask) { SCX_SINK(cpumask); }
__stub const struct cpumask *scx_bpf_get_idle_cpumask_node(int node) { SCX_SINK(node); return 0; }
__stub const struct cpumask *scx_bpf_get_idle_cpumask(void) { return 0; }
__stub const struct cpumask *scx_bpf_get_idle_smtmask_node(int node) { SCX_SINK(node); return 0; }
__stub const struct cpumask *scx_bpf_get_idle_smtmask(void) { return 0; }
__stub void scx_bpf_put_idle_cpumask(const struct cpumask *cpumask) { SCX_SINK(cpumask); }
__stub bool scx_bpf_test_and_clear_cpu_idle(s32 cpu) { return cpu != 0; }
__stub s32 scx_bpf_pick_idle_cpu_node(const struct cpumask *cpus_allowed, int node, u64 flags) { SCX_SINK(cpus_allowed); return node + (s32)flags; }
__stub s32 scx_bpf_pick_idle_cpu(const struct cpumask *cpus_allowed, u64 flags) { SCX_SINK(cpus_allowed); return (s32)flags; }
__stub s32 scx_bpf_pick_any_cpu_node(const struct cpumask *cpus_allowed, int node, u64 flags) { SCX_SINK(cpus_allowed); return node + (s32)flags; }
__stub s32 scx_bpf_pick_any_cpu(const struct cpumask *cpus_allowed, u64 flags) { SCX_SINK(cpus_allowed); return (s32)flags; }
__stub bool scx_bpf_task_running(const struct task_struct *p) { return p != 0; }
__stub s32 scx_bpf_task_cpu(const struct task_struct *p) { return p != 0; }
__stub struct rq *scx_bpf_cpu_rq(s32 cpu) { SCX_SINK(cpu); return 0; }
__stub struct rq *scx_bpf_locked_rq(void) { return 0; }
__stub struct task_struct *scx_bpf_cpu_curr(s32 cpu) { SCX_SINK(cpu); return 0; }
__stub struct cgroup *scx_bpf_task_cgroup(struct task_struct *p) { SCX_SINK(p); return 0; }
__stub u64 scx_bpf_now(void) { return (u64)scx_stub_sink; }
__stub void scx_bpf_events(struct scx_event_stats *events, size_t events__sz) { SCX_SINK(events); SCX_SINK(events__sz); }

/* open-coded numeric iterator and bpf_cpumask kfuncs (kernel/bpf/bpf_iter.c, cpumask.c) */
__stub int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) { SCX_SINK(it); return start + end; }
__stub int *bpf_iter_num_next(struct bpf_iter_num *it) { SCX_SINK(it); return 0; }
__stub void bpf_iter_num_destroy(struct bpf_iter_num *it) { SCX_SINK(it); }
__stub struct bpf_cpumask *bpf_cpumask_create(void) { return 0; }
__stub struct bpf_cpumask *bpf_cpumask_acquire(struct bpf_cpumask *cpumask) { return cpumask; }
__stub void bpf_cpumask_release(struct bpf_cpumask *cpumask) { SCX_SINK(cpumask); }
__stub u32 bpf_cpumask_first(const struct cpumask *cpumask) { SCX_SINK(cpumask); return 0; }
__stub void bpf_cpumask_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) { SCX_SINK(cpu); SCX_SINK(cpumask); }
__stub void bpf_cpumask_clear_cpu(u32 cpu, struct bpf_cpumask *cpumask) { SCX_SINK(cpu); SCX_SINK(cpumask); }
__stub bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) { return cpumask != 0 && cpu; }
__stub void bpf_cpumask_clear(struct bpf_cpumask *cpumask) { SCX_SINK(cpumask); }
__stub bool bpf_cpumask_empty(const struct cpumask *cpumask) { return cpumask != 0; }
__stub u32 bpf_cpumask_weight(const struct cpumask *cpumask) { SCX_SINK(cpumask); return 0; }
__stub bool bpf_cpumask_and(struct bpf_cpumask *dst, const struct cpumask *src1, const struct cpumask *src2) { SCX_SINK(dst); return src1 == src2; }
__stub void bpf_cpumask_or(struct bpf_cpumask *dst, const struct cpumask *src1, const struct cpumask *src2) { SCX_SINK(dst); SCX_SINK(src1); SCX_SINK(src2); }
__stub void bpf_cpumask_xor(struct bpf_cpumask *dst, const struct cpumask *src1, const struct cpumask *src2) { SCX_SINK(dst); SCX_SINK(src1); SCX_SINK(src2); }
__stub void bpf_cpumask_copy(struct bpf_cpumask *dst, const struct cpumask *src) { SCX_SINK(dst); SCX_SINK(src); }
__stub void bpf_cpumask_setall(struct bpf_cpumask *cpumask) { SCX_SINK(cpumask); }
__stub bool bpf_cpumask_full(const struct cpumask *cpumask) { return cpumask != 0; }
__stub bool bpf_cpumask_equal(const struct cpumask *src1, const struct cpumask *src2) { return src1 == src2; }
__stub bool bpf_cpumask_intersects(const struct cpumask *src1, const struct cpumask *src2) { return src1 == src2; }
__stub bool bpf_cpumask_subset(const struct cpumask *src1, const struct cpumask *src2) { return src1 == src2; }
__stub u32 bpf_cpumask_first_zero(const struct cpumask *cpumask) { SCX_SINK(cpumask); return 0; }
__stub u32 bpf_cpumask_first_and(const struct cpumask *src1, const struct cpumask *src2) { SCX_SINK(src1); SCX_SINK(src2); return 0; }
__stub bool bpf_cpumask_test_and_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) { return cpumask != 0 && cpu; }
__stub bool bpf_cpumask_test_and_clear_cpu(u32 cpu, struct bpf_cpumask *cpumask) { return cpumask != 0 && cpu; }
__stub u32 bpf_cpumask_any_distribute(const struct cpumask *cpumask) { SCX_SINK(cpumask); return 0; }
__stub u32 bpf_cpumask_any_and_distribute(const struct cpumask *src1, const struct cpumask *src2) { SCX_SINK(src1); SCX_SINK(src2); return 0; }

/* cgroup kfuncs (kernel/bpf/helpers.c) */
__stub struct cgroup *bpf_cgroup_ancestor(struct cgroup *cgrp, int level) { SCX_SINK(level); return cgrp; }
__stub struct cgroup *bpf_cgroup_from_id(u64 cgid) { SCX_SINK(cgid); return 0; }

/* allocated objects and rbtrees (kernel/bpf/helpers.c); declared so a load names them */
__stub void *bpf_obj_new_impl(u64 local_type_id__k, void *meta__ign) { SCX_SINK(local_type_id__k); return meta__ign; }
__stub void bpf_obj_drop_impl(void *p__alloc, void *meta__ign) { SCX_SINK(p__alloc); SCX_SINK(meta__ign); }
__stub int bpf_rbtree_add_impl(struct bpf_rb_root *root, struct bpf_rb_node *node, bool (*less)(struct bpf_rb_node *, const struct bpf_rb_node *), void *meta__ign, u64 off) { SCX_SINK(root); SCX_SINK(node); SCX_SINK(less); SCX_SINK(meta__ign); return (int)off; }
__stub struct bpf_rb_node *bpf_rbtree_first(struct bpf_rb_root *root) { SCX_SINK(root); return 0; }
__stub struct bpf_rb_node *bpf_rbtree_remove(struct bpf_rb_root *root, struct bpf_rb_node *node) { SCX_SINK(root); return node; }
