"""Reno and the congestion-control helpers of net/ipv4/tcp_cong.c as pure functions.

Each function takes the :class:`~structops.sim.sock.TcpSock` (``sk`` and ``tp`` are
the same object here) and follows the kernel's arithmetic, including u32
wrap-around.  The five marked *kfunc* are the ones the kernel exposes to
``BPF_PROG_TYPE_STRUCT_OPS`` programs (spec T2: ``tcp_reno_ssthresh``,
``tcp_reno_cong_avoid``, ``tcp_reno_undo_cwnd``, ``tcp_slow_start``,
``tcp_cong_avoid_ai``), so the emulated kernel can bind them directly.
Also here: ``tcp_is_cwnd_limited`` and friends from include/net/tcp.h, and the
windowed min filter of lib/win_minmax.c used for ``tp->rtt_min``.
"""

from __future__ import annotations

from structops.sim.consts import TCP_CA_CWR, U32, TCP_CA_Recovery
from structops.sim.sock import TcpSock


def tcp_snd_cwnd(tp: TcpSock) -> int:
    """``tcp_snd_cwnd()``: the congestion window in packets."""
    return tp.snd_cwnd


def tcp_snd_cwnd_set(tp: TcpSock, val: int) -> None:
    """``tcp_snd_cwnd_set()``: store ``val`` as the u32 congestion window."""
    tp.snd_cwnd = val & U32


def tcp_jiffies32(sk: TcpSock) -> int:
    """``tcp_jiffies32``: the low 32 bits of jiffies at the socket's (simulated) clock."""
    clock = sk.sim_clock
    ns = clock() if clock is not None else sk.tcp_clock_cache
    return (ns * sk.sim_hz // 1_000_000_000) & U32


def tcp_in_slow_start(tp: TcpSock) -> bool:
    """``tcp_in_slow_start()``: ``snd_cwnd < snd_ssthresh``."""
    return tp.snd_cwnd < tp.snd_ssthresh


def tcp_packets_in_flight(tp: TcpSock) -> int:
    """``tcp_packets_in_flight()``: packets_out - (sacked_out + lost_out) + retrans_out."""
    return (tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out) & U32


def tcp_is_cwnd_limited(sk: TcpSock) -> bool:
    """``tcp_is_cwnd_limited()``: was the last window limited by cwnd?

    In slow start the window may still grow up to twice what was in flight.
    """
    if sk.is_cwnd_limited:
        return True
    cwnd = sk.snd_cwnd
    if cwnd < sk.snd_ssthresh:  # tcp_in_slow_start
        return cwnd < 2 * sk.max_packets_out
    return False


def tcp_in_cwnd_reduction(sk: TcpSock) -> bool:
    """``tcp_in_cwnd_reduction()``: the socket is in CWR or Recovery."""
    return sk.icsk_ca_state in (TCP_CA_CWR, TCP_CA_Recovery)


def tcp_current_ssthresh(sk: TcpSock) -> int:
    """``tcp_current_ssthresh()``: ssthresh, or 3/4 cwnd if larger, outside reduction."""
    if tcp_in_cwnd_reduction(sk):
        return sk.snd_ssthresh
    cwnd = sk.snd_cwnd
    return max(sk.snd_ssthresh, (cwnd >> 1) + (cwnd >> 2))


def tcp_slow_start(tp: TcpSock, acked: int) -> int:
    """*kfunc* ``tcp_slow_start(tp, acked)``: grow cwnd by ``acked`` up to ssthresh.

    Returns the part of ``acked`` left over once cwnd reached ssthresh (u32).
    """
    acked &= U32
    cwnd = (tp.snd_cwnd + acked) & U32
    if tp.snd_ssthresh < cwnd:
        cwnd = tp.snd_ssthresh
    acked = (acked - ((cwnd - tp.snd_cwnd) & U32)) & U32
    clamp = tp.snd_cwnd_clamp
    tp.snd_cwnd = (cwnd if cwnd < clamp else clamp) & U32
    return acked


def tcp_cong_avoid_ai(tp: TcpSock, w: int, acked: int) -> None:
    """*kfunc* ``tcp_cong_avoid_ai(tp, w, acked)``: +1 cwnd per ``w`` packets acked.

    Raises :class:`ZeroDivisionError` for ``w == 0`` (the kernel would divide by zero).
    """
    w &= U32
    if tp.snd_cwnd_cnt >= w:
        tp.snd_cwnd_cnt = 0
        tp.snd_cwnd = (tp.snd_cwnd + 1) & U32
    tp.snd_cwnd_cnt = (tp.snd_cwnd_cnt + acked) & U32
    if tp.snd_cwnd_cnt >= w:
        if w == 0:
            raise ZeroDivisionError("tcp_cong_avoid_ai: w == 0 (a division by zero in the kernel)")
        delta = tp.snd_cwnd_cnt // w
        tp.snd_cwnd_cnt = (tp.snd_cwnd_cnt - delta * w) & U32
        tp.snd_cwnd = (tp.snd_cwnd + delta) & U32
    if tp.snd_cwnd_clamp < tp.snd_cwnd:
        tp.snd_cwnd = tp.snd_cwnd_clamp


def tcp_reno_cong_avoid(sk: TcpSock, ack: int, acked: int) -> None:
    """*kfunc* ``tcp_reno_cong_avoid``: slow start below ssthresh, then AIMD's +1/RTT.

    Does nothing unless :func:`tcp_is_cwnd_limited`.
    """
    left = cong_avoid_acked(sk, acked)
    if left is not None:
        tcp_cong_avoid_ai(sk, sk.snd_cwnd, left)


def cong_avoid_acked(sk: TcpSock, acked: int) -> int | None:
    """The opening of every Reno-style ``cong_avoid``: None when the flow is not
    cwnd-limited or slow start used up all ``acked``; else the acked count left for
    congestion avoidance (after :func:`tcp_slow_start` when in slow start)."""
    if not tcp_is_cwnd_limited(sk):
        return None
    if sk.snd_cwnd < sk.snd_ssthresh:  # tcp_in_slow_start
        acked = tcp_slow_start(sk, acked)
        if not acked:
            return None
    return acked


def tcp_reno_ssthresh(sk: TcpSock) -> int:
    """*kfunc* ``tcp_reno_ssthresh``: ``max(cwnd >> 1, 2)``."""
    return max(sk.snd_cwnd >> 1, 2)


def tcp_reno_undo_cwnd(sk: TcpSock) -> int:
    """*kfunc* ``tcp_reno_undo_cwnd``: ``max(cwnd, prior_cwnd)``."""
    return max(sk.snd_cwnd, sk.prior_cwnd)


KFUNCS = {
    "tcp_reno_ssthresh": tcp_reno_ssthresh,
    "tcp_reno_cong_avoid": tcp_reno_cong_avoid,
    "tcp_reno_undo_cwnd": tcp_reno_undo_cwnd,
    "tcp_slow_start": tcp_slow_start,
    "tcp_cong_avoid_ai": tcp_cong_avoid_ai,
}
"""The kfunc set registered for struct_ops programs (spec T2), by kernel name."""


# -- lib/win_minmax.c: windowed running min over (t, v) samples --------------------
def minmax_reset(m: list[int], t: int, meas: int) -> int:
    """``minmax_reset()``: forget all samples; ``m`` is ``[t0, v0, t1, v1, t2, v2]``."""
    m[0] = m[2] = m[4] = t & U32
    m[1] = m[3] = m[5] = meas & U32
    return m[1]


def minmax_running_min(m: list[int], win: int, t: int, meas: int) -> int:
    """``minmax_running_min()``: add sample ``(t, meas)`` and return the window's min."""
    t &= U32
    meas &= U32
    if meas <= m[1] or ((t - m[4]) & U32) > win:
        return minmax_reset(m, t, meas)
    if meas <= m[3]:
        m[2] = m[4] = t
        m[3] = m[5] = meas
    elif meas <= m[5]:
        m[4] = t
        m[5] = meas
    dt = (t - m[0]) & U32
    if dt > win:
        m[0], m[1], m[2], m[3], m[4], m[5] = m[2], m[3], m[4], m[5], t, meas
        if ((t - m[0]) & U32) > win:
            m[0], m[1], m[2], m[3], m[4], m[5] = m[2], m[3], m[4], m[5], t, meas
    elif m[2] == m[0] and dt > win // 4:
        m[2] = m[4] = t
        m[3] = m[5] = meas
    elif m[4] == m[2] and dt > win // 2:
        m[4] = t
        m[5] = meas
    return m[1]


def tcp_min_rtt(tp: TcpSock) -> int:
    """``tcp_min_rtt()``: the windowed minimum RTT in microseconds (``~0`` if none)."""
    return tp.rtt_min[1]


__all__ = [
    "KFUNCS",
    "cong_avoid_acked",
    "minmax_reset",
    "minmax_running_min",
    "tcp_cong_avoid_ai",
    "tcp_current_ssthresh",
    "tcp_in_cwnd_reduction",
    "tcp_in_slow_start",
    "tcp_is_cwnd_limited",
    "tcp_min_rtt",
    "tcp_packets_in_flight",
    "tcp_reno_cong_avoid",
    "tcp_reno_ssthresh",
    "tcp_reno_undo_cwnd",
    "tcp_slow_start",
    "tcp_snd_cwnd",
    "tcp_snd_cwnd_set",
]
