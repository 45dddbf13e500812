"""The ``structops run`` job: load a BPF congestion control, register it, simulate flows.

Steps (each on the embedded kernel, no root, no clang): load the object
(:class:`~structops.api.Collection`), register its struct_ops map (a link for
``.struct_ops.link`` maps, ``BPF_MAP_UPDATE_ELEM`` for legacy ones), build a simulator
whose sockets live in kernel memory (:mod:`structops.kernel.tcp_bridge`), start the
flows with ``setsockopt(TCP_CONGESTION)`` of the registered name, optionally replace the
map at time T with ``BPF_LINK_UPDATE`` (flows started later pick up the new version),
and collect the per-flow results.  With a listener (``--listener``, implied by
``--direction down|both``) the flows are accepted from a listening socket set up at the
start with the registered CC: server-to-client data is sent with it, also after a swap
(a listener keeps the ops it was given, as on Linux).
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass, field
from typing import TextIO

from structops.api import Collection
from structops.api.link import Link
from structops.api.map import Map
from structops.errors import BpfError, bpf_error
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.subsys.tcp_ca import CongestionControl
from structops.kernel.tcp_bridge import TcpBridge, kernel_simulator
from structops.run.config import RunConfig
from structops.run.progress import Progress
from structops.sim import LinkConfig, Listener, SimConfig, Simulator, TcpFlow
from structops.uapi import MapFlags

__all__ = ["FlowResult", "RunResult", "run_job"]


@dataclass(frozen=True)
class FlowResult:
    """One flow's outcome and the struct_ops map version its socket used."""

    flow_id: int
    start_us: int
    cc: str
    version: str
    bytes_acked: int
    throughput_bps: float
    retransmits: int
    avg_rtt_us: float
    window_bps: float = 0.0
    """Goodput over the run's common window (:attr:`RunResult.window_start_us` to the end):
    the rates of all flows share one interval, so they add up to at most the link rate
    (per direction)."""
    direction: str = "up"
    """``"up"``: the client sends; ``"down"``: the accepted socket sends."""


@dataclass
class RunResult:
    """What a run produced: per-flow rows, totals, the registered struct_ops listing."""

    config: RunConfig
    cc_name: str
    flows: list[FlowResult]
    utilisation: float
    jain: float
    events: int
    wall_s: float
    struct_ops: list[str]
    swapped: bool
    sim: Simulator
    notes: list[str] = field(default_factory=list)
    window_start_us: int = 0

    @property
    def total_bps(self) -> float:
        """Aggregate goodput: all acknowledged bytes over the whole run."""
        return self.direction_bps(None)

    def direction_bps(self, direction: str | None) -> float:
        """Goodput of the flows sending ``direction`` (``None``: all) over the whole run."""
        acked = sum(f.bytes_acked for f in self.flows if direction in (None, f.direction))
        return acked * 8 * 1_000_000 / self.config.duration_us

    @property
    def directions(self) -> list[str]:
        """The directions data flowed in, ``"up"`` first."""
        return [d for d in ("up", "down") if any(f.direction == d for f in self.flows)]


def _struct_ops_map(coll: Collection, wanted: str | None, what: str) -> Map:
    names = [n for n, m in coll.maps.items() if m.spec.struct_ops is not None]
    if wanted is not None:
        if wanted not in names:
            raise bpf_error(errno.ENOENT, f"{what}: no struct_ops map {wanted!r} (has: {', '.join(names) or 'none'})")
        return coll.maps[wanted]
    if len(names) != 1:
        raise bpf_error(
            errno.EINVAL, f"{what}: {len(names)} struct_ops maps ({', '.join(names)}); choose one with --map"
        )
    return coll.maps[names[0]]


def _entry_of(kernel: EmulatedKernel, m: Map) -> CongestionControl:
    for cc in kernel.tcp_congestion.entries:  # type: ignore[attr-defined]
        if cc.kdata is not None and cc.kdata.map.id == m.id:
            return cc  # type: ignore[no-any-return]
    raise bpf_error(errno.ENOENT, f"map {m.name} is not a registered tcp congestion control")


def _acked_bytes(flow: TcpFlow) -> int:
    """Bytes ``flow`` has had acknowledged so far (as :func:`structops.sim.trace.summarize`)."""
    acked = flow.una * flow.mss
    return acked if flow.total_bytes is None else min(acked, flow.total_bytes)


def _version(flow_ops: object) -> str:
    owner = getattr(flow_ops, "owner", None)
    if isinstance(owner, CongestionControl) and owner.kdata is not None:
        st_map = owner.kdata.map
        return f"{st_map.name} (map id {st_map.id})"
    return "native"


def run_job(cfg: RunConfig, *, progress: TextIO | None = None, kernel: EmulatedKernel | None = None) -> RunResult:
    """Run ``cfg``; ``progress`` (stderr) gets a progress bar.  Everything is freed at the end."""
    kernel = kernel if kernel is not None else EmulatedKernel()
    coll = Collection.open(cfg.obj).load(kernel)
    swap_coll: Collection | None = None
    link: Link | None = None
    bridge: TcpBridge | None = None
    listener: Listener | None = None
    try:
        st_map = _struct_ops_map(coll, cfg.map_name, str(cfg.obj))
        new_map: Map | None = None
        if cfg.swap is not None:
            if not st_map.spec.flags & MapFlags.BPF_F_LINK:
                raise bpf_error(errno.EINVAL, f"--swap needs a .struct_ops.link map; {st_map.name} is legacy")
            swap_coll = Collection.open(cfg.swap)
            try:
                swap_coll.load(kernel)
            except BpfError as exc:
                if exc.errno != errno.EEXIST:
                    raise
                raise bpf_error(
                    errno.EEXIST,
                    f"--swap {cfg.swap}: loading it registers a congestion control whose name is already taken "
                    f'by {st_map.name}: a legacy struct_ops map (SEC(".struct_ops")) registers at load time and '
                    "cannot take a name while the first map holds it; a link update needs a .struct_ops.link map",
                ) from exc
            new_map = _struct_ops_map(swap_coll, cfg.swap_map, str(cfg.swap))
            if not new_map.spec.flags & MapFlags.BPF_F_LINK:
                raise bpf_error(
                    errno.EINVAL,
                    f"--swap {cfg.swap}: {new_map.name} is a legacy struct_ops map; a link update needs a map "
                    'declared in SEC(".struct_ops.link") (and a legacy map with the same congestion control '
                    f"name as {st_map.name} could not be registered while the first holds the name)",
                )
        link = st_map.attach_struct_ops()
        cc_name = _entry_of(kernel, st_map).name
        sim_cfg = SimConfig(
            link=LinkConfig(
                bandwidth_bps=cfg.bandwidth_bps,
                buffer_pkts=cfg.buffer,
                loss_prob=cfg.loss,
                ecn_threshold_pkts=cfg.ecn_threshold_pkts,
            ),
            seed=cfg.seed,
            sample_interval_us=cfg.sample_interval_us,
        )
        sim, bridge = kernel_simulator(kernel, sim_cfg)
        notes: list[str] = []
        if new_map is not None and cfg.swap_at_us is not None:
            swap_link, swap_to = link, new_map

            def swap(s: Simulator) -> None:
                swap_link.update_map(swap_to)
                notes.append(f"t={s.now / 1e9:.3f} s: BPF_LINK_UPDATE {st_map.name} -> {swap_to.name}")

            sim.at(cfg.swap_at_us, swap)
        if cfg.accepts:
            listener = sim.listen(cc_name)
            notes.append(f"listener with {cc_name!r} ({_version(listener.ops)}): flows are accepted from it")
        starts = cfg.start_times_us()
        for start in starts:
            sim.add_flow(base_rtt_us=cfg.rtt_us, start_us=start, cc=cc_name, listener=listener, direction=cfg.direction)
        window_start = max(starts)
        acked_at_window: list[int] = []

        def snapshot(s: Simulator) -> None:
            acked_at_window.extend(_acked_bytes(f) for f in s.flows)

        sim.at(window_start, snapshot)
        started = time.perf_counter()
        bar = Progress(progress, cfg.duration_us)
        chunk = max(cfg.duration_us // 100, 1)
        t = 0
        while t < cfg.duration_us:
            t = min(t + chunk, cfg.duration_us)
            sim.run(t)
            bar.update(t)
        bar.done()
        wall = time.perf_counter() - started
        flows = [
            FlowResult(
                s.flow_id,
                s.start_us,
                s.cc,
                _version(sim.flows[s.flow_id].ops),
                s.bytes_acked,
                s.throughput_bps,
                s.retransmits,
                s.avg_rtt_us,
                (s.bytes_acked - acked_at_window[s.flow_id]) * 8 * 1_000_000 / max(cfg.duration_us - window_start, 1),
                s.direction,
            )
            for s in sim.summary()
        ]
        from structops.run.report import struct_ops_show

        listing = struct_ops_show(kernel)
        result = RunResult(
            cfg,
            cc_name,
            flows,
            sim.utilisation(),  # of the directions in use
            sim.jain_fairness(),
            sim.events,
            wall,
            listing,
            new_map is not None,
            sim,
            notes,
            window_start,
        )
        if listener is not None:
            listener.close()
            listener = None
        bridge.close()
        bridge = None
        return result
    finally:
        if listener is not None:
            listener.close()
        if bridge is not None:
            bridge.close()
        if link is not None:
            link.close()
        if swap_coll is not None:
            swap_coll.close()
        coll.close()
