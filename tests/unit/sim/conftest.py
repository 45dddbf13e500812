"""Fixtures for the TCP simulator tests: recording congestion-control ops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from structops.sim import TcpCongestionOps, TcpSock, reno

Log = list[tuple[str, tuple[Any, ...], dict[str, int]]]


def recording_ops(
    name: str,
    log: Log,
    *,
    base: TcpCongestionOps | None = None,
    extra: tuple[str, ...] = ("set_state", "cwnd_event", "in_ack_event", "pkts_acked", "init", "release"),
    flags: int = 0,
    cong_control: Callable[..., None] | None = None,
) -> TcpCongestionOps:
    """Reno (or ``base``) whose ops append (op, args, socket snapshot) to ``log``."""
    base = base if base is not None else reno()

    def snap(sk: TcpSock) -> dict[str, int]:
        return {
            "role": 0 if sk.sim_role == "snd" else 1,
            "cwnd": sk.snd_cwnd,
            "ssthresh": sk.snd_ssthresh,
            "state": sk.icsk_ca_state,
            "prior_cwnd": sk.prior_cwnd,
            "t": sk.tcp_mstamp,
        }

    def wrap(op: str, default: Any = None) -> Callable[..., Any]:
        inner = getattr(base, op)

        def fn(sk: TcpSock, *args: Any) -> Any:
            log.append((op, args, snap(sk)))
            if inner is not None:
                return inner(sk, *args)
            return default

        return fn

    ops = TcpCongestionOps(
        name=name,
        flags=flags,
        ssthresh=wrap("ssthresh"),
        cong_avoid=wrap("cong_avoid") if cong_control is None else None,
        undo_cwnd=wrap("undo_cwnd"),
    )
    for op in extra:
        setattr(ops, op, wrap(op))
    if cong_control is not None:
        cc = cong_control

        def ctl(sk: TcpSock, ack: int, flag: int, rs: Any) -> None:
            log.append(("cong_control", (ack, flag, rs), snap(sk)))
            cc(sk, ack, flag, rs)

        ops.cong_control = ctl
    return ops


@pytest.fixture
def make_recording() -> Callable[..., TcpCongestionOps]:
    """The :func:`recording_ops` factory."""
    return recording_ops
