"""RACK loss detection (Linux's default, tcp_recovery.c / RFC 8985) against RFC 6675.

A hole with fewer than ``reordering`` (3) segments delivered after it is found by
RACK's reordering timer (min_rtt/4 after the later segment's delivery); DupThresh
never fires, so without RACK only the RTO repairs it.  A lost retransmission is found
by time, again without an RTO.
"""

from __future__ import annotations

from structops.sim import LinkConfig, SimConfig, Simulator, TcpFlow

FAST = LinkConfig(bandwidth_bps=1_000_000_000, buffer_pkts=10_000)


def _run(rack: bool, drop_idx: int, times: int = 1, segments: int = 40) -> TcpFlow:
    sim = Simulator(SimConfig(link=FAST, rack=rack, sample_interval_us=0, start_jitter_us=0, proc_jitter_us=0))
    flow = sim.add_flow(base_rtt_us=20_000, size_bytes=segments * 1448)
    sim.drop_segment(flow, drop_idx, times)
    sim.run(5_000_000)
    return flow


def test_rack_repairs_a_hole_with_two_segments_after_it_without_rto() -> None:
    flow = _run(True, 37)
    assert flow.closed and flow.rto_count == 0 and flow.tp.total_retrans == 1


def test_dupthresh_needs_an_rto_for_the_same_hole() -> None:
    flow = _run(False, 37)
    assert flow.closed and flow.rto_count == 1


def test_rack_finds_a_lost_retransmission_by_time() -> None:
    flow = _run(True, 5, times=2, segments=400)
    assert flow.closed and flow.rto_count == 0
    assert flow.tp.total_retrans == 2  # the original and its first retransmission were lost
