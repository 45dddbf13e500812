"""DCTCP as Linux runs it (net/ipv4/tcp_dctcp.c, RFC 8257), state in ``icsk_ca_priv``.

Written here from the facts of the algorithm: ``alpha`` (0..1024, starts at 1024) is a
moving average with gain 1/16 (``dctcp_shift_g`` 4) of the CE-marked fraction of the
packets delivered in each observation window (one window = until ``snd_una`` passes the
``snd_nxt`` of the window start), updated from ``in_ack_event``; ``ssthresh`` cuts cwnd by
``alpha / 2`` (``cwnd - cwnd * alpha / 2048``, at least 2); a loss (entering Recovery or
an RTO) halves it like Reno and remembers the cwnd for ``undo_cwnd``; on the receiver the
``CA_EVENT_ECN_IS_CE`` / ``ECN_NO_CE`` events track the CE state, echo it with
``TCP_ECN_DEMAND_CWR`` and ACK at once when it changes (first ACKing, with the old state,
what a pending delayed ACK covered).  Growth is Reno's.

``icsk_ca_priv`` holds ``struct dctcp``'s first fields (u32 each)::

    old_delivered, old_delivered_ce, prior_rcv_nxt, dctcp_alpha, next_seq, ce_state,
    loss_cwnd

so the BPF example (testdata/dctcp.bpf.c) keeps the same bytes.
"""

from __future__ import annotations

import struct

from structops.sim.consts import (
    CA_EVENT_ECN_IS_CE,
    CA_EVENT_ECN_NO_CE,
    CA_EVENT_LOSS,
    ICSK_ACK_NOW,
    ICSK_ACK_TIMER,
    TCP_CONG_NEEDS_ECN,
    TCP_ECN_DEMAND_CWR,
    U32,
    TCP_CA_Recovery,
)
from structops.sim.ops import TcpCongestionOps
from structops.sim.sock import TcpSock
from structops.sim.tcp_cong import tcp_reno_cong_avoid

_PRIV = struct.Struct("<7I")
OLD_DELIVERED, OLD_DELIVERED_CE, PRIOR_RCV_NXT, ALPHA, NEXT_SEQ, CE_STATE, LOSS_CWND = range(7)
DCTCP_MAX_ALPHA = 1024
DCTCP_SHIFT_G = 4


def _load(sk: TcpSock) -> list[int]:
    return list(_PRIV.unpack_from(sk.icsk_ca_priv, 0))


def _store(sk: TcpSock, ca: list[int]) -> None:
    _PRIV.pack_into(sk.icsk_ca_priv, 0, *(x & U32 for x in ca))


def _reset(sk: TcpSock, ca: list[int]) -> None:
    ca[NEXT_SEQ] = sk.snd_nxt
    ca[OLD_DELIVERED] = sk.delivered
    ca[OLD_DELIVERED_CE] = sk.delivered_ce


def dctcp_init(sk: TcpSock) -> None:
    """``init``: alpha = 1024, start an observation window."""
    ca = [0] * 7
    ca[PRIOR_RCV_NXT] = sk.rcv_nxt
    ca[ALPHA] = DCTCP_MAX_ALPHA
    _reset(sk, ca)
    _store(sk, ca)


def dctcp_ssthresh(sk: TcpSock) -> int:
    """``ssthresh``: cut by alpha / 2."""
    ca = _load(sk)
    cwnd = sk.snd_cwnd
    ca[LOSS_CWND] = cwnd
    _store(sk, ca)
    return max(cwnd - ((cwnd * ca[ALPHA]) >> 11), 2)


def dctcp_in_ack_event(sk: TcpSock, flags: int) -> None:
    """``in_ack_event``: at the end of a window, fold its CE fraction into alpha."""
    ca = _load(sk)
    if ((sk.snd_una - ca[NEXT_SEQ]) & U32) >= 0x80000000:  # before(snd_una, next_seq)
        return
    delivered = (sk.delivered - ca[OLD_DELIVERED]) & U32
    delivered_ce = (sk.delivered_ce - ca[OLD_DELIVERED_CE]) & U32
    alpha = ca[ALPHA]
    dec = alpha >> DCTCP_SHIFT_G
    alpha -= dec if dec else alpha  # min_not_zero(alpha, alpha >> g)
    if delivered_ce:
        frac = (delivered_ce << (10 - DCTCP_SHIFT_G)) // max(1, delivered)
        alpha = min(alpha + frac, DCTCP_MAX_ALPHA)
    ca[ALPHA] = alpha
    _reset(sk, ca)
    _store(sk, ca)


def _react_to_loss(sk: TcpSock, ca: list[int]) -> None:
    ca[LOSS_CWND] = sk.snd_cwnd
    sk.snd_ssthresh = max(sk.snd_cwnd >> 1, 2)


def dctcp_set_state(sk: TcpSock, new_state: int) -> None:
    """``set_state``: entering Recovery halves ssthresh like Reno."""
    if new_state == TCP_CA_Recovery and new_state != sk.icsk_ca_state:
        ca = _load(sk)
        _react_to_loss(sk, ca)
        _store(sk, ca)


def _ece_ack_cwr(sk: TcpSock, ce_state: int) -> None:
    if ce_state:
        sk.ecn_flags |= TCP_ECN_DEMAND_CWR
    else:
        sk.ecn_flags &= ~TCP_ECN_DEMAND_CWR


def dctcp_cwnd_event(sk: TcpSock, ev: int) -> None:
    """``cwnd_event``: receiver CE tracking (immediate ACK on a change); RTO = loss."""
    ca = _load(sk)
    if ev in (CA_EVENT_ECN_IS_CE, CA_EVENT_ECN_NO_CE):
        new = 1 if ev == CA_EVENT_ECN_IS_CE else 0
        if ca[CE_STATE] != new:
            if sk.icsk_ack_pending & ICSK_ACK_TIMER:
                _ece_ack_cwr(sk, ca[CE_STATE])
                sk.tcp_send_ack()  # __tcp_send_ack(sk, prior_rcv_nxt)
            sk.icsk_ack_pending |= ICSK_ACK_NOW
        ca[PRIOR_RCV_NXT] = sk.rcv_nxt
        ca[CE_STATE] = new
        _ece_ack_cwr(sk, new)
    elif ev == CA_EVENT_LOSS:
        _react_to_loss(sk, ca)
    else:
        return
    _store(sk, ca)


def dctcp_undo_cwnd(sk: TcpSock) -> int:
    """``undo_cwnd``: back to the cwnd before the last reduction."""
    return max(sk.snd_cwnd, _load(sk)[LOSS_CWND])


def dctcp() -> TcpCongestionOps:
    """A fresh ``dctcp`` ops table (``TCP_CONG_NEEDS_ECN``)."""
    return TcpCongestionOps(
        name="dctcp",
        flags=TCP_CONG_NEEDS_ECN,
        init=dctcp_init,
        ssthresh=dctcp_ssthresh,
        cong_avoid=tcp_reno_cong_avoid,
        in_ack_event=dctcp_in_ack_event,
        set_state=dctcp_set_state,
        cwnd_event=dctcp_cwnd_event,
        undo_cwnd=dctcp_undo_cwnd,
    )


__all__ = ["dctcp"]
