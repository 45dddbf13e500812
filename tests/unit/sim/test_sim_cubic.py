"""Native CUBIC as Linux runs it: fixed-point constants, cube root, HyStart, fast
convergence, TCP-friendly region (issue 15, item 3; net/ipv4/tcp_cubic.c facts)."""

from __future__ import annotations

import itertools
import struct
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from structops.sim import LinkConfig, SimConfig, Simulator, TcpSock, cubic
from structops.sim.consts import TCP_INFINITE_SSTHRESH

C = sys.modules["structops.sim.cubic"]


def _sim(buffer_pkts: int = 33, **kw: int) -> Simulator:
    sim = Simulator(SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=buffer_pkts), **kw))
    sim.register_cc(cubic())
    return sim


def test_kernel_fixed_point_constants() -> None:
    assert C.BETA == 717 and C.BICTCP_BETA_SCALE == 1024
    assert C.CUBE_RTT_SCALE == 410  # bic_scale 41 * 10: C = 0.4
    assert C.BETA_SCALE == 15  # 8 * (1024 + 717) / 3 / (1024 - 717)
    assert C.CUBE_FACTOR == (1 << 40) // 410


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1 << 24, max_value=(1 << 63) - 1))
def test_cube_root_close_to_exact(a: int) -> None:
    x = C.cubic_root(a)
    exact = round(a ** (1 / 3))
    assert abs(x - exact) <= max(1, exact // 200)


def test_cube_root_small_values() -> None:
    assert [C.cubic_root(a) for a in (0, 1, 7, 8, 26, 27, 63)] == [0, 1, 2, 2, 3, 3, 4]


def test_hystart_leaves_slow_start_like_linux() -> None:
    """Linux on this path leaves slow start at ~60 ms with cwnd ~38 (issue 15)."""
    sim = _sim(sample_interval_us=10_000, start_jitter_us=0, proc_jitter_us=0)
    flow = sim.add_flow(base_rtt_us=20_000, cc="cubic")
    sim.run(70_000)
    assert flow.tp.snd_ssthresh != TCP_INFINITE_SSTHRESH  # HyStart set ssthresh = cwnd
    assert 30 <= flow.tp.snd_ssthresh <= 45
    assert flow.drops == 0 and flow.tp.total_retrans == 0  # before any loss
    found = struct.unpack_from("<B", flow.tp.icsk_ca_priv, 43)[0]
    assert found == 1


def test_fast_convergence_and_beta() -> None:
    sk = TcpSock()
    C.cubic_init(sk)
    sk.snd_cwnd = 100
    assert C.cubic_ssthresh(sk) == 100 * 717 // 1024
    assert C._load(sk)[C.LAST_MAX] == 100
    sk.snd_cwnd = 80  # a loss below the previous W_max: release bandwidth faster
    C.cubic_ssthresh(sk)
    assert C._load(sk)[C.LAST_MAX] == 80 * (1024 + 717) // 2048
    sk.snd_cwnd = 2
    assert C.cubic_ssthresh(sk) == 2


def test_curve_reaches_w_max_after_k() -> None:
    """After a cut from W_max, cnt is large near the plateau and small far from it."""
    sk = TcpSock()
    now = [0]
    sk.sim_clock = lambda: now[0]
    C.cubic_init(sk)
    ca = C._load(sk)
    ca[C.LAST_MAX] = 100
    ca[C.DELAY_MIN] = 20_000
    C._update(sk, ca, 70, 1)
    k = ca[C.K]
    assert k == C.cubic_root(C.CUBE_FACTOR * 30)
    assert abs(k / 1024 - (30 / 0.4) ** (1 / 3)) < 0.01  # K = cbrt(dW / C) seconds
    cnt_start = ca[C.CNT]
    now[0] = int((k / 1024) * 1e9) - 20_000_000  # t + delay_min = K: on the plateau
    C._update(sk, ca, 99, 1)
    assert ca[C.CNT] > cnt_start


def test_tcp_friendly_region_caps_cnt() -> None:
    """With a tiny W_max gap the cubic curve is flat; the Reno estimate keeps growing."""
    sk = TcpSock()
    now = [0]
    sk.sim_clock = lambda: now[0]
    C.cubic_init(sk)
    ca = C._load(sk)
    ca[C.LAST_MAX] = 10
    C._update(sk, ca, 10, 1)
    for i in range(1, 200):
        now[0] = i * 5_000_000
        C._update(sk, ca, 10, 10)
    assert ca[C.TCP_CWND] > 10
    assert ca[C.CNT] <= 10 // (ca[C.TCP_CWND] - 10) or ca[C.CNT] == 2


def test_cubic_sawtooth_period_matches_linux() -> None:
    """Native CUBIC period on 20 Mbit/s, 20 ms, 1 BDP: Linux measured ~1430 ms."""
    sim = _sim(sample_interval_us=10_000)
    flow = sim.add_flow(base_rtt_us=20_000, cc="cubic")
    sim.run(10_000_000)
    starts = [r[0] for a, r in zip(flow.trace, flow.trace[1:], strict=False) if r[6] == 3 and a[6] != 3]
    periods = [b - a for a, b in itertools.pairwise(starts[1:])]
    assert periods
    mean = sum(periods) / len(periods)
    assert 1_200_000 <= mean <= 1_650_000
