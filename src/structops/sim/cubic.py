"""CUBIC as Linux 6.18 runs it (net/ipv4/tcp_cubic.c), state in ``icsk_ca_priv``.

Written here from the facts of the algorithm (RFC 9438 and the kernel's parameters):

* window growth ``W(t) = C (t - K)^3 + W_max`` in the kernel's fixed point: time in
  ``tcp_jiffies32`` shifted to units of 2^-10 s (``BICTCP_HZ`` 10), ``C`` as
  ``bic_scale`` 41 -> ``cube_rtt_scale`` 410 (41 * 10 / 1024 = 0.4), ``K`` from an
  integer cube root of ``cube_factor * (W_max - cwnd)`` with
  ``cube_factor = 2^40 / 410``, the curve evaluated at ``t + delay_min``, ``cnt``
  recomputed at most once per jiffy (and at least every ``HZ/32`` when cwnd is
  unchanged), capped to 20 (5 % a RTT) before the first loss and floored at 2;
* multiplicative decrease ``beta`` 717/1024 with fast convergence (a loss below the
  previous ``W_max`` remembers ``cwnd * (1024 + 717) / 2048``);
* the TCP-friendly region: a Reno estimate grown by one every
  ``cwnd * beta_scale / 8`` acked packets (``beta_scale`` = 15) caps ``cnt``;
* HyStart (``hystart_detect`` 3): per slow-start round (ends when ``snd_una`` passes
  the ``snd_nxt`` of the round start; rounds are tracked from the first ACK, as since
  the 2025 fix that stopped waiting for cwnd 16 to start them), from
  ``hystart_low_window`` 16 on, the ACK-train
  test (ACKs closer than 2 ms apart spanning more than ``delay_min / 2`` -- half because
  there is no pacing -- plus ``hystart_ack_delay``, 0 without GSO) and the
  delay-increase test (the minimum of the first 8 RTT samples of a round above
  ``delay_min + clamp(delay_min / 8, 4 ms, 16 ms)``) end slow start by setting
  ``ssthresh = cwnd``;
* ``delay_min`` from ``pkts_acked`` RTT samples, ignored for 1 s after an epoch
  starts; the epoch is shifted by the idle time on ``CA_EVENT_TX_START``; entering
  Loss zeroes the curve state, ``last_max_cwnd`` included (``bictcp_reset``), and
  starts a new HyStart round.

``icsk_ca_priv`` holds ``struct bictcp``'s fields in its order (u32 unless noted)::

    cnt, last_max_cwnd, last_cwnd, last_time, bic_origin_point, bic_K, delay_min,
    epoch_start, ack_cnt, tcp_cwnd, unused (u16), sample_cnt (u8), found (u8),
    round_start, end_seq, last_ack, curr_rtt

so the BPF example (testdata/cubic.bpf.c) and this implementation keep the same bytes.
"""

from __future__ import annotations

import struct

from structops.sim.consts import CA_EVENT_TX_START, SK_PACING_NONE, TCP_CONG_NON_RESTRICTED, U32, TCP_CA_Loss
from structops.sim.ops import TcpCongestionOps
from structops.sim.sock import AckSample, TcpSock
from structops.sim.tcp_cong import (
    cong_avoid_acked,
    tcp_cong_avoid_ai,
    tcp_in_slow_start,
    tcp_jiffies32,
    tcp_reno_undo_cwnd,
)

_PRIV = struct.Struct("<10IHBB4I")
CNT, LAST_MAX, LAST_CWND, LAST_TIME, ORIGIN, K, DELAY_MIN, EPOCH, ACK_CNT, TCP_CWND = range(10)
UNUSED, SAMPLE_CNT, FOUND, ROUND_START, END_SEQ, LAST_ACK, CURR_RTT = range(10, 17)

BICTCP_BETA_SCALE = 1024
BICTCP_HZ = 10
BETA = 717
BIC_SCALE = 41
FAST_CONVERGENCE = True
TCP_FRIENDLINESS = True
HYSTART = True
HYSTART_ACK_TRAIN = 0x1
HYSTART_DELAY = 0x2
HYSTART_DETECT = HYSTART_ACK_TRAIN | HYSTART_DELAY
HYSTART_LOW_WINDOW = 16
HYSTART_ACK_DELTA_US = 2000
HYSTART_MIN_SAMPLES = 8
HYSTART_DELAY_MIN_US = 4000
HYSTART_DELAY_MAX_US = 16000
CUBE_RTT_SCALE = BIC_SCALE * 10
BETA_SCALE = 8 * (BICTCP_BETA_SCALE + BETA) // 3 // (BICTCP_BETA_SCALE - BETA)
CUBE_FACTOR = (1 << (10 + 3 * BICTCP_HZ)) // CUBE_RTT_SCALE

#: Seeds of the cube root for the top 6 significant bits: round(64 * cbrt(i)).
_CBRT_SEED: tuple[int, ...] = tuple(round(64 * float(i) ** (1 / 3)) for i in range(64))


def _fls64(a: int) -> int:
    return a.bit_length()


def cubic_root(a: int) -> int:
    """The integer cube root CUBIC uses: a seed from the top bits, one Newton step.

    The same scheme as the kernel's ``cubic_root()`` (a 64-entry seed table indexed by
    the top 6 bits, then ``x = (2x + a / (x (x - 1))) * 341 / 1024``); the seed table
    here is ``round(64 * cbrt(i))``, so results stay within about 0.3 % of the true
    root and may differ from the kernel's in the last unit.
    """
    a &= (1 << 64) - 1
    b = _fls64(a)
    if b < 7:
        return (_CBRT_SEED[a] + 35) >> 6
    b = ((b * 84) >> 8) - 1
    shift = a >> (b * 3)
    x = (((_CBRT_SEED[shift] + 10) << b) & U32) >> 6
    if x < 2:
        x = 2
    x = (2 * x + a // (x * (x - 1))) & U32
    return (x * 341) >> 10


def _after(a: int, b: int) -> bool:
    """``after(a, b)`` on u32 sequence numbers."""
    return 0 < ((a - b) & U32) < 0x80000000


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x & 0x80000000 else x


def _load(sk: TcpSock) -> list[int]:
    return list(_PRIV.unpack_from(sk.icsk_ca_priv, 0))


def _store(sk: TcpSock, ca: list[int]) -> None:
    ca[UNUSED] &= 0xFFFF
    ca[SAMPLE_CNT] &= 0xFF
    ca[FOUND] &= 0xFF
    _PRIV.pack_into(sk.icsk_ca_priv, 0, *(x & U32 for x in ca))


def _reset(ca: list[int]) -> None:
    """``bictcp_reset``: zero the curve state (``last_max_cwnd`` included) and ``found``."""
    for i in range(UNUSED):
        ca[i] = 0
    ca[FOUND] = 0


def _hystart_reset(sk: TcpSock, ca: list[int]) -> None:
    """``bictcp_hystart_reset``: a new slow-start round starts now."""
    now = sk.tcp_mstamp & U32
    ca[ROUND_START] = now
    ca[LAST_ACK] = now
    ca[END_SEQ] = sk.snd_nxt & U32
    ca[CURR_RTT] = U32
    ca[SAMPLE_CNT] = 0


def cubic_init(sk: TcpSock) -> None:
    """``init``: reset the curve and start a HyStart round."""
    ca = [0] * 17
    _reset(ca)
    if HYSTART:
        _hystart_reset(sk, ca)
    _store(sk, ca)


def cubic_ssthresh(sk: TcpSock) -> int:
    """``ssthresh``: end the epoch, remember W_max (fast convergence), cut by beta."""
    ca = _load(sk)
    cwnd = sk.snd_cwnd
    ca[EPOCH] = 0
    if cwnd < ca[LAST_MAX] and FAST_CONVERGENCE:
        ca[LAST_MAX] = cwnd * (BICTCP_BETA_SCALE + BETA) // (2 * BICTCP_BETA_SCALE)
    else:
        ca[LAST_MAX] = cwnd
    _store(sk, ca)
    return max(cwnd * BETA // BICTCP_BETA_SCALE, 2)


def cubic_set_state(sk: TcpSock, new_state: int) -> None:
    """``set_state``: entering Loss (RTO) forgets the curve and restarts HyStart."""
    if new_state == TCP_CA_Loss:
        ca = _load(sk)
        _reset(ca)
        _hystart_reset(sk, ca)
        _store(sk, ca)


def cubic_cwnd_event(sk: TcpSock, ev: int) -> None:
    """``cwnd_event``: on TX_START after idle, shift the epoch by the idle time."""
    if ev != CA_EVENT_TX_START:
        return
    ca = _load(sk)
    now = tcp_jiffies32(sk)
    delta = _s32(now - sk.lsndtime)
    if ca[EPOCH] and delta > 0:
        ca[EPOCH] = (ca[EPOCH] + delta) & U32
        if _after(ca[EPOCH], now):
            ca[EPOCH] = now
        _store(sk, ca)


def _hystart_ack_delay(sk: TcpSock) -> int:
    """``hystart_ack_delay``: up to 1 ms for 4 GSO packets at the pacing rate; with
    MTU-sized segments (no GSO, ``sk_gso_max_size`` 0) it is 0."""
    return 0


def _hystart_update(sk: TcpSock, ca: list[int], delay: int) -> None:
    if _after(sk.snd_una, ca[END_SEQ]):
        _hystart_reset(sk, ca)
    if sk.snd_cwnd < HYSTART_LOW_WINDOW:
        return
    if HYSTART_DETECT & HYSTART_ACK_TRAIN:
        now = sk.tcp_mstamp & U32
        if _s32(now - ca[LAST_ACK]) <= HYSTART_ACK_DELTA_US:
            ca[LAST_ACK] = now
            threshold = ca[DELAY_MIN] + _hystart_ack_delay(sk)
            if sk.sk_pacing_status == SK_PACING_NONE:
                threshold >>= 1
            if _s32(now - ca[ROUND_START]) > threshold:
                ca[FOUND] = 1
                sk.snd_ssthresh = sk.snd_cwnd
    if HYSTART_DETECT & HYSTART_DELAY:
        if ca[CURR_RTT] > delay:
            ca[CURR_RTT] = delay
        if ca[SAMPLE_CNT] < HYSTART_MIN_SAMPLES:
            ca[SAMPLE_CNT] += 1
        else:
            thresh = min(max(ca[DELAY_MIN] >> 3, HYSTART_DELAY_MIN_US), HYSTART_DELAY_MAX_US)
            if ca[CURR_RTT] > ca[DELAY_MIN] + thresh:
                ca[FOUND] = 1
                sk.snd_ssthresh = sk.snd_cwnd


def cubic_pkts_acked(sk: TcpSock, sample: AckSample) -> None:
    """``pkts_acked``: track ``delay_min``; HyStart during slow start."""
    if sample.rtt_us < 0:
        return
    ca = _load(sk)
    hz = sk.sim_hz
    if ca[EPOCH] and _s32(tcp_jiffies32(sk) - ca[EPOCH]) < hz:
        return
    delay = sample.rtt_us or 1
    if ca[DELAY_MIN] == 0 or ca[DELAY_MIN] > delay:
        ca[DELAY_MIN] = delay
    if not ca[FOUND] and tcp_in_slow_start(sk) and HYSTART:
        _hystart_update(sk, ca, delay)
    _store(sk, ca)


def _update(sk: TcpSock, ca: list[int], cwnd: int, acked: int) -> None:
    """``bictcp_update``: the ACKs per +1 cwnd (``cnt``) on the cubic curve."""
    hz = sk.sim_hz
    now = tcp_jiffies32(sk)
    ca[ACK_CNT] = (ca[ACK_CNT] + acked) & U32
    if ca[LAST_CWND] == cwnd and _s32(now - ca[LAST_TIME]) <= hz // 32:
        return
    if not (ca[EPOCH] and now == ca[LAST_TIME]):
        ca[LAST_CWND] = cwnd
        ca[LAST_TIME] = now
        if ca[EPOCH] == 0:
            ca[EPOCH] = now
            ca[ACK_CNT] = acked
            ca[TCP_CWND] = cwnd
            if ca[LAST_MAX] <= cwnd:
                ca[K] = 0
                ca[ORIGIN] = cwnd
            else:
                ca[K] = cubic_root(CUBE_FACTOR * (ca[LAST_MAX] - cwnd))
                ca[ORIGIN] = ca[LAST_MAX]
        # usecs_to_jiffies rounds up
        t = _s32(now - ca[EPOCH]) + -(-ca[DELAY_MIN] * hz // 1_000_000)
        t = ((t & ((1 << 64) - 1)) << BICTCP_HZ) // hz
        k = ca[K]
        offs = k - t if t < k else t - k
        delta = ((CUBE_RTT_SCALE * offs * offs * offs) >> (10 + 3 * BICTCP_HZ)) & U32
        target = (ca[ORIGIN] - delta if t < k else ca[ORIGIN] + delta) & U32
        ca[CNT] = cwnd // (target - cwnd) if target > cwnd else (100 * cwnd) & U32
        if ca[LAST_MAX] == 0 and ca[CNT] > 20:
            ca[CNT] = 20
    if TCP_FRIENDLINESS:
        dl = (cwnd * BETA_SCALE) >> 3
        if dl and ca[ACK_CNT] > dl:  # subtract dl while ack_cnt > dl, in one step
            n = (ca[ACK_CNT] - 1) // dl
            ca[ACK_CNT] -= n * dl
            ca[TCP_CWND] += n
        if ca[TCP_CWND] > cwnd:
            max_cnt = cwnd // (ca[TCP_CWND] - cwnd)
            if ca[CNT] > max_cnt:
                ca[CNT] = max_cnt
    ca[CNT] = max(ca[CNT], 2)


def cubic_cong_avoid(sk: TcpSock, ack: int, acked: int) -> None:
    """``cong_avoid``: slow start, then grow along the cubic curve."""
    left = cong_avoid_acked(sk, acked)
    if left is None:
        return
    ca = _load(sk)
    _update(sk, ca, sk.snd_cwnd, left)
    _store(sk, ca)
    tcp_cong_avoid_ai(sk, ca[CNT], left)


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


__all__ = ["CUBE_FACTOR", "cubic", "cubic_root"]
