"""Reno and the kfunc helpers of tcp_cong.c, checked against the kernel's arithmetic (spec T2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from structops.sim import TcpSock, tcp_cong
from structops.sim.consts import TCP_CA_CWR, U32, TCP_CA_Open, TCP_CA_Recovery


def sock(cwnd: int, ssthresh: int = 0x7FFFFFFF, cnt: int = 0) -> TcpSock:
    sk = TcpSock()
    sk.snd_cwnd = cwnd
    sk.snd_ssthresh = ssthresh
    sk.snd_cwnd_cnt = cnt
    return sk


def test_kfunc_table_names_the_five_kernel_kfuncs() -> None:
    assert set(tcp_cong.KFUNCS) == {
        "tcp_reno_ssthresh",
        "tcp_reno_cong_avoid",
        "tcp_reno_undo_cwnd",
        "tcp_slow_start",
        "tcp_cong_avoid_ai",
    }


def test_slow_start_grows_by_acked_and_returns_leftover_at_ssthresh() -> None:
    sk = sock(10, ssthresh=14)
    assert tcp_cong.tcp_slow_start(sk, 3) == 0
    assert sk.snd_cwnd == 13
    # 13 + 5 would pass ssthresh 14: cwnd stops at 14, 4 acked packets are left over
    assert tcp_cong.tcp_slow_start(sk, 5) == 4
    assert sk.snd_cwnd == 14


def test_slow_start_respects_clamp() -> None:
    sk = sock(10)
    sk.snd_cwnd_clamp = 12
    tcp_cong.tcp_slow_start(sk, 10)
    assert sk.snd_cwnd == 12


def test_slow_start_outside_slow_start_wraps_like_u32() -> None:
    # cwnd above ssthresh: the kernel computes acked - (ssthresh - cwnd) in u32.
    sk = sock(20, ssthresh=10)
    left = tcp_cong.tcp_slow_start(sk, 1)
    assert left == (1 - ((10 - 20) & U32)) & U32 == 11
    assert sk.snd_cwnd == 10


def test_cong_avoid_ai_adds_one_per_w_acked() -> None:
    sk = sock(10)
    for _ in range(9):
        tcp_cong.tcp_cong_avoid_ai(sk, 10, 1)
    assert (sk.snd_cwnd, sk.snd_cwnd_cnt) == (10, 9)
    tcp_cong.tcp_cong_avoid_ai(sk, 10, 1)
    assert (sk.snd_cwnd, sk.snd_cwnd_cnt) == (11, 0)
    tcp_cong.tcp_cong_avoid_ai(sk, 11, 25)  # a stretch ACK of 25: +2, 3 left over
    assert (sk.snd_cwnd, sk.snd_cwnd_cnt) == (13, 3)


def test_cong_avoid_ai_applies_credit_accumulated_at_larger_w() -> None:
    sk = sock(10, cnt=12)
    tcp_cong.tcp_cong_avoid_ai(sk, 10, 0)
    assert (sk.snd_cwnd, sk.snd_cwnd_cnt) == (11, 0)


def test_cong_avoid_ai_zero_w_raises() -> None:
    with pytest.raises(ZeroDivisionError):
        tcp_cong.tcp_cong_avoid_ai(sock(10), 0, 1)


@given(st.integers(0, U32))
def test_reno_ssthresh_is_half_cwnd_at_least_two(cwnd: int) -> None:
    assert tcp_cong.tcp_reno_ssthresh(sock(cwnd)) == max(cwnd // 2, 2)


def test_reno_undo_cwnd_is_max_of_cwnd_and_prior() -> None:
    sk = sock(7)
    sk.prior_cwnd = 20
    assert tcp_cong.tcp_reno_undo_cwnd(sk) == 20
    sk.prior_cwnd = 3
    assert tcp_cong.tcp_reno_undo_cwnd(sk) == 7


def test_reno_cong_avoid_only_grows_when_cwnd_limited() -> None:
    sk = sock(10)
    sk.is_cwnd_limited = 0
    sk.max_packets_out = 5  # 10 >= 2 * 5: not limited even in slow start
    tcp_cong.tcp_reno_cong_avoid(sk, 0, 4)
    assert sk.snd_cwnd == 10
    sk.max_packets_out = 6  # slow start may still double what was in flight
    tcp_cong.tcp_reno_cong_avoid(sk, 0, 4)
    assert sk.snd_cwnd == 14


def test_reno_cong_avoid_spills_leftover_into_congestion_avoidance() -> None:
    sk = sock(9, ssthresh=10)
    sk.is_cwnd_limited = 1
    tcp_cong.tcp_reno_cong_avoid(sk, 0, 11)  # 1 for slow start, 10 in CA at w=10
    assert (sk.snd_cwnd, sk.snd_cwnd_cnt) == (11, 0)


def test_current_ssthresh_outside_and_inside_reduction() -> None:
    sk = sock(40, ssthresh=10)
    sk.icsk_ca_state = TCP_CA_Open
    assert tcp_cong.tcp_current_ssthresh(sk) == 30
    for state in (TCP_CA_CWR, TCP_CA_Recovery):
        sk.icsk_ca_state = state
        assert tcp_cong.tcp_current_ssthresh(sk) == 10


def test_packets_in_flight_formula() -> None:
    sk = sock(10)
    sk.packets_out, sk.sacked_out, sk.lost_out, sk.retrans_out = 20, 5, 3, 2
    assert tcp_cong.tcp_packets_in_flight(sk) == 14


def test_minmax_tracks_window_minimum() -> None:
    m = [0, U32, 0, U32, 0, U32]
    assert tcp_cong.minmax_running_min(m, 100, 0, 50) == 50
    assert tcp_cong.minmax_running_min(m, 100, 10, 60) == 50
    assert tcp_cong.minmax_running_min(m, 100, 20, 40) == 40
    # after the window passes without a new minimum, older samples expire
    assert tcp_cong.minmax_running_min(m, 100, 130, 70) == 70


@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=50))
def test_minmax_with_huge_window_is_running_min(samples: list[int]) -> None:
    m = [0, U32, 0, U32, 0, U32]
    for t, v in enumerate(samples):
        got = tcp_cong.minmax_running_min(m, 1 << 30, t, v)
        assert got == min(samples[: t + 1])
