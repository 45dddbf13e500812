"""A CUBIC congestion control (RFC 9438) for the simulator, state in ``icsk_ca_priv``.

Follows the structure of net/ipv4/tcp_cubic.c (beta 717/1024, C = 0.4 via
``bic_scale`` 41, fast convergence, TCP-friendly region, ``delay_min`` from
``pkts_acked``, epoch shift on ``CA_EVENT_TX_START``) without HyStart.  Times are
kept in microseconds rather than jiffies.  All per-socket state lives in the
socket's ``icsk_ca_priv`` bytes, packed as ten little-endian u32::

    cnt, last_max_cwnd, last_cwnd, last_time, origin_point, K, delay_min,
    epoch_start, ack_cnt, tcp_cwnd
"""

from __future__ import annotations

import math
import struct

from structops.sim.consts import CA_EVENT_TX_START, TCP_CONG_NON_RESTRICTED, U32, TCP_CA_Loss
from structops.sim.ops import TcpCongestionOps
from structops.sim.sock import AckSample, TcpSock
from structops.sim.tcp_cong import (
    tcp_cong_avoid_ai,
    tcp_in_slow_start,
    tcp_is_cwnd_limited,
    tcp_reno_undo_cwnd,
    tcp_slow_start,
)

_PRIV = struct.Struct("<10I")
BETA = 717  # / 1024
BETA_SCALE_1024 = 1024
BIC_SCALE = 41
BICTCP_HZ = 10  # time unit 2^-10 s
_CUBE_RTT_SCALE = BIC_SCALE * 10
_BETA_SCALE = 8 * (BETA_SCALE_1024 + BETA) // 3 // (BETA_SCALE_1024 - BETA)
_CUBE_FACTOR = (1 << (10 + 3 * BICTCP_HZ)) // _CUBE_RTT_SCALE
_UPDATE_GAP_US = 1_000_000 // 32


def _cbrt(a: int) -> int:
    """Integer cube root (floor)."""
    if a <= 0:
        return 0
    x = round(math.cbrt(a))
    while x * x * x > a:
        x -= 1
    while (x + 1) ** 3 <= a:
        x += 1
    return x


def _load(sk: TcpSock) -> list[int]:
    return list(_PRIV.unpack_from(sk.icsk_ca_priv, 0))


def _store(sk: TcpSock, v: list[int]) -> None:
    _PRIV.pack_into(sk.icsk_ca_priv, 0, *(x & U32 for x in v))


def _reset(sk: TcpSock) -> None:
    _store(sk, [0] * 10)


def cubic_init(sk: TcpSock) -> None:
    """``init``: zero the state."""
    _reset(sk)


def cubic_ssthresh(sk: TcpSock) -> int:
    """``ssthresh``: remember W_max (with fast convergence) and cut by beta."""
    ca = _load(sk)
    cwnd = sk.snd_cwnd
    ca[7] = 0  # epoch_start
    if cwnd < ca[1]:
        ca[1] = cwnd * (BETA_SCALE_1024 + BETA) // (2 * BETA_SCALE_1024)
    else:
        ca[1] = cwnd
    _store(sk, ca)
    return max(cwnd * BETA // BETA_SCALE_1024, 2)


def cubic_set_state(sk: TcpSock, new_state: int) -> None:
    """``set_state``: forget everything on entering Loss (RTO)."""
    if new_state == TCP_CA_Loss:
        _reset(sk)


def cubic_cwnd_event(sk: TcpSock, ev: int) -> None:
    """``cwnd_event``: on TX_START after idle, shift the epoch by the idle time."""
    if ev != CA_EVENT_TX_START:
        return
    ca = _load(sk)
    if not ca[7]:
        return
    now = sk.tcp_mstamp & U32
    idle = (now - ca[3]) & U32
    if 0 < idle < 0x80000000:
        start = (ca[7] + idle) & U32
        ca[7] = start if ((now - start) & U32) < 0x80000000 else now
        _store(sk, ca)


def cubic_pkts_acked(sk: TcpSock, sample: AckSample) -> None:
    """``pkts_acked``: track the minimum RTT (``delay_min``)."""
    if sample.rtt_us < 0:
        return
    ca = _load(sk)
    now = sk.tcp_mstamp & U32
    if ca[7] and ((now - ca[7]) & U32) < 1_000_000:
        return
    delay = sample.rtt_us or 1
    if ca[6] == 0 or ca[6] > delay:
        ca[6] = delay
        _store(sk, ca)


def _update(sk: TcpSock, ca: list[int], cwnd: int, acked: int) -> None:
    now = sk.tcp_mstamp & U32
    ca[8] += acked
    if ca[2] == cwnd and ((now - ca[3]) & U32) <= _UPDATE_GAP_US:
        return
    ca[2] = cwnd
    ca[3] = now
    if ca[7] == 0:
        ca[7] = now or 1
        ca[8] = acked
        ca[9] = cwnd
        if ca[1] <= cwnd:
            ca[5] = 0
            ca[4] = cwnd
        else:
            ca[5] = _cbrt(_CUBE_FACTOR * (ca[1] - cwnd))
            ca[4] = ca[1]
    t_us = ((now - ca[7]) & U32) + ca[6]
    t = (t_us << BICTCP_HZ) // 1_000_000
    k = ca[5]
    offs = k - t if t < k else t - k
    delta = (_CUBE_RTT_SCALE * offs * offs * offs) >> (10 + 3 * BICTCP_HZ)
    target = ca[4] - delta if t < k else ca[4] + delta
    if target > cwnd:
        cnt = cwnd // (target - cwnd)
    else:
        cnt = 100 * cwnd
    if ca[1] == 0 and cnt > 20:
        cnt = 20
    # TCP-friendly region: estimate Reno's window and grow at least as fast.
    dl = (cwnd * _BETA_SCALE) >> 3
    if dl:
        while ca[8] > dl:
            ca[8] -= dl
            ca[9] += 1
    if ca[9] > cwnd:
        max_cnt = cwnd // (ca[9] - cwnd)
        cnt = min(cnt, max_cnt)
    ca[0] = max(cnt, 2)


def cubic_cong_avoid(sk: TcpSock, ack: int, acked: int) -> None:
    """``cong_avoid``: slow start, then grow along the cubic curve."""
    if not tcp_is_cwnd_limited(sk):
        return
    if tcp_in_slow_start(sk):
        acked = tcp_slow_start(sk, acked)
        if not acked:
            return
    ca = _load(sk)
    _update(sk, ca, sk.snd_cwnd, acked)
    _store(sk, ca)
    tcp_cong_avoid_ai(sk, ca[0], acked)


def cubic() -> TcpCongestionOps:
    """A fresh ``cubic`` ops table (name ``"cubic"``)."""
    return TcpCongestionOps(
        name="cubic",
        flags=TCP_CONG_NON_RESTRICTED,
        init=cubic_init,
        ssthresh=cubic_ssthresh,
        cong_avoid=cubic_cong_avoid,
        set_state=cubic_set_state,
        undo_cwnd=tcp_reno_undo_cwnd,
        cwnd_event=cubic_cwnd_event,
        pkts_acked=cubic_pkts_acked,
    )


__all__ = ["cubic"]
