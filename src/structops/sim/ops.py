"""TcpCongestionOps (``struct tcp_congestion_ops``) and the registry of tcp_cong.c.

An ops object is a table of callables, one per member of the kernel struct, each
``None`` when absent, exactly like a C struct of function pointers::

    struct tcp_congestion_ops {
        u32  (*ssthresh)(struct sock *sk);
        void (*cong_avoid)(struct sock *sk, u32 ack, u32 acked);
        void (*set_state)(struct sock *sk, u8 new_state);
        void (*cwnd_event)(struct sock *sk, enum tcp_ca_event ev);
        void (*in_ack_event)(struct sock *sk, u32 flags);
        void (*pkts_acked)(struct sock *sk, const struct ack_sample *sample);
        u32  (*min_tso_segs)(struct sock *sk);
        void (*cong_control)(struct sock *sk, u32 ack, int flag, const struct rate_sample *rs);
        u32  (*undo_cwnd)(struct sock *sk);
        u32  (*sndbuf_expand)(struct sock *sk);
        size_t (*get_info)(...);            /* not modelled */
        char name[TCP_CA_NAME_MAX]; struct module *owner; struct list_head list;
        u32 key; u32 flags;
        void (*init)(struct sock *sk);
        void (*release)(struct sock *sk);
    };

Per-socket state belongs in ``sk.icsk_ca_priv`` (as in the kernel), so one ops
object serves every socket.  Ops compare by identity, like kernel pointers.

:class:`CongestionRegistry` mirrors ``tcp_cong_list``: register / unregister /
update (spec T4, T5, T6, T7), the per-netns default, and per-socket assignment
(``tcp_assign_congestion_control``, ``tcp_set_congestion_control``).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from structops.errors import bpf_error
from structops.sim.consts import TCP_CA_NAME_MAX, TCP_CA_PRIV_SIZE, TCP_CONG_NON_RESTRICTED
from structops.sim.sock import AckSample, RateSample, TcpSock
from structops.sim.tcp_cong import tcp_reno_cong_avoid, tcp_reno_ssthresh, tcp_reno_undo_cwnd

SockU32Fn = Callable[[TcpSock], int]
SockFn = Callable[[TcpSock], None]
SockArgFn = Callable[[TcpSock, int], None]
CongAvoidFn = Callable[[TcpSock, int, int], None]
PktsAckedFn = Callable[[TcpSock, AckSample], None]
CongControlFn = Callable[[TcpSock, int, int, RateSample], None]

OP_NAMES = (
    "ssthresh",
    "cong_avoid",
    "set_state",
    "cwnd_event",
    "in_ack_event",
    "pkts_acked",
    "min_tso_segs",
    "cong_control",
    "undo_cwnd",
    "sndbuf_expand",
    "init",
    "release",
)
"""The callable members of ``struct tcp_congestion_ops`` (6.18 order, without get_info)."""

_NAME_RE = re.compile(r"[A-Za-z0-9_.]+")


@dataclass(eq=False)
class TcpCongestionOps:
    """One ``struct tcp_congestion_ops``: a name, flags and optional callbacks."""

    name: str
    ssthresh: SockU32Fn | None = None
    cong_avoid: CongAvoidFn | None = None
    set_state: SockArgFn | None = None
    cwnd_event: SockArgFn | None = None
    in_ack_event: SockArgFn | None = None
    pkts_acked: PktsAckedFn | None = None
    min_tso_segs: SockU32Fn | None = None
    cong_control: CongControlFn | None = None
    undo_cwnd: SockU32Fn | None = None
    sndbuf_expand: SockU32Fn | None = None
    init: SockFn | None = None
    release: SockFn | None = None
    flags: int = 0
    owner: Any = None

    def present_ops(self) -> list[str]:
        """Names of the callbacks that are set."""
        return [op for op in OP_NAMES if getattr(self, op) is not None]

    def __repr__(self) -> str:
        return f"TcpCongestionOps({self.name!r}, flags={self.flags:#x}, ops={self.present_ops()})"


def tcp_validate_congestion_control(ca: TcpCongestionOps) -> None:
    """``tcp_validate_congestion_control()``: ssthresh, undo_cwnd and one of
    cong_avoid / cong_control are required, else EINVAL (spec T4)."""
    if ca.ssthresh is None or ca.undo_cwnd is None or (ca.cong_avoid is None and ca.cong_control is None):
        raise bpf_error(
            errno.EINVAL,
            f"{ca.name} does not implement required ops",
            op="tcp validate congestion control",
        )
    _check_name(ca.name)


def _check_name(name: str) -> None:
    raw = name.encode("utf-8", "surrogateescape")
    if not raw or len(raw) >= TCP_CA_NAME_MAX or not _NAME_RE.fullmatch(name):
        raise bpf_error(
            errno.EINVAL,
            f"invalid congestion control name {name!r} (1..15 chars of [A-Za-z0-9_.])",
            op="tcp register congestion control",
        )


def reno() -> TcpCongestionOps:
    """The kernel's built-in ``tcp_reno`` ops (net/ipv4/tcp_cong.c)."""
    return TcpCongestionOps(
        name="reno",
        flags=TCP_CONG_NON_RESTRICTED,
        ssthresh=tcp_reno_ssthresh,
        cong_avoid=tcp_reno_cong_avoid,
        undo_cwnd=tcp_reno_undo_cwnd,
    )


class CongestionRegistry:
    """``tcp_cong_list`` plus the default congestion control of one netns.

    Starts with ``reno`` registered and set as default (the kernel always has it).
    """

    def __init__(self, *, with_reno: bool = True) -> None:
        self._list: list[TcpCongestionOps] = []
        self._default: TcpCongestionOps | None = None
        if with_reno:
            ops = reno()
            self.register(ops)
            self._default = ops

    # -- tcp_cong_list -------------------------------------------------------------
    def register(self, ca: TcpCongestionOps) -> None:
        """``tcp_register_congestion_control()`` (T5): validate, EEXIST on a dup name."""
        tcp_validate_congestion_control(ca)
        if self.find(ca.name) is not None or any(ca is e for e in self._list):
            raise bpf_error(
                errno.EEXIST,
                f"{ca.name} already registered or non-unique key",
                op="tcp register congestion control",
            )
        self._list.append(ca)

    def unregister(self, ca: TcpCongestionOps) -> None:
        """``tcp_unregister_congestion_control()`` (T6); sockets using it keep it."""
        for i, e in enumerate(self._list):
            if e is ca:
                del self._list[i]
                return
        raise bpf_error(errno.ENOENT, f"{ca.name} is not registered", op="tcp unregister congestion control")

    def update(self, ca: TcpCongestionOps, old_ca: TcpCongestionOps) -> None:
        """``tcp_update_congestion_control()`` (T7, BPF_LINK_UPDATE): swap ``old_ca``
        for ``ca`` under the same name; EINVAL if the names differ or ``old_ca`` is
        not the registered one.  Sockets already using ``old_ca`` keep it, and so
        does the default if it pointed at ``old_ca`` (the kernel holds a pointer)."""
        tcp_validate_congestion_control(ca)
        existing = self.find(old_ca.name)
        if existing is None or existing.name != ca.name:
            raise bpf_error(
                errno.EINVAL, f"{ca.name} not registered or non-unique key", op="tcp update congestion control"
            )
        if existing is not old_ca:
            raise bpf_error(
                errno.EINVAL,
                "invalid old congestion control algorithm to replace",
                op="tcp update congestion control",
            )
        self._list.append(ca)
        self._list.remove(old_ca)

    def find(self, name: str) -> TcpCongestionOps | None:
        """``tcp_ca_find()``: the registered ops called ``name``, or None."""
        for e in self._list:
            if e.name == name:
                return e
        return None

    def available(self) -> list[str]:
        """``tcp_available_congestion_control`` in list order."""
        return [e.name for e in self._list]

    # -- default -------------------------------------------------------------------
    def set_default(self, name: str) -> TcpCongestionOps:
        """``tcp_set_default_congestion_control()``: ENOENT if ``name`` is unknown."""
        ca = self.find(name)
        if ca is None:
            raise bpf_error(errno.ENOENT, f"no congestion control named {name!r}", op="set default cc")
        ca.flags |= TCP_CONG_NON_RESTRICTED
        self._default = ca
        return ca

    @property
    def default(self) -> TcpCongestionOps:
        """The default ops new sockets get (``net->ipv4.tcp_congestion_control``)."""
        if self._default is None:
            raise bpf_error(errno.ENOENT, "no default congestion control", op="assign cc")
        return self._default

    # -- per socket ----------------------------------------------------------------
    def assign(self, sk: TcpSock) -> TcpCongestionOps:
        """``tcp_assign_congestion_control()``: give ``sk`` the default, zero its priv."""
        ca = self.default
        sk.icsk_ca_ops = ca
        sk.icsk_ca_priv[:] = bytes(TCP_CA_PRIV_SIZE)
        return ca


__all__ = [
    "OP_NAMES",
    "CongestionRegistry",
    "TcpCongestionOps",
    "reno",
    "tcp_validate_congestion_control",
]
