"""structops.testing: one tcp_congestion_ops member at a time, dummy ops through test_run."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from structops.kernel.emulated import EmulatedKernel
from structops.testing import DummyState, load_cc, load_struct_ops
from structops.testing.plugin import leaked_objects

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"
RENO = TESTDATA / "reno.bpf.o"
DUMMY = TESTDATA / "dummy_ops.bpf.o"


def test_members_are_what_the_object_implements(load_bpf_cc: Callable[..., object]) -> None:
    cc = load_bpf_cc(RENO)
    assert cc.name == "so_reno"  # type: ignore[attr-defined]
    assert sorted(cc.members()) == ["cong_avoid", "init", "release", "ssthresh", "undo_cwnd"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=r"does not implement tcp_congestion_ops\.cong_control"):
        cc.cong_control  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError):
        cc.not_a_member  # type: ignore[attr-defined]  # noqa: B018


def test_slow_start_and_congestion_avoidance_through_the_kfuncs(bpf_kernel: EmulatedKernel) -> None:
    """Reno's cong_avoid (tcp_reno_cong_avoid kfunc): +acked below ssthresh, +1 per cwnd above."""
    with load_cc(RENO, kernel=bpf_kernel) as cc:
        sk = cc.socket(snd_cwnd=10, snd_ssthresh=100, is_cwnd_limited=1)
        assert cc.cong_avoid(sk, 1, 3) is None  # void member
        assert sk.snd_cwnd == 13
        # not cwnd-limited: tcp_is_cwnd_limited() says no growth
        sk.is_cwnd_limited = 0
        cc.cong_avoid(sk, 1, 3)
        assert sk.snd_cwnd == 13
        # congestion avoidance: snd_cwnd_cnt accumulates, cwnd grows after cwnd acks
        sk.is_cwnd_limited = 1
        sk.snd_ssthresh = 5
        for _ in range(12):
            cc.cong_avoid(sk, 1, 1)
        assert (sk.snd_cwnd, sk.snd_cwnd_cnt) == (13, 12)
        cc.cong_avoid(sk, 1, 1)
        assert (sk.snd_cwnd, sk.snd_cwnd_cnt) == (14, 0)
        assert cc.globals["n_cong_avoid"] == 15


def test_ssthresh_and_undo_return_values(bpf_kernel: EmulatedKernel) -> None:
    with load_cc(RENO, kernel=bpf_kernel) as cc:
        sk = cc.socket(snd_cwnd=40)
        assert cc.ssthresh(sk) == 20
        sk.snd_cwnd = 3
        assert cc.ssthresh(sk) == 2  # max(cwnd >> 1, 2)
        sk.snd_cwnd, sk.prior_cwnd = 5, 30
        assert cc.undo_cwnd(sk) == 30  # max(cwnd, prior_cwnd)
        assert cc.globals["n_ssthresh"] == 2 and cc.globals["n_undo"] == 1


def test_socket_fields_reach_kernel_memory_and_come_back(bpf_kernel: EmulatedKernel) -> None:
    with load_cc(RENO, kernel=bpf_kernel) as cc:
        sk = cc.socket(snd_cwnd=7, snd_ssthresh=100, is_cwnd_limited=1)
        cc.cong_avoid(sk, 1, 2)
        # what the program wrote is in kernel memory and in the attribute
        assert sk.kernel.snd_cwnd == 9 == sk.snd_cwnd
        with pytest.raises(AttributeError, match="no field 'snd_cwndd'"):
            sk.snd_cwndd = 1


def test_socket_holds_a_map_reference_and_release_runs_on_close(bpf_kernel: EmulatedKernel) -> None:
    with load_cc(RENO, kernel=bpf_kernel) as cc:
        st_map = bpf_kernel.root.get_map(cc.map.fd)[0]
        before = st_map.refcnt
        sk = cc.socket()
        assert cc.entry.sockets == 1
        assert st_map.refcnt == before + 1  # F2: a socket using the CC holds the map
        cc.init(sk)
        assert cc.globals["n_init"] == 1
        sk.close()
        assert cc.entry.sockets == 0
        assert cc.globals["n_release"] == 1
        assert st_map.refcnt == before


def test_globals_by_name_typed_and_writable(bpf_kernel: EmulatedKernel) -> None:
    with load_cc(TESTDATA / "sockopt_cc.bpf.o", map_name="so_sockopt", kernel=bpf_kernel) as cc:
        assert cc.globals["clamp"] == 20
        assert cc.globals["switch_to"] == b"so_sockopt"
        cc.globals["clamp"] = 33
        assert cc.globals["clamp"] == 33
        with pytest.raises(KeyError, match=r"has: .*clamp"):
            cc.globals["nope"]
        with pytest.raises(ValueError, match="does not fit"):
            cc.globals["clamp"] = 1 << 40


def test_map_name_is_required_when_ambiguous(bpf_kernel: EmulatedKernel) -> None:
    with pytest.raises(OSError, match="so_sockopt, so_sw"):
        load_cc(TESTDATA / "sockopt_cc.bpf.o", kernel=bpf_kernel)
    bpf_kernel.rcu.synchronize()
    assert leaked_objects(bpf_kernel) == {}  # the failed load closed what it opened


def test_pkts_acked_takes_a_dict(bpf_kernel: EmulatedKernel) -> None:
    """A member with a struct argument accepts a dict of the struct's fields."""
    with load_cc(TESTDATA / "cubic_like.bpf.o", kernel=bpf_kernel) as cc:
        if "pkts_acked" not in cc.members():
            pytest.skip("cubic_like has no pkts_acked")
        sk = cc.socket()
        cc.init(sk)
        assert cc.pkts_acked(sk, {"pkts_acked": 1, "rtt_us": 1000, "in_flight": 5}) is None
        with pytest.raises(TypeError, match="no field 'bogus'"):
            cc.pkts_acked(sk, {"bogus": 1})


def test_dummy_ops_through_test_run(load_bpf_struct_ops: Callable[..., object]) -> None:
    """DM7: the state is copied in and out; NULL state is allowed for test_1 (nullable)."""
    ops = load_bpf_struct_ops(DUMMY)
    state = DummyState(7)
    assert ops.test_1(state) == 7  # type: ignore[attr-defined]
    assert state.val == 0x5A
    assert ops.test_1(None) == struct.unpack("<i", struct.pack("<I", 0xF2F3F4F5))[0]  # type: ignore[attr-defined]
    assert ops.test_2(state, 1, 2, 3, 4) == 10  # type: ignore[attr-defined]
    assert state.val == 10
    with pytest.raises(AttributeError, match="does not implement"):
        ops.test_3  # type: ignore[attr-defined]  # noqa: B018


def test_dummy_test_run_reuses_its_state_and_members_are_built_once(bpf_kernel: EmulatedKernel) -> None:
    """DM7.5/DM7.8 on every run, with one kernel state allocation kept between runs (issue 17);
    a member's callable is made on first access and kept."""
    with load_struct_ops(DUMMY, kernel=bpf_kernel) as ops:

        def states() -> int:
            return sum(1 for a in bpf_kernel.kmem.live() if a.name == "bpf_dummy_ops_state")

        for val in (7, 9, 11):
            state = DummyState(val)
            assert ops.test_1(state) == val  # type: ignore[attr-defined]
            assert state.val == 0x5A
            assert states() == 1
        assert ops.test_2(DummyState(0), 1, 2, 3, 4) == 10  # type: ignore[attr-defined]
        assert states() == 1
    with load_cc(RENO, kernel=bpf_kernel) as cc:
        assert cc.cong_avoid is cc.cong_avoid  # type: ignore[attr-defined]


def test_leak_check_sees_an_object_left_alive() -> None:
    k = EmulatedKernel()
    ops = load_struct_ops(DUMMY, kernel=k)
    assert leaked_objects(k)["prog"]
    ops.close()
    k.rcu.synchronize()
    assert leaked_objects(k) == {}


def test_load_cc_refuses_the_real_kernel() -> None:
    class Fake:
        name = "linux"

    with pytest.raises(TypeError, match="embedded kernel"):
        load_cc(RENO, kernel=Fake())  # type: ignore[arg-type]
