"""Helper/kfunc sets, atomics and program-type facts measured on Linux 6.18 (issue 12 items 1, 3).

One table, replayed by ``tests/unit/verifier/test_verifier_sets.py`` on the embedded kernel
and by ``tests/kernel/test_verifier_sets_real.py`` on the real kernel: each :class:`Fact`
is a tiny program, where it is loaded (program type, struct_ops type and member), and what
Linux 6.18 answered on the project machine (errno, 0 = loaded; a phrase of the last log
line).  Programs are built from the target kernel's own BTF (member indexes, field
offsets, kfunc ids), never from hard-coded ids.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from dataclasses import dataclass

from structops import btf
from structops.abi import ProgLoadAttr
from structops.abi.protocol import Kernel
from structops.errors import BpfError
from structops.uapi import Cmd, ProgType

__all__ = ["FACTS", "Fact", "Target", "run_fact"]


def insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One raw instruction slot."""
    return struct.pack("<BBhi", op, dst | (src << 4), off, imm)


EXIT = insn(0x95)


def mov(dst: int, imm: int) -> bytes:
    """``dst = imm``."""
    return insn(0xB7, dst, imm=imm)


def call(hid: int) -> bytes:
    """``call helper#hid``."""
    return insn(0x85, imm=hid)


def ctx_arg(dst: int, n: int) -> bytes:
    """``dst = ctx[n]`` (a struct_ops argument)."""
    return insn(0x79, dst, 1, 8 * n)


class Target:
    """What a fact's program is built against: one kernel's BTF."""

    def __init__(self, spec: btf.Spec) -> None:
        self.spec = spec

    def kfunc(self, name: str) -> int:
        """BTF id of FUNC ``name``."""
        return self.spec.type_id(self.spec.find(name, btf.Func))

    def member_index(self, struct_name: str, member: str) -> int:
        """Index of ``member`` in ``struct_name``."""
        st = self.spec.find(struct_name, btf.Struct)
        return [m.name for m in st.members].index(member)

    def type_id(self, struct_name: str) -> int:
        """BTF id of ``struct_name``."""
        return self.spec.type_id(self.spec.find(struct_name, btf.Struct))

    def offset(self, struct_name: str, member: str) -> int:
        """Byte offset of a direct member."""
        st = self.spec.find(struct_name, btf.Struct)
        return next(m.bit_offset // 8 for m in st.members if m.name == member)


@dataclass(frozen=True)
class Fact:
    """One measured verdict: program, attach point, Linux 6.18's errno and log phrase."""

    name: str
    prog_type: int
    code: Callable[[Target], bytes]
    errno: int
    log: Callable[[Target], str] | str = ""
    st_ops: tuple[str, str] | None = None
    embedded_only: bool = False
    license: str = "GPL"


def _atomic_add(field: str, fetch: bool) -> Callable[[Target], bytes]:
    def build(t: Target) -> bytes:
        off = t.offset("tcp_sock", field)
        return ctx_arg(1, 0) + mov(2, 1) + insn(0xC3, 1, 2, off, 1 if fetch else 0) + mov(0, 1) + EXIT

    return build


def _kfunc_call(name: str, nargs: int, ret: bool) -> Callable[[Target], bytes]:
    def build(t: Target) -> bytes:
        loads = b"".join(ctx_arg(r, r - 1) for r in range(nargs, 0, -1))
        return loads + insn(0x85, 0, 2, 0, t.kfunc(name)) + (b"" if ret else mov(0, 0)) + EXIT

    return build


def _ld(size: int, off: int) -> Callable[[Target], bytes]:
    op = {1: 0x71, 2: 0x69, 4: 0x61, 8: 0x79}[size]
    return lambda t: insn(op, 2, 1, off) + mov(0, 0) + EXIT


def _st(size: int, off: int) -> Callable[[Target], bytes]:
    op = {4: 0x62, 8: 0x7A}[size]
    return lambda t: insn(op, 1, 0, off, 1) + mov(0, 0) + EXIT


def _skb_st(member: str) -> Callable[[Target], bytes]:
    return lambda t: insn(0x62, 1, 0, t.offset("__sk_buff", member), 1) + mov(0, 0) + EXIT


def _kf(t: Target, name: str) -> bytes:
    """``call`` kfunc ``name`` (vmlinux BTF id)."""
    return insn(0x85, 0, 2, 0, t.kfunc(name))


def _bpf_loop_no_func_info(t: Target) -> bytes:
    """``bpf_loop(1, &cb, 0, 0)`` with a callback subprogram but no func_info."""
    cb = insn(0x18, 2, 4, 0, 6) + insn(0)  # r2 = &callback (BPF_PSEUDO_FUNC)
    return mov(1, 1) + cb + mov(3, 0) + mov(4, 0) + call(181) + _RET1 + mov(0, 0) + EXIT


TCP = "tcp_congestion_ops"
DUMMY = "bpf_dummy_ops"
SO = ProgType.BPF_PROG_TYPE_STRUCT_OPS
SF = ProgType.BPF_PROG_TYPE_SOCKET_FILTER
CLS = ProgType.BPF_PROG_TYPE_SCHED_CLS
XDP = ProgType.BPF_PROG_TYPE_XDP
TP = ProgType.BPF_PROG_TYPE_TRACEPOINT
_RET1 = mov(0, 1) + EXIT

FACTS: tuple[Fact, ...] = (
    # atomics on a trusted BTF pointer go through btf_struct_access (T8)
    Fact("atomic_add_snd_cwnd", SO, _atomic_add("snd_cwnd", False), 0, st_ops=(TCP, "ssthresh")),
    Fact("atomic_fetch_add_snd_cwnd", SO, _atomic_add("snd_cwnd", True), 0, st_ops=(TCP, "ssthresh")),
    Fact(
        "atomic_add_snd_una",
        SO,
        _atomic_add("snd_una", False),
        errno.EACCES,
        lambda t: f"no write support to tcp_sock at off {t.offset('tcp_sock', 'snd_una')}",
        st_ops=(TCP, "ssthresh"),
    ),
    Fact(
        "atomic_on_ctx",
        SO,
        lambda t: mov(2, 1) + insn(0xDB, 1, 2, 0, 0) + _RET1,
        errno.EACCES,
        "BPF_ATOMIC stores into R1 ctx is not allowed",
        st_ops=(TCP, "ssthresh"),
    ),
    # helper sets per struct_ops type and member (T10, DM4)
    Fact("pid_tgid_in_ssthresh", SO, lambda t: call(14) + _RET1, 0, st_ops=(TCP, "ssthresh")),
    Fact("pid_tgid_in_init", SO, lambda t: call(14) + EXIT, 0, st_ops=(TCP, "init")),
    Fact("uid_gid_in_cong_avoid", SO, lambda t: call(15) + EXIT, 0, st_ops=(TCP, "cong_avoid")),
    Fact(
        "pid_tgid_in_dummy",
        SO,
        lambda t: call(14) + mov(0, 0) + EXIT,
        errno.EINVAL,
        "program of this type cannot use helper bpf_get_current_pid_tgid#14",
        st_ops=(DUMMY, "test_1"),
    ),
    Fact(
        "setsockopt_in_release",
        SO,
        lambda t: ctx_arg(1, 0) + mov(2, 6) + mov(3, 13) + mov(4, 0) + mov(5, 0) + call(49) + EXIT,
        errno.EINVAL,
        "program of this type cannot use helper bpf_setsockopt#49",
        st_ops=(TCP, "release"),
    ),
    Fact(
        "getsockopt_in_release",
        SO,
        lambda t: call(57) + EXIT,
        errno.EINVAL,
        "program of this type cannot use helper bpf_getsockopt#57",
        st_ops=(TCP, "release"),
    ),
    Fact(
        "skb_load_bytes_in_tcp",
        SO,
        lambda t: call(26) + _RET1,
        errno.EINVAL,
        "program of this type cannot use helper bpf_skb_load_bytes#26",
        st_ops=(TCP, "ssthresh"),
    ),
    Fact(
        "get_func_ip_in_tcp",
        SO,
        lambda t: call(173) + _RET1,
        errno.EINVAL,
        "program of this type cannot use helper bpf_get_func_ip#173",
        st_ops=(TCP, "ssthresh"),
    ),
    Fact(
        "bpf_loop_known_needs_func_info",
        SO,
        _bpf_loop_no_func_info,
        errno.EINVAL,
        "missing btf func_info",
        st_ops=(TCP, "ssthresh"),
    ),
    Fact("unknown_helper", SO, lambda t: call(999) + _RET1, errno.EINVAL, "unknown#999", st_ops=(TCP, "ssthresh")),
    # kfunc sets: per program type (struct_ops), so tcp kfuncs load from any struct_ops type
    Fact("cubictcp_init", SO, _kfunc_call("cubictcp_init", 1, False), 0, st_ops=(TCP, "init")),
    Fact("cubictcp_cong_avoid", SO, _kfunc_call("cubictcp_cong_avoid", 3, False), 0, st_ops=(TCP, "cong_avoid")),
    Fact("cubictcp_recalc_ssthresh", SO, _kfunc_call("cubictcp_recalc_ssthresh", 1, True), 0, st_ops=(TCP, "ssthresh")),
    Fact("cubictcp_state", SO, _kfunc_call("cubictcp_state", 2, False), 0, st_ops=(TCP, "set_state")),
    Fact("cubictcp_cwnd_event", SO, _kfunc_call("cubictcp_cwnd_event", 2, False), 0, st_ops=(TCP, "cwnd_event")),
    Fact("cubictcp_acked", SO, _kfunc_call("cubictcp_acked", 2, False), 0, st_ops=(TCP, "pkts_acked")),
    Fact("reno_ssthresh", SO, _kfunc_call("tcp_reno_ssthresh", 1, True), 0, st_ops=(TCP, "ssthresh")),
    Fact(
        "reno_kfunc_in_socket_filter",
        SF,
        lambda t: insn(0x85, 0, 2, 0, t.kfunc("tcp_reno_ssthresh")) + EXIT,
        errno.EACCES,
        "calling kernel function tcp_reno_ssthresh is not allowed",
    ),
    # kfunc argument checks (check_kfunc_args wording and errno)
    Fact(
        "kfunc_arg_uninit",
        SO,
        lambda t: call(7) + _kf(t, "tcp_reno_ssthresh") + EXIT,
        errno.EINVAL,
        "arg#0 pointer type STRUCT sock must point to scalar, or struct with scalar",
        st_ops=(TCP, "ssthresh"),
    ),
    Fact(
        "kfunc_arg_ctx",
        SO,
        lambda t: _kf(t, "tcp_reno_ssthresh") + EXIT,
        errno.EINVAL,
        "arg#0 pointer type STRUCT sock must point to scalar, or struct with scalar",
        st_ops=(TCP, "ssthresh"),
    ),
    Fact(
        "kfunc_arg_null",
        SO,
        lambda t: mov(1, 0) + _kf(t, "tcp_reno_ssthresh") + EXIT,
        errno.EACCES,
        "Possibly NULL pointer passed to trusted arg0",
        st_ops=(TCP, "ssthresh"),
    ),
    Fact(
        "kfunc_arg_offset",
        SO,
        lambda t: ctx_arg(1, 0) + insn(0x07, 1, imm=8) + _kf(t, "tcp_reno_ssthresh") + EXIT,
        errno.EINVAL,
        "kernel function tcp_reno_ssthresh args#0 expected pointer to STRUCT sock but R1 has a "
        "pointer to STRUCT tcp_sock",
        st_ops=(TCP, "ssthresh"),
    ),
    Fact(
        "kfunc_scalar_arg_uninit",
        SO,
        lambda t: ctx_arg(6, 0) + call(7) + insn(0xBF, 1, 6) + _kf(t, "tcp_slow_start") + EXIT,
        errno.EINVAL,
        "R2 is not a scalar",
        st_ops=(TCP, "ssthresh"),
    ),
    Fact(
        "kfunc_scalar_arg_pointer",
        SO,
        lambda t: ctx_arg(1, 0) + insn(0xBF, 2, 10) + _kf(t, "tcp_slow_start") + EXIT,
        errno.EINVAL,
        "R2 is not a scalar",
        st_ops=(TCP, "ssthresh"),
    ),
    # every program type is verified (issue 12 item 1)
    Fact("sf_ja_minus_one", SF, lambda t: insn(0x05, off=-1) + EXIT, errno.EINVAL, "unreachable insn 1"),
    Fact(
        "sf_const_address_read",
        SF,
        lambda t: mov(1, 0x1000) + insn(0x79, 0, 1, 0) + EXIT,
        errno.EACCES,
        "R1 invalid mem access 'scalar'",
    ),
    Fact(
        "sf_const_address_write",
        SF,
        lambda t: insn(0x18, 2, 0, 0, 0x1000) + insn(0) + insn(0x7A, 2, 0, 0, 0x41) + mov(0, 0) + EXIT,
        errno.EACCES,
        "R2 invalid mem access 'scalar'",
    ),
    Fact(
        "sf_trace_printk_not_gpl",
        SF,
        lambda t: call(6) + mov(0, 0) + EXIT,
        errno.EINVAL,
        "cannot call GPL-restricted function from non-GPL compatible program",
        license="Proprietary",
    ),
    Fact("sf_pid_tgid_not_gpl", SF, lambda t: call(14) + EXIT, 0, license="Proprietary"),
    Fact("sf_r0_uninit", SF, lambda t: EXIT, errno.EACCES, "R0 !read_ok"),
    Fact("sf_return_ctx", SF, lambda t: insn(0xBF, 0, 1) + EXIT, 0),
    Fact("sf_read_len", SF, _ld(4, 0), 0),
    Fact("sf_narrow_read", SF, _ld(1, 0), 0),
    Fact("sf_read_len_u64", SF, _ld(8, 0), errno.EACCES, "invalid bpf_context access off=0 size=8"),
    Fact("sf_write_cb", SF, lambda t: insn(0x62, 1, 0, t.offset("__sk_buff", "cb"), 1) + mov(0, 0) + EXIT, 0),
    Fact("sf_write_mark", SF, _skb_st("mark"), errno.EACCES, "invalid bpf_context access off=8 size=4"),
    Fact("sf_read_past_end", SF, _ld(4, 200), errno.EACCES, "invalid bpf_context access off=200 size=4"),
    Fact("sf_pid_tgid", SF, lambda t: call(14) + EXIT, 0),
    Fact("sf_setsockopt", SF, lambda t: call(49) + EXIT, errno.EINVAL, "cannot use helper bpf_setsockopt#49"),
    Fact("cls_write_mark", CLS, _skb_st("mark"), 0),
    Fact("cls_write_pkt_type", CLS, _skb_st("pkt_type"), errno.EACCES, "invalid bpf_context access off=4 size=4"),
    Fact("xdp_read_ifindex", XDP, _ld(4, 12), 0),
    Fact("xdp_narrow_read", XDP, _ld(1, 12), errno.EACCES, "invalid bpf_context access off=12 size=1"),
    Fact("tp_read_header", TP, _ld(4, 0), errno.EACCES, "invalid bpf_context access off=0 size=4"),
    Fact("tp_read_field", TP, _ld(8, 8), 0),
    Fact("tp_write", TP, _st(4, 8), errno.EACCES, "invalid bpf_context access off=8 size=4"),
    Fact("invalid_prog_type", 99, lambda t: mov(0, 0) + EXIT, errno.EINVAL),
    # a type Linux has and the embedded kernel does not implement: EINVAL as a kernel without it
    Fact("embedded_kprobe_unsupported", 2, lambda t: mov(0, 0) + EXIT, errno.EINVAL, embedded_only=True),
)


def run_fact(k: Kernel, spec: btf.Spec, fact: Fact) -> tuple[int, str, int]:
    """Load ``fact``'s program on ``k`` (BTF ``spec``); (errno or 0, log text, prog fd or -1)."""
    t = Target(spec)
    idx = attach = 0
    if fact.st_ops is not None:
        ops, member = fact.st_ops
        idx, attach = t.member_index(ops, member), t.type_id(ops)
    log = bytearray(1 << 16)
    code = fact.code(t)
    attr = ProgLoadAttr(
        fact.prog_type,
        code,
        license=fact.license,
        expected_attach_type=idx,
        attach_btf_id=attach,
        log_buf=log,
        log_level=1,
    )
    try:
        fd = k.bpf(Cmd.BPF_PROG_LOAD, attr)
    except BpfError as exc:
        return exc.errno or 0, bytes(log).split(b"\0", 1)[0].decode(errors="replace"), -1
    return 0, bytes(log).split(b"\0", 1)[0].decode(errors="replace"), fd


def expected_log(fact: Fact, spec: btf.Spec) -> str:
    """The log phrase of ``fact`` against ``spec``."""
    return fact.log(Target(spec)) if callable(fact.log) else fact.log
