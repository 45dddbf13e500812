"""TcpSock: kernel field names, bridge hooks around op calls, T8 truncation, pacing."""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

from structops.sim import LinkConfig, RateSample, SimConfig, Simulator, TcpCongestionOps, TcpSock, reno
from structops.sim.consts import SK_PACING_NEEDED, U32
from structops.sim.sock import WRITABLE_FIELDS

REQUIRED = [
    "snd_cwnd",
    "snd_cwnd_cnt",
    "snd_ssthresh",
    "snd_cwnd_clamp",
    "snd_cwnd_stamp",
    "prior_cwnd",
    "snd_una",
    "snd_nxt",
    "mss_cache",
    "srtt_us",
    "mdev_us",
    "packets_out",
    "retrans_out",
    "sacked_out",
    "lost_out",
    "delivered",
    "delivered_ce",
    "lost",
    "app_limited",
    "ecn_flags",
    "tcp_mstamp",
    "is_cwnd_limited",
    "max_packets_out",
    "icsk_ca_state",
    "icsk_ca_priv",
    "sk_pacing_rate",
    "sk_pacing_status",
]


def test_socket_exposes_the_kernel_field_names() -> None:
    fields = TcpSock().fields()
    assert set(REQUIRED) <= set(fields)
    assert len(fields["icsk_ca_priv"]) == 104  # type: ignore[arg-type]
    assert set(WRITABLE_FIELDS) <= set(fields)
    assert not [n for n in fields if n.startswith(("sim_", "_"))]


class BridgedSock(TcpSock):
    """A stand-in for the kernel bridge: counts the sync calls around each op."""

    __slots__ = ()
    NEEDS_SYNC: ClassVar[bool] = True
    events: ClassVar[list[str]] = []

    def sync_to_kernel(self) -> None:
        self.events.append("to")

    def sync_from_kernel(self) -> None:
        self.events.append("from")


def test_bridge_hooks_wrap_every_op_call() -> None:
    BridgedSock.events = []
    base = reno()

    def cong_avoid(sk: TcpSock, ack: int, acked: int) -> None:
        BridgedSock.events.append("op")
        base.cong_avoid(sk, ack, acked)  # type: ignore[misc]

    ops = TcpCongestionOps("br", ssthresh=base.ssthresh, cong_avoid=cong_avoid, undo_cwnd=base.undo_cwnd)
    fast = LinkConfig(bandwidth_bps=1_000_000_000, buffer_pkts=10_000)  # no loss: only cong_avoid runs
    sim = Simulator(SimConfig(link=fast, sample_interval_us=0), sock_factory=BridgedSock)
    sim.register_cc(ops)
    flow = sim.add_flow(cc="br")
    sim.run(200_000)
    assert isinstance(flow.tp, BridgedSock)
    ev = BridgedSock.events
    assert ev.count("op") > 10
    assert ev[:3] == ["to", "op", "from"]
    assert ev == ["to", "op", "from"] * ev.count("op")


def test_writable_fields_are_truncated_after_an_op() -> None:
    base = reno()

    def init(sk: TcpSock) -> None:
        sk.snd_cwnd = (1 << 32) + 20  # u32 wrap: 20
        sk.ecn_flags = 0x1F1  # u8
        sk.snd_cwnd_cnt = -1  # u32: 0xffffffff

    ops = TcpCongestionOps(
        "wrap", ssthresh=base.ssthresh, cong_avoid=base.cong_avoid, undo_cwnd=base.undo_cwnd, init=init
    )
    sim = Simulator(SimConfig(sample_interval_us=0, start_jitter_us=0, proc_jitter_us=0))
    sim.register_cc(ops)
    flow = sim.add_flow(cc="wrap")
    sim.run(0)
    assert flow.tp.snd_cwnd == 20
    assert flow.tp.ecn_flags == 0xF1
    assert flow.tp.snd_cwnd_cnt == U32


def test_internal_pacing_spaces_packets_at_the_cc_rate() -> None:
    """sk_pacing_status=NEEDED: TCP paces at sk_pacing_rate (tcp_update_skb_after_send)."""
    base = reno()
    rate = 1_448_000  # bytes/s: one 1448-byte segment per ms

    def init(sk: TcpSock) -> None:
        sk.sk_pacing_status = SK_PACING_NEEDED
        sk.sk_pacing_rate = rate
        sk.snd_cwnd = 1000

    def ctl(sk: TcpSock, ack: int, flag: int, rs: RateSample) -> None:
        sk.sk_pacing_rate = rate

    ops = TcpCongestionOps("paced", ssthresh=base.ssthresh, cong_control=ctl, undo_cwnd=base.undo_cwnd, init=init)
    sim = Simulator(
        SimConfig(
            link=LinkConfig(bandwidth_bps=1_000_000_000, buffer_pkts=10_000),
            sample_interval_us=0,
            start_jitter_us=0,
            proc_jitter_us=0,
        )
    )
    sim.register_cc(ops)
    sim.add_flow(base_rtt_us=10_000, cc="paced")
    sent: list[int] = []
    orig = sim.transmit

    def spy(f: Any, idx: int, tsval: int, cwr: int, ect: int) -> None:
        sent.append(tsval)
        orig(f, idx, tsval, cwr, ect)

    sim.transmit = spy  # type: ignore[method-assign]
    sim.run(100_000)
    assert sent[:10] == [0] * 10  # the first 10 segments are not paced
    gaps = [b - a for a, b in itertools.pairwise(sent[10:61])]
    assert all(990 <= g <= 1010 for g in gaps), gaps
    assert 95 <= len(sent) <= 110  # ~1 segment per ms for 100 ms
