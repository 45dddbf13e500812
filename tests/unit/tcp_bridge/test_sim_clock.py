"""One simulated clock: BPF time helpers and TCP timestamps follow the simulator (issue 15).

Through the bridge the VM's ``clock_ns`` is the simulator's, the simulator's ``HZ`` is
the kernel's ``CONFIG_HZ``, and nothing read during a run comes from the host clock.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.tcp_bridge import kernel_simulator
from structops.sim import LinkConfig, SimConfig
from structops.sim.tcp_cong import tcp_jiffies32

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


def _host_clock_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> float:
        raise AssertionError("a simulated run read the host clock")

    for name in ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns"):
        monkeypatch.setattr(time, name, boom)


def test_vm_clock_is_the_simulator_clock_and_restored() -> None:
    kernel = EmulatedKernel()
    host_clock = kernel.executor.vm.clock_ns
    sim, bridge = kernel_simulator(kernel, SimConfig(hz=1000))
    assert sim.config.hz == kernel.config_hz  # jiffies are the kernel's
    sim.run(123_456)
    assert kernel.executor.vm.clock_ns() == 123_456_000
    bridge.close()
    assert kernel.executor.vm.clock_ns == host_clock


def test_bpf_jiffies_follow_simulated_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """cubic_like stamps its epoch with bpf_jiffies64: it must be simulated jiffies."""
    kernel = EmulatedKernel()
    with Collection.open(TESTDATA / "cubic_like.bpf.o").load(kernel) as coll:
        link = coll.maps["so_cubic"].attach_struct_ops()
        cfg = SimConfig(link=LinkConfig(bandwidth_bps=20_000_000, buffer_pkts=20), seed=3)
        sim, bridge = kernel_simulator(kernel, cfg)
        flow = sim.add_flow(base_rtt_us=20_000, cc="so_cubic")
        _host_clock_forbidden(monkeypatch)
        sim.run(4_000_000)
        monkeypatch.undo()
        epoch = struct.unpack_from("<I", flow.tp.icsk_ca_priv, 0)[0]
        now_j = tcp_jiffies32(flow.tp)
        assert now_j == 4_000_000 * kernel.config_hz // 1_000_000
        assert flow.tp.total_retrans > 0  # there were losses, so an epoch started
        assert 0 < epoch <= now_j
        assert flow.tp.tcp_clock_cache // 1000 == flow.tp.tcp_mstamp
        assert flow.tp.tcp_clock_cache <= sim.now
        bridge.close()
        link.close()
