"""Section name -> program type table (libbpf SEC() rules, selftests report B.2)."""

from __future__ import annotations

import pytest
from readelf_listing import TESTDATA

from structops.loader import load_collection_spec, parse_section
from structops.uapi import AttachType as A
from structops.uapi import ProgType as P

CASES = [
    ("socket", P.BPF_PROG_TYPE_SOCKET_FILTER, 0, ""),
    ("tc", P.BPF_PROG_TYPE_SCHED_CLS, 0, ""),
    ("classifier", P.BPF_PROG_TYPE_SCHED_CLS, 0, ""),
    ("tcx/ingress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_INGRESS, ""),
    ("xdp", P.BPF_PROG_TYPE_XDP, A.BPF_XDP, ""),
    ("xdp.frags", P.BPF_PROG_TYPE_XDP, A.BPF_XDP, ""),
    ("kprobe/do_nanosleep", P.BPF_PROG_TYPE_KPROBE, 0, "do_nanosleep"),
    ("kretprobe/do_nanosleep", P.BPF_PROG_TYPE_KPROBE, 0, "do_nanosleep"),
    ("uprobe", P.BPF_PROG_TYPE_KPROBE, 0, ""),
    ("tracepoint/syscalls/sys_enter_openat", P.BPF_PROG_TYPE_TRACEPOINT, 0, "syscalls/sys_enter_openat"),
    ("tp/sched/sched_switch", P.BPF_PROG_TYPE_TRACEPOINT, 0, "sched/sched_switch"),
    ("raw_tracepoint/sys_enter", P.BPF_PROG_TYPE_RAW_TRACEPOINT, 0, "sys_enter"),
    ("raw_tp/sys_exit", P.BPF_PROG_TYPE_RAW_TRACEPOINT, 0, "sys_exit"),
    ("tp_btf/sched_switch", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_RAW_TP, "sched_switch"),
    ("fentry/tcp_reno_ssthresh", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY, "tcp_reno_ssthresh"),
    ("fexit/tcp_reno_ssthresh", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FEXIT, "tcp_reno_ssthresh"),
    ("fmod_ret/security_file_open", P.BPF_PROG_TYPE_TRACING, A.BPF_MODIFY_RETURN, "security_file_open"),
    ("fentry.s/tcp_reno_ssthresh", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY, "tcp_reno_ssthresh"),
    ("lsm/file_open", P.BPF_PROG_TYPE_LSM, A.BPF_LSM_MAC, "file_open"),
    ("iter/task", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_ITER, "task"),
    ("syscall", P.BPF_PROG_TYPE_SYSCALL, 0, ""),
    ("perf_event", P.BPF_PROG_TYPE_PERF_EVENT, 0, ""),
    ("cgroup_skb/ingress", P.BPF_PROG_TYPE_CGROUP_SKB, A.BPF_CGROUP_INET_INGRESS, ""),
    ("cgroup/connect4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_CONNECT, ""),
    ("sockops", P.BPF_PROG_TYPE_SOCK_OPS, A.BPF_CGROUP_SOCK_OPS, ""),
    ("sk_msg", P.BPF_PROG_TYPE_SK_MSG, A.BPF_SK_MSG_VERDICT, ""),
    ("flow_dissector", P.BPF_PROG_TYPE_FLOW_DISSECTOR, A.BPF_FLOW_DISSECTOR, ""),
    ("struct_ops", P.BPF_PROG_TYPE_STRUCT_OPS, 0, ""),
    ("struct_ops/anything", P.BPF_PROG_TYPE_STRUCT_OPS, 0, "anything"),
    ("struct_ops.s/test_sleepable", P.BPF_PROG_TYPE_STRUCT_OPS, 0, "test_sleepable"),
]


@pytest.mark.parametrize(("sec", "ptype", "atype", "target"), CASES)
def test_section_table(sec: str, ptype: P, atype: int, target: str) -> None:
    info = parse_section(sec)
    assert (info.prog_type, info.expected_attach_type, info.attach_to) == (ptype, atype, target)
    assert info.known and info.autoload


@pytest.mark.parametrize(
    ("sec", "sleepable"),
    [("struct_ops.s", True), ("struct_ops.s/x", True), ("struct_ops/x", False), ("fentry.s/f", True),
     ("lsm.s/f", True), ("syscall", True), ("xdp", False)],
)  # fmt: skip
def test_sleepable_sections(sec: str, sleepable: bool) -> None:
    assert parse_section(sec).sleepable is sleepable


def test_question_mark_disables_autoload_only() -> None:
    plain, opt = parse_section("struct_ops.s/test_1"), parse_section("?struct_ops.s/test_1")
    assert opt.autoload is False and plain.autoload is True
    assert (opt.prog_type, opt.sleepable, opt.attach_to) == (plain.prog_type, plain.sleepable, plain.attach_to)


@pytest.mark.parametrize("sec", ["my_custom_section", "struct_opsX", "xdpfoo", "tc/other", "kprobe_x"])
def test_unknown_sections(sec: str) -> None:
    info = parse_section(sec)
    assert info.prog_type == P.BPF_PROG_TYPE_UNSPEC and not info.known


def test_xdp_frags_flag() -> None:
    assert parse_section("xdp.frags").xdp_frags and not parse_section("xdp").xdp_frags
    assert parse_section("xdp.frags/devmap").expected_attach_type == A.BPF_XDP_DEVMAP


def test_sections_object_programs_follow_the_table() -> None:
    spec = load_collection_spec(TESTDATA / "sections.bpf.o")
    assert len(spec.programs) == 31
    for p in spec.programs.values():
        info = parse_section(p.section)
        assert (p.prog_type, p.expected_attach_type, p.autoload) == (
            info.prog_type, info.expected_attach_type, info.autoload)  # fmt: skip
    assert spec.programs["s_unknown"].known_section is False
    assert spec.programs["s_xdp_optional"].autoload is False
    assert spec.programs["s_struct_ops_sleepable"].sleepable
