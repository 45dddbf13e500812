"""Unit tests of the example congestion control, one callback at a time.

Run with ``python -m pytest examples/cc``: the ``load_bpf_cc`` fixture comes from the
structops pytest plugin (installed with structops) and checks for leaks after each test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from structops.testing import CongestionControlUnderTest

OBJ = Path(__file__).with_name("mycc.bpf.o")

LoadCC = Callable[..., CongestionControlUnderTest]


def test_slow_start_adds_acked_segments_up_to_ssthresh(load_bpf_cc: LoadCC) -> None:
    cc = load_bpf_cc(OBJ)
    sk = cc.socket(snd_cwnd=10, snd_ssthresh=12, is_cwnd_limited=1)
    cc.cong_avoid(sk, 0, 1)
    assert sk.snd_cwnd == 11
    cc.cong_avoid(sk, 0, 5)
    assert sk.snd_cwnd == 12  # capped at ssthresh


def test_congestion_avoidance_adds_one_segment_per_window(load_bpf_cc: LoadCC) -> None:
    cc = load_bpf_cc(OBJ)
    sk = cc.socket(snd_cwnd=10, snd_ssthresh=5, is_cwnd_limited=1)
    for _ in range(9):
        cc.cong_avoid(sk, 0, 1)
    assert (sk.snd_cwnd, sk.snd_cwnd_cnt) == (10, 9)
    cc.cong_avoid(sk, 0, 1)
    assert (sk.snd_cwnd, sk.snd_cwnd_cnt) == (11, 0)


def test_no_growth_when_not_cwnd_limited(load_bpf_cc: LoadCC) -> None:
    cc = load_bpf_cc(OBJ)
    sk = cc.socket(snd_cwnd=10, snd_ssthresh=100, is_cwnd_limited=0)
    cc.cong_avoid(sk, 0, 3)
    assert sk.snd_cwnd == 10 and cc.globals["n_acked_calls"] == 0


def test_loss_multiplies_by_beta(load_bpf_cc: LoadCC) -> None:
    cc = load_bpf_cc(OBJ)
    sk = cc.socket(snd_cwnd=100)
    assert cc.ssthresh(sk) == 100 * 717 // 1024
    cc.globals["beta"] = 512  # a tunable, changed from the test
    assert cc.ssthresh(sk) == 50
    sk.snd_cwnd = 2
    assert cc.ssthresh(sk) == 2
    assert cc.globals["n_losses"] == 3


def test_max_cwnd_caps_growth(load_bpf_cc: LoadCC) -> None:
    cc = load_bpf_cc(OBJ)
    cc.globals["max_cwnd"] = 10
    sk = cc.socket(snd_cwnd=10, snd_ssthresh=5, is_cwnd_limited=1, snd_cwnd_cnt=9)
    cc.cong_avoid(sk, 0, 1)
    assert sk.snd_cwnd == 10


def test_undo_restores_the_larger_window(load_bpf_cc: LoadCC) -> None:
    cc = load_bpf_cc(OBJ)
    sk = cc.socket(snd_cwnd=7, prior_cwnd=20)
    assert cc.undo_cwnd(sk) == 20
