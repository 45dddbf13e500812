"""sockopt_cc through the TCP simulator bridge: options land in the simulated socket (T10)."""

from __future__ import annotations

import errno

from tcp_sockopt_support import coll, globals_of, kernel, num, set_data

from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.tcp_bridge import kernel_simulator
from structops.sim import LinkConfig, SimConfig

__all__ = ["coll", "kernel"]  # fixtures

CFG = SimConfig(link=LinkConfig(bandwidth_bps=50_000_000, buffer_pkts=400))


def _run(kernel: EmulatedKernel, cc: str, until_us: int = 1_500_000) -> list[int]:
    sim, bridge = kernel_simulator(kernel, CFG)
    flow = sim.add_flow(base_rtt_us=20_000, cc=cc)
    sim.run(until_us)
    cwnds = [row[1] for row in flow.trace]
    assert flow.tp.icsk_ca_ops.name == cc
    bridge.close()
    assert not bridge.live_sockets()
    return cwnds


def test_clamp_limits_cwnd_and_name_is_read_back(kernel: EmulatedKernel, coll: Collection) -> None:
    """TCP_BPF_SNDCWND_CLAMP in init: cwnd never exceeds it; getsockopt(TCP_CONGESTION) gives the name."""
    link = coll.maps["so_sockopt"].attach_struct_ops()
    cwnds = _run(kernel, "so_sockopt")
    g = globals_of(coll, ".bss")
    assert num(g["set_clamp_ret"]) == 0
    assert num(g["clamp_seen"]) == 20 and num(g["ssthresh_seen"]) == 20  # clamp and ssthresh both set
    assert max(cwnds) == 20 and num(g["max_cwnd"]) == 20
    assert num(g["get_cc_ret"]) == 0 and g["cc_name"] == b"so_sockopt".ljust(16, b"\0")
    assert num(g["nodelay_ret"]) == -errno.EOPNOTSUPP  # bpf_sk_setsockopt_nodelay_proto
    assert num(g["bad_clamp_ret"]) == -errno.EINVAL
    assert num(g["get_clamp_ret"]) == -errno.EINVAL  # TCP_BPF_* are set-only
    assert num(g["short_len_ret"]) == -errno.EINVAL
    assert num(g["bad_level_ret"]) == -errno.EINVAL
    assert num(g["self_ret"]) == 0  # asking for the current algorithm is a no-op
    assert num(g["n_init"]) == 1 and num(g["n_release"]) == 1
    link.close()


def test_without_the_clamp_cwnd_grows_past_it(kernel: EmulatedKernel, coll: Collection) -> None:
    """Control run: with a huge clamp the same scenario's cwnd exceeds 20."""
    set_data(coll, "clamp", (100_000).to_bytes(4, "little"))
    link = coll.maps["so_sockopt"].attach_struct_ops()
    cwnds = _run(kernel, "so_sockopt")
    assert max(cwnds) > 40
    assert num(globals_of(coll, ".bss")["clamp_seen"]) == 100_000
    link.close()


def test_tcp_congestion_switch_from_init(kernel: EmulatedKernel, coll: Collection) -> None:
    """so_sw's init switches to so_sockopt: new init runs nested (its own switch gets EBUSY)."""
    links = [coll.maps[n].attach_struct_ops() for n in ("so_sockopt", "so_sw")]
    sim, bridge = kernel_simulator(kernel, CFG)
    flow = sim.add_flow(base_rtt_us=20_000, cc="so_sw")
    sim.run(500_000)
    g = globals_of(coll, ".bss")
    assert num(g["sw_ret"]) == 0 and num(g["n_sw_init"]) == 1
    assert num(g["n_sw_release"]) == 0  # the old CC was not initialised yet: no release
    assert num(g["self_ret"]) == -errno.EBUSY  # bpf_chg_cc_inprogress
    assert g["cc_name"].rstrip(b"\0") == b"so_sockopt"
    assert flow.tp.icsk_ca_ops.name == "so_sockopt" and flow.ops is flow.tp.icsk_ca_ops
    assert flow.tp.holds is not None and flow.tp.holds.name == "so_sockopt"
    assert max(row[1] for row in flow.trace) <= 20
    bridge.close()
    assert num(globals_of(coll, ".bss")["n_release"]) == 1
    for link in links:
        link.close()


def test_tcp_congestion_unknown_name_is_enoent(kernel: EmulatedKernel, coll: Collection) -> None:
    """Switching to a name that is not registered: -ENOENT, the socket keeps its CC."""
    set_data(coll, "switch_to", b"no_such_cc")
    link = coll.maps["so_sw"].attach_struct_ops()
    sim, bridge = kernel_simulator(kernel, CFG)
    flow = sim.add_flow(base_rtt_us=20_000, cc="so_sw")
    sim.run(200_000)
    assert num(globals_of(coll, ".bss")["sw_ret"]) == -errno.ENOENT
    assert flow.tp.icsk_ca_ops.name == "so_sw"
    bridge.close()
    assert num(globals_of(coll, ".bss")["n_sw_release"]) == 1
    link.close()


def test_tcp_congestion_switch_to_native_reno(kernel: EmulatedKernel, coll: Collection) -> None:
    """A BPF init may hand the socket to a native algorithm; the BPF map reference is dropped."""
    set_data(coll, "switch_to", b"reno")
    m = coll.maps["so_sw"]
    link = m.attach_struct_ops()
    sim, bridge = kernel_simulator(kernel, CFG)
    flow = sim.add_flow(base_rtt_us=20_000, cc="so_sw")
    sim.run(200_000)
    assert num(globals_of(coll, ".bss")["sw_ret"]) == 0
    assert flow.tp.icsk_ca_ops.name == "reno" and flow.tp.holds is None
    bridge.close()
    link.close()
