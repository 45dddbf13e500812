/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One trivial program per common section name, to test the section -> program type
 * table of the loader.  Only parsed, never loaded as a whole.
 */
#include "vmlinux.h"
#include "so_bpf.h"

char _license[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0x61200;

/* map attributes the loader must carry over verbatim */
struct {
	SO_MAP_UINT(type, BPF_MAP_TYPE_LRU_HASH);
	SO_MAP_UINT(max_entries, 64);
	SO_MAP_TYPE(key, __u64);
	SO_MAP_TYPE(value, struct bpf_dummy_ops_state);
	SO_MAP_UINT(pinning, 1);
	SO_MAP_UINT(numa_node, 0);
	SO_MAP_UINT(map_flags, 0x4);
	SO_MAP_UINT(map_extra, 0);
} s_pinned SEC(".maps");

struct {
	SO_MAP_UINT(type, BPF_MAP_TYPE_RINGBUF);
	SO_MAP_UINT(max_entries, 4096);
} s_ringbuf SEC(".maps");

#define TRIVIAL(sec, name)                     \
	SEC(sec) int name(void *ctx) { return 0; }

TRIVIAL("socket", s_socket)
TRIVIAL("tc", s_tc)
TRIVIAL("classifier", s_classifier)
TRIVIAL("tcx/ingress", s_tcx_ingress)
TRIVIAL("xdp", s_xdp)
TRIVIAL("xdp.frags", s_xdp_frags)
TRIVIAL("kprobe/do_nanosleep", s_kprobe)
TRIVIAL("kretprobe/do_nanosleep", s_kretprobe)
TRIVIAL("uprobe", s_uprobe)
TRIVIAL("tracepoint/syscalls/sys_enter_openat", s_tracepoint)
TRIVIAL("tp/sched/sched_switch", s_tp)
TRIVIAL("raw_tracepoint/sys_enter", s_raw_tp)
TRIVIAL("raw_tp/sys_exit", s_raw_tp2)
TRIVIAL("tp_btf/sched_switch", s_tp_btf)
TRIVIAL("fentry/tcp_reno_ssthresh", s_fentry)
TRIVIAL("fexit/tcp_reno_ssthresh", s_fexit)
TRIVIAL("fmod_ret/security_file_open", s_fmod_ret)
TRIVIAL("fentry.s/tcp_reno_ssthresh", s_fentry_s)
TRIVIAL("lsm/file_open", s_lsm)
TRIVIAL("iter/task", s_iter)
TRIVIAL("syscall", s_syscall)
TRIVIAL("perf_event", s_perf_event)
TRIVIAL("cgroup_skb/ingress", s_cgroup_skb_ingress)
TRIVIAL("cgroup/connect4", s_cgroup_connect4)
TRIVIAL("sockops", s_sockops)
TRIVIAL("sk_msg", s_sk_msg)
TRIVIAL("flow_dissector", s_flow_dissector)
TRIVIAL("struct_ops", s_struct_ops_bare)
TRIVIAL("struct_ops.s", s_struct_ops_sleepable)
TRIVIAL("?xdp", s_xdp_optional)
TRIVIAL("my_custom_section", s_unknown)
