"""Program section names -> program type, expected attach type and flags (libbpf SEC()).

A program's ELF section name says what kind of program it is, the way libbpf's
``section_defs[]`` table does (libbpf ``src/libbpf.c``, ``SEC_DEF``; selftests report B.2).
Three match styles exist:

* ``exact``  -- the name must equal the pattern (``"tc"``, ``"xdp"``, ``"syscall"``);
* ``plus``   -- the pattern itself or ``pattern/anything`` (libbpf's trailing ``+``):
                ``"struct_ops"``, ``"struct_ops/foo"``, ``"kprobe/do_nanosleep"``;
* the text after ``/`` of a ``plus`` match is the attach target (``attach_to``).

A leading ``?`` only turns autoload off and is ignored for matching.  Unknown names give
``BPF_PROG_TYPE_UNSPEC`` (libbpf loads nothing for them unless the type is set by hand).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from structops.abi.consts import AttachType as A
from structops.abi.consts import ProgType as P

__all__ = ["SectionDef", "SectionInfo", "SECTION_DEFS", "parse_section"]


@dataclass(frozen=True, slots=True)
class SectionDef:
    """One row of the section table: ``pattern`` matched ``exact`` or ``plus`` style."""

    pattern: str
    prog_type: P
    attach_type: int
    plus: bool = False
    sleepable: bool = False
    xdp_frags: bool = False
    #: The program attaches to a kernel BTF function/type named after the ``/``.
    attach_btf: bool = False


@dataclass(frozen=True, slots=True)
class SectionInfo:
    """What a program's section name means: the matched row, target and flags."""

    section: str
    prog_type: P
    expected_attach_type: int
    attach_to: str
    sleepable: bool
    xdp_frags: bool
    attach_btf: bool
    autoload: bool
    known: bool

    @property
    def is_struct_ops(self) -> bool:
        """True for ``struct_ops`` / ``struct_ops.s`` programs."""
        return self.prog_type == P.BPF_PROG_TYPE_STRUCT_OPS


def _d(pattern: str, pt: P, at: int = 0, **kw: bool) -> SectionDef:
    plus = pattern.endswith("+")
    return SectionDef(pattern.rstrip("+"), pt, int(at), plus=plus, **kw)


_S = {"sleepable": True}
_BTF = {"attach_btf": True}
_BTF_S = {"attach_btf": True, "sleepable": True}

#: The table, in matching order (first match wins, as in libbpf).
SECTION_DEFS: Final[tuple[SectionDef, ...]] = (
    _d("socket+", P.BPF_PROG_TYPE_SOCKET_FILTER),
    _d("sk_reuseport/migrate", P.BPF_PROG_TYPE_SK_REUSEPORT, A.BPF_SK_REUSEPORT_SELECT_OR_MIGRATE),
    _d("sk_reuseport", P.BPF_PROG_TYPE_SK_REUSEPORT, A.BPF_SK_REUSEPORT_SELECT),
    _d("kprobe+", P.BPF_PROG_TYPE_KPROBE),
    _d("uprobe+", P.BPF_PROG_TYPE_KPROBE),
    _d("uprobe.s+", P.BPF_PROG_TYPE_KPROBE, **_S),
    _d("kretprobe+", P.BPF_PROG_TYPE_KPROBE),
    _d("uretprobe+", P.BPF_PROG_TYPE_KPROBE),
    _d("uretprobe.s+", P.BPF_PROG_TYPE_KPROBE, **_S),
    _d("kprobe.multi+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_MULTI),
    _d("kretprobe.multi+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_MULTI),
    _d("kprobe.session+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_KPROBE_SESSION),
    _d("uprobe.multi+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_MULTI),
    _d("uretprobe.multi+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_MULTI),
    _d("uprobe.multi.s+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_MULTI, **_S),
    _d("uretprobe.multi.s+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_MULTI, **_S),
    _d("uprobe.session+", P.BPF_PROG_TYPE_KPROBE, A.BPF_TRACE_UPROBE_SESSION),
    _d("ksyscall+", P.BPF_PROG_TYPE_KPROBE),
    _d("kretsyscall+", P.BPF_PROG_TYPE_KPROBE),
    _d("usdt+", P.BPF_PROG_TYPE_KPROBE),
    _d("usdt.s+", P.BPF_PROG_TYPE_KPROBE, **_S),
    _d("tc/ingress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_INGRESS),
    _d("tc/egress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_EGRESS),
    _d("tcx/ingress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_INGRESS),
    _d("tcx/egress", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_TCX_EGRESS),
    _d("tc", P.BPF_PROG_TYPE_SCHED_CLS),
    _d("classifier", P.BPF_PROG_TYPE_SCHED_CLS),
    _d("action", P.BPF_PROG_TYPE_SCHED_ACT),
    _d("netkit/primary", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_NETKIT_PRIMARY),
    _d("netkit/peer", P.BPF_PROG_TYPE_SCHED_CLS, A.BPF_NETKIT_PEER),
    _d("tracepoint+", P.BPF_PROG_TYPE_TRACEPOINT),
    _d("tp+", P.BPF_PROG_TYPE_TRACEPOINT),
    _d("raw_tracepoint+", P.BPF_PROG_TYPE_RAW_TRACEPOINT),
    _d("raw_tp+", P.BPF_PROG_TYPE_RAW_TRACEPOINT),
    _d("raw_tracepoint.w+", P.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE),
    _d("raw_tp.w+", P.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE),
    _d("tp_btf+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_RAW_TP, **_BTF),
    _d("fentry+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY, **_BTF),
    _d("fmod_ret+", P.BPF_PROG_TYPE_TRACING, A.BPF_MODIFY_RETURN, **_BTF),
    _d("fexit+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FEXIT, **_BTF),
    _d("fentry.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY, **_BTF_S),
    _d("fmod_ret.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_MODIFY_RETURN, **_BTF_S),
    _d("fexit.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FEXIT, **_BTF_S),
    _d("freplace+", P.BPF_PROG_TYPE_EXT, **_BTF),
    _d("lsm+", P.BPF_PROG_TYPE_LSM, A.BPF_LSM_MAC, **_BTF),
    _d("lsm.s+", P.BPF_PROG_TYPE_LSM, A.BPF_LSM_MAC, **_BTF_S),
    _d("lsm_cgroup+", P.BPF_PROG_TYPE_LSM, A.BPF_LSM_CGROUP, **_BTF),
    _d("iter+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_ITER, **_BTF),
    _d("iter.s+", P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_ITER, **_BTF_S),
    _d("syscall", P.BPF_PROG_TYPE_SYSCALL, **_S),
    _d("xdp.frags/devmap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_DEVMAP, xdp_frags=True),
    _d("xdp/devmap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_DEVMAP),
    _d("xdp.frags/cpumap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_CPUMAP, xdp_frags=True),
    _d("xdp/cpumap", P.BPF_PROG_TYPE_XDP, A.BPF_XDP_CPUMAP),
    _d("xdp.frags", P.BPF_PROG_TYPE_XDP, A.BPF_XDP, xdp_frags=True),
    _d("xdp", P.BPF_PROG_TYPE_XDP, A.BPF_XDP),
    _d("perf_event", P.BPF_PROG_TYPE_PERF_EVENT),
    _d("lwt_in", P.BPF_PROG_TYPE_LWT_IN),
    _d("lwt_out", P.BPF_PROG_TYPE_LWT_OUT),
    _d("lwt_xmit", P.BPF_PROG_TYPE_LWT_XMIT),
    _d("lwt_seg6local", P.BPF_PROG_TYPE_LWT_SEG6LOCAL),
    _d("sockops", P.BPF_PROG_TYPE_SOCK_OPS, A.BPF_CGROUP_SOCK_OPS),
    _d("sk_skb/stream_parser", P.BPF_PROG_TYPE_SK_SKB, A.BPF_SK_SKB_STREAM_PARSER),
    _d("sk_skb/stream_verdict", P.BPF_PROG_TYPE_SK_SKB, A.BPF_SK_SKB_STREAM_VERDICT),
    _d("sk_skb/verdict", P.BPF_PROG_TYPE_SK_SKB, A.BPF_SK_SKB_VERDICT),
    _d("sk_skb", P.BPF_PROG_TYPE_SK_SKB),
    _d("sk_msg", P.BPF_PROG_TYPE_SK_MSG, A.BPF_SK_MSG_VERDICT),
    _d("lirc_mode2", P.BPF_PROG_TYPE_LIRC_MODE2, A.BPF_LIRC_MODE2),
    _d("flow_dissector", P.BPF_PROG_TYPE_FLOW_DISSECTOR, A.BPF_FLOW_DISSECTOR),
    _d("cgroup_skb/ingress", P.BPF_PROG_TYPE_CGROUP_SKB, A.BPF_CGROUP_INET_INGRESS),
    _d("cgroup_skb/egress", P.BPF_PROG_TYPE_CGROUP_SKB, A.BPF_CGROUP_INET_EGRESS),
    _d("cgroup/skb", P.BPF_PROG_TYPE_CGROUP_SKB),
    _d("cgroup/sock_create", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET_SOCK_CREATE),
    _d("cgroup/sock_release", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET_SOCK_RELEASE),
    _d("cgroup/sock", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET_SOCK_CREATE),
    _d("cgroup/post_bind4", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET4_POST_BIND),
    _d("cgroup/post_bind6", P.BPF_PROG_TYPE_CGROUP_SOCK, A.BPF_CGROUP_INET6_POST_BIND),
    _d("cgroup/bind4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_BIND),
    _d("cgroup/bind6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET6_BIND),
    _d("cgroup/connect4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_CONNECT),
    _d("cgroup/connect6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET6_CONNECT),
    _d("cgroup/connect_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_CONNECT),
    _d("cgroup/sendmsg4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UDP4_SENDMSG),
    _d("cgroup/sendmsg6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UDP6_SENDMSG),
    _d("cgroup/sendmsg_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_SENDMSG),
    _d("cgroup/recvmsg4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UDP4_RECVMSG),
    _d("cgroup/recvmsg6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UDP6_RECVMSG),
    _d("cgroup/recvmsg_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_RECVMSG),
    _d("cgroup/getpeername4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_GETPEERNAME),
    _d("cgroup/getpeername6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET6_GETPEERNAME),
    _d("cgroup/getpeername_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_GETPEERNAME),
    _d("cgroup/getsockname4", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET4_GETSOCKNAME),
    _d("cgroup/getsockname6", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_INET6_GETSOCKNAME),
    _d("cgroup/getsockname_unix", P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR, A.BPF_CGROUP_UNIX_GETSOCKNAME),
    _d("cgroup/sysctl", P.BPF_PROG_TYPE_CGROUP_SYSCTL, A.BPF_CGROUP_SYSCTL),
    _d("cgroup/getsockopt", P.BPF_PROG_TYPE_CGROUP_SOCKOPT, A.BPF_CGROUP_GETSOCKOPT),
    _d("cgroup/setsockopt", P.BPF_PROG_TYPE_CGROUP_SOCKOPT, A.BPF_CGROUP_SETSOCKOPT),
    _d("cgroup/dev", P.BPF_PROG_TYPE_CGROUP_DEVICE, A.BPF_CGROUP_DEVICE),
    _d("struct_ops+", P.BPF_PROG_TYPE_STRUCT_OPS),
    _d("struct_ops.s+", P.BPF_PROG_TYPE_STRUCT_OPS, **_S),
    _d("sk_lookup", P.BPF_PROG_TYPE_SK_LOOKUP, A.BPF_SK_LOOKUP),
    _d("netfilter", P.BPF_PROG_TYPE_NETFILTER, A.BPF_NETFILTER),
)


def _match(d: SectionDef, name: str) -> str | None:
    """Return the attach target ('' if none) when ``name`` matches ``d``, else None."""
    if name == d.pattern:
        return ""
    if d.plus and name.startswith(d.pattern + "/"):
        return name[len(d.pattern) + 1 :]
    return None


def parse_section(section: str) -> SectionInfo:
    """Interpret a program section name (``"?struct_ops.s/test_sleepable"`` ...)."""
    autoload = not section.startswith("?")
    name = section[1:] if not autoload else section
    for d in SECTION_DEFS:
        target = _match(d, name)
        if target is not None:
            return SectionInfo(
                section=section,
                prog_type=d.prog_type,
                expected_attach_type=d.attach_type,
                attach_to=target,
                sleepable=d.sleepable,
                xdp_frags=d.xdp_frags,
                attach_btf=d.attach_btf,
                autoload=autoload,
                known=True,
            )
    return SectionInfo(
        section=section,
        prog_type=P.BPF_PROG_TYPE_UNSPEC,
        expected_attach_type=0,
        attach_to="",
        sleepable=False,
        xdp_frags=False,
        attach_btf=False,
        autoload=autoload,
        known=False,
    )
