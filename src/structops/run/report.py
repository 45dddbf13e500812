"""Output of ``structops run``: the summary table, the struct_ops listing, CSV and plot.

The struct_ops listing is computed from the kernel like ``bpftool struct_ops show``:
walk ``BPF_MAP_GET_NEXT_ID``, open each map by id, read ``bpf_map_info`` with
``BPF_OBJ_GET_INFO_BY_FD`` and print struct_ops maps as ``%u: %-15s %-32s`` (id, map
name, the kernel struct named by ``btf_vmlinux_value_type_id`` without its
``bpf_struct_ops_`` prefix).
"""

from __future__ import annotations

import contextlib
import itertools
import struct
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from structops import btf as btflib
from structops.abi.attrs import GetIdAttr, InfoAttr
from structops.abi.protocol import Kernel
from structops.errors import BpfError
from structops.uapi import Cmd, MapType

if TYPE_CHECKING:
    from structops.run.job import RunResult

__all__ = ["print_summary", "print_timing", "struct_ops_show", "write_csv", "write_plot"]

_VALUE_PREFIX = "bpf_struct_ops_"
_WAYS = {
    "down": "server to client only: the accepted sockets send with the listener's CC",
    "both": "both ways: clients send up, accepted sockets send down with the listener's CC "
    "(the link is full duplex: each direction has the full rate)",
}


def struct_ops_show(kernel: Kernel) -> list[str]:
    """``bpftool struct_ops show`` lines for every struct_ops map of ``kernel``."""
    spec = btflib.parse(kernel.vmlinux_btf())
    lines: list[str] = []
    next_id = 0
    while True:
        attr = GetIdAttr(id=next_id)
        try:
            kernel.bpf(Cmd.BPF_MAP_GET_NEXT_ID, attr)
        except BpfError:
            break  # ENOENT: no more ids
        next_id = attr.next_id
        try:
            fd = kernel.bpf(Cmd.BPF_MAP_GET_FD_BY_ID, GetIdAttr(id=next_id))
        except BpfError:
            continue  # freed meanwhile
        try:
            info = InfoAttr(fd, bytearray(96))
            kernel.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
        finally:
            with contextlib.suppress(OSError):
                kernel.close(fd)
        map_type, map_id = struct.unpack_from("<II", info.info, 0)
        if map_type != MapType.BPF_MAP_TYPE_STRUCT_OPS:
            continue
        name = bytes(info.info[24:40]).split(b"\0", 1)[0].decode()
        (value_type_id,) = struct.unpack_from("<I", info.info, 44)
        try:
            type_name = str(getattr(spec.type_by_id(value_type_id), "name", "") or "")
        except Exception:
            type_name = ""
        type_name = type_name.removeprefix(_VALUE_PREFIX)
        lines.append(f"{map_id}: {name:<15} {type_name:<32}")
    return lines


def print_summary(result: RunResult, out: TextIO) -> None:
    """The human-readable report: setup, per-flow table, totals, struct_ops listing.

    Byte-identical for the same command and seed on any machine (no host time in it).
    """
    cfg = result.config
    out.write(
        f"structops run: {cfg.obj.name} -> congestion control {result.cc_name!r}\n"
        f"  link {cfg.bandwidth_bps / 1e6:g} Mbit/s, rtt {cfg.rtt_us / 1000:g} ms, buffer {cfg.buffer} pkts, "
        f"loss {cfg.loss:g}, seed {cfg.seed}, {cfg.flows} flows, {cfg.duration_us / 1e6:g} s simulated\n"
    )
    if cfg.direction != "up":
        out.write(f"  data {_WAYS[cfg.direction]}\n")
    for note in result.notes:
        out.write(f"  {note}\n")
    out.write("\nregistered struct_ops (bpftool struct_ops show):\n")
    for line in result.struct_ops:
        out.write(f"  {line.rstrip()}\n")
    out.write("\n")
    two_way = result.directions != ["up"]
    way = f"{'dir':<5}" if two_way else ""
    header = (
        f"{'flow':>4}  {way}{'start s':>7}  {'cc':<12} {'version':<28} {'Mbit/s*':>8}  {'retrans':>7}  "
        f"{'avg rtt ms':>10}"
    )
    out.write(header + "\n" + "-" * len(header) + "\n")
    for f in result.flows:
        way = f"{f.direction:<5}" if two_way else ""
        out.write(
            f"{f.flow_id:>4}  {way}{f.start_us / 1e6:>7.2f}  {f.cc:<12} {f.version:<28} {f.window_bps / 1e6:>8.2f}  "
            f"{f.retransmits:>7}  {f.avg_rtt_us / 1000:>10.2f}\n"
        )
    out.write("-" * len(header) + "\n")
    retrans = sum(f.retransmits for f in result.flows)
    if two_way:
        total = ", ".join(f"{d} {result.direction_bps(d) / 1e6:.2f} Mbit/s" for d in result.directions)
    else:
        total = f"{result.total_bps / 1e6:.2f} Mbit/s"
    out.write(
        f"total {total}, retransmits {retrans}, "
        f"utilisation {result.utilisation * 100:.1f}%, "
        f"Jain index {result.jain:.3f}, {result.events} events\n"
    )
    out.write(
        f"* goodput over the common window {result.window_start_us / 1e6:.2f}-{cfg.duration_us / 1e6:g} s "
        "(from the last flow start to the end), so the per-flow rates add up to at most the link rate"
        + (" in each direction" if two_way else "")
        + "; the total is over the whole run\n"
    )


def print_timing(result: RunResult, out: TextIO) -> None:
    """The host-dependent line (wall time, speed): kept out of the summary, which is a
    pure function of the command and the seed."""
    cfg = result.config
    out.write(
        f"{result.events} events in {result.wall_s:.2f} s wall "
        f"({cfg.duration_us / 1e6 / max(result.wall_s, 1e-9):.2f} simulated s per wall s)\n"
    )


def write_csv(result: RunResult, path: Path) -> int:
    """The per-sample cwnd trace of every flow (``structops.sim`` trace columns)."""
    with path.open("w", newline="") as fh:
        return result.sim.write_trace_csv(fh)


def write_plot(result: RunResult, path: Path) -> str | None:
    """cwnd and throughput over time as a PNG (Agg); returns a message when skipped."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: skipping the plot (pip install matplotlib)"
    fig, (ax_cwnd, ax_tput) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for flow, row in zip(result.sim.flows, result.flows, strict=False):
        trace = flow.trace
        if not trace:
            continue
        way = "" if flow.direction == "up" else f" {flow.direction}"
        label = f"flow {flow.flow_id}{way} ({row.version.split(' ', 1)[0]})"
        ts = [r[0] / 1e6 for r in trace]
        ax_cwnd.plot(ts, [r[1] for r in trace], label=label, linewidth=1)
        rates = [0.0] + [
            (b[4] - a[4]) * 8 / max(b[0] - a[0], 1) for a, b in itertools.pairwise(trace)
        ]  # bytes per us * 8 = Mbit/s
        ax_tput.plot(ts, rates, label=label, linewidth=1)
    cfg = result.config
    if cfg.swap_at_us is not None:
        for ax in (ax_cwnd, ax_tput):
            ax.axvline(cfg.swap_at_us / 1e6, color="black", linestyle="--", linewidth=1)
        ax_cwnd.text(cfg.swap_at_us / 1e6, ax_cwnd.get_ylim()[1] * 0.95, " link update", va="top")
    ax_cwnd.set_ylabel("cwnd (packets)")
    ax_tput.set_ylabel("throughput (Mbit/s)")
    ax_tput.set_xlabel("time (s)")
    ax_cwnd.set_title(f"{result.cc_name}: {cfg.flows} flows, {cfg.bandwidth_bps / 1e6:g} Mbit/s")
    ax_cwnd.legend(fontsize="small", loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None
