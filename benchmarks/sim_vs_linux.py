"""Benchmark: the TCP simulator against Linux TCP on a real path built on this machine.

Needs root.  Builds four network namespaces (sender, router, delay, receiver) joined by
veth pairs::

    snd:s0 ---- r0:rtr:r1 [tbf 20 Mbit/s -> pfifo N pkts] ---- d0:dly:d1 ---- c0:rcv
                                                            (user-space delay line)

The kernel has neither netem nor fq, so the base RTT comes from a small user-space delay
line in the ``dly`` namespace: two raw ``AF_PACKET`` sockets copy every frame between
``d0`` and ``d1`` after a fixed one-way delay (RTT/2 each way).  TSO, GSO, GRO and
checksum offload are off on every veth (ethtool ioctls), so every frame is MTU-sized with
a valid checksum.  The sender keeps N bulk connections busy for ``--seconds`` and samples
``TCP_INFO`` of each every 10 ms; namespaces are always deleted at the end.

For each of the 8 configurations (reno and cubic; 1 and 4 flows; 1 and 0.5 BDP buffer)
it runs Linux ``--runs`` times (the run-to-run spread), the BPF examples registered on
the real kernel (``bpf_cubic`` and ``so_reno`` from testdata), and
``structops run --example reno|cubic`` (the simulator with the same BPF objects on the
embedded kernel), then prints the metrics with ratios sim/Linux, and the count within
15 %.

    sudo python3 benchmarks/sim_vs_linux.py [--seconds 10] [--runs 3] [--configs all]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import itertools
import json
import os
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BW_BPS = 20_000_000
RTT_US = 20_000
MSS = 1448
#: tbf counts the Ethernet frame (1514 bytes for 1448 of payload); the simulator puts
#: 1500 bytes on the wire per segment, so the token rate is scaled to carry the same
#: payload rate.
TBF_RATE = BW_BPS * 1514 // 1500
INF_SSTHRESH = 0x7FFFFFFF
SAMPLE_S = 0.010
PORT = 5201
STATE_RECOVERY = 3
STATE_LOSS = 4


# ---------------------------------------------------------------------------------------
# roles run inside namespaces (python3 sim_vs_linux.py --role ...)
# ---------------------------------------------------------------------------------------
def _ethtool_off(dev: str) -> None:
    """Turn off TSO, GSO, GRO, SG and checksum offload of ``dev`` (SIOCETHTOOL)."""
    siocethtool = 0x8946
    cmds = (0x1F, 0x24, 0x2C, 0x19, 0x17, 0x15)  # STSO SGSO SGRO SSG STXCSUM SRXCSUM
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for cmd in cmds:
            val = ctypes.create_string_buffer(struct.pack("<II", cmd, 0))
            ifr = struct.pack("16sP", dev.encode(), ctypes.addressof(val)) + bytes(16)
            with contextlib.suppress(OSError):  # a feature the device cannot change
                fcntl.ioctl(s.fileno(), siocethtool, ifr)


def role_offload(devs: Sequence[str]) -> None:
    """Offloads off on ``devs`` of the current namespace."""
    for dev in devs:
        _ethtool_off(dev)


def role_delayline(dev_a: str, dev_b: str, delay_us: int, seconds: float) -> None:
    """Copy frames a->b and b->a after ``delay_us`` (raw AF_PACKET sockets)."""
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    eth_p_all = 0x0003
    socks = []
    for dev in (dev_a, dev_b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(eth_p_all))
        s.bind((dev, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.setblocking(False)
        socks.append(s)
    queues: list[deque[tuple[float, bytes]]] = [deque(), deque()]  # frames for socks[i]
    delay = delay_us / 1e6
    end = time.monotonic() + seconds
    outgoing = 4  # PACKET_OUTGOING
    while True:
        now = time.monotonic()
        if now > end:
            break
        due = min((q[0][0] for q in queues if q), default=now + 0.05)
        readable, _, _ = select.select(socks, [], [], max(0.0, min(due - now, 0.05)))
        now = time.monotonic()
        for s in readable:
            other = 1 if s is socks[0] else 0
            while True:
                try:
                    frame, addr = s.recvfrom(65536)
                except BlockingIOError:
                    break
                if addr[2] == outgoing:
                    continue
                queues[other].append((now + delay, frame))
        now = time.monotonic()
        for i, q in enumerate(queues):
            while q and q[0][0] <= now:
                with contextlib.suppress(OSError):
                    socks[i].send(q.popleft()[1])


def role_receiver(addr: str, flows: int, seconds: float) -> None:
    """Accept ``flows`` connections and discard what they send."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, PORT))
    srv.listen(flows)
    print("ready", flush=True)
    conns = []
    srv.settimeout(seconds + 10)
    for _ in range(flows):
        c, _ = srv.accept()
        c.setblocking(False)
        conns.append(c)
    end = time.monotonic() + seconds + 5
    while conns and time.monotonic() < end:
        readable, _, _ = select.select(conns, [], [], 0.5)
        for c in readable:
            try:
                data = c.recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:
                conns.remove(c)
                c.close()


def _tcp_info(s: socket.socket) -> tuple[int, ...]:
    raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    ca_state = raw[1]
    rtt, _rttvar, ssthresh, cwnd = struct.unpack_from("<4I", raw, 68)
    (total_retrans,) = struct.unpack_from("<I", raw, 100)
    (bytes_acked,) = struct.unpack_from("<Q", raw, 120)
    return (cwnd, ssthresh, rtt, ca_state, bytes_acked, total_retrans)


def role_sender(dst: str, flows: int, cc: str, seconds: float) -> None:
    """Open ``flows`` connections with congestion control ``cc``, send, sample TCP_INFO."""
    socks = []
    for _ in range(flows):
        s = socket.socket()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
        s.connect((dst, PORT))
        s.setblocking(False)
        socks.append(s)
    buf = bytes(1 << 16)
    samples: list[list[tuple[float, ...]]] = [[] for _ in socks]
    t0 = time.monotonic()
    next_sample = t0
    end = t0 + seconds
    while True:
        now = time.monotonic()
        if now >= next_sample:
            for i, s in enumerate(socks):
                samples[i].append((round((now - t0) * 1e6), *_tcp_info(s)))
            next_sample += SAMPLE_S
        if now >= end:
            break
        _, writable, _ = select.select([], socks, [], max(0.0, min(next_sample, end) - time.monotonic()))
        for s in writable:
            with contextlib.suppress(BlockingIOError):
                s.send(buf)
    for s in socks:
        s.close()
    json.dump(samples, sys.stdout)


# ---------------------------------------------------------------------------------------
# the path
# ---------------------------------------------------------------------------------------
def _run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=20, check=False)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {res.stderr.strip()}")
    return res


def _in(ns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def _me(ns: str, role: str, *args: str) -> list[str]:
    return _in(ns, sys.executable, str(Path(__file__).resolve()), "--role", role, *args)


@dataclass(frozen=True)
class Path4:
    """Namespace names of one built path."""

    snd: str
    rtr: str
    dly: str
    rcv: str

    @property
    def all(self) -> tuple[str, ...]:
        return (self.snd, self.rtr, self.dly, self.rcv)


@contextlib.contextmanager
def real_path(buffer_pkts: int) -> Iterator[Path4]:
    """Build the namespaces, links, tbf + pfifo; delete everything on exit."""
    tag = f"svl{os.getpid() % 100000}"
    p = Path4(f"{tag}s", f"{tag}r", f"{tag}d", f"{tag}c")
    try:
        for ns in p.all:
            _run(["ip", "netns", "add", ns])
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        for (na, da), (nb, db) in (
            ((p.snd, "s0"), (p.rtr, "r0")),
            ((p.rtr, "r1"), (p.dly, "d0")),
            ((p.dly, "d1"), (p.rcv, "c0")),
        ):
            _run(["ip", "link", "add", f"{tag}x", "netns", na, "type", "veth", "peer", "name", f"{tag}y", "netns", nb])
            _run(["ip", "-n", na, "link", "set", f"{tag}x", "name", da])
            _run(["ip", "-n", nb, "link", "set", f"{tag}y", "name", db])
        for ns, devs in ((p.snd, ["s0"]), (p.rtr, ["r0", "r1"]), (p.dly, ["d0", "d1"]), (p.rcv, ["c0"])):
            _run(_me(ns, "offload", *devs))
            for dev in devs:
                _run(["ip", "-n", ns, "link", "set", dev, "up"])
        _run(["ip", "-n", p.snd, "addr", "add", "10.77.1.1/24", "dev", "s0"])
        _run(["ip", "-n", p.rtr, "addr", "add", "10.77.1.2/24", "dev", "r0"])
        _run(["ip", "-n", p.rtr, "addr", "add", "10.77.2.1/24", "dev", "r1"])
        _run(["ip", "-n", p.rcv, "addr", "add", "10.77.2.2/24", "dev", "c0"])
        _run(["ip", "-n", p.snd, "route", "add", "default", "via", "10.77.1.2"])
        _run(["ip", "-n", p.rcv, "route", "add", "default", "via", "10.77.2.1"])
        _run(_in(p.rtr, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"))
        for ns in (p.snd, p.rcv):  # no cached ssthresh between runs
            _run(_in(ns, "sysctl", "-q", "-w", "net.ipv4.tcp_no_metrics_save=1"))
        _run(
            _in(
                p.rtr,
                "tc",
                "qdisc",
                "add",
                "dev",
                "r1",
                "root",
                "handle",
                "1:",
                "tbf",
                "rate",
                f"{TBF_RATE}bit",
                "burst",
                "1600",
                "limit",
                str(4 * 1514 * max(buffer_pkts, 1)),
            )
        )
        _run(
            _in(
                p.rtr,
                "tc",
                "qdisc",
                "add",
                "dev",
                "r1",
                "parent",
                "1:1",
                "handle",
                "10:",
                "pfifo",
                "limit",
                str(buffer_pkts),
            )
        )
        yield p
    finally:
        for ns in p.all:
            _run(["ip", "netns", "del", ns], check=False)


def linux_run(p: Path4, cc: str, flows: int, seconds: float) -> list[list[tuple[float, ...]]]:
    """One Linux run on the built path: per flow, samples (t_us, cwnd, ssthresh, rtt_us,
    ca_state, bytes_acked, total_retrans)."""
    procs: list[subprocess.Popen[str]] = []
    try:
        dl = subprocess.Popen(_me(p.dly, "delayline", "d0", "d1", str(RTT_US // 2), str(seconds + 30)), text=True)
        procs.append(dl)
        rcv = subprocess.Popen(
            _me(p.rcv, "receiver", "10.77.2.2", str(flows), str(seconds)), stdout=subprocess.PIPE, text=True
        )
        procs.append(rcv)
        assert rcv.stdout is not None
        rcv.stdout.readline()  # "ready"
        time.sleep(0.3)
        snd = subprocess.run(
            _me(p.snd, "sender", "10.77.2.2", str(flows), cc, str(seconds)),
            capture_output=True,
            text=True,
            timeout=seconds + 40,
            check=False,
        )
        if snd.returncode != 0:
            raise RuntimeError(f"sender failed: {snd.stderr.strip()[-400:]}")
        data: list[list[tuple[float, ...]]] = json.loads(snd.stdout)
        return data
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            if proc.poll() is None:
                proc.kill()


# ---------------------------------------------------------------------------------------
# the simulator
# ---------------------------------------------------------------------------------------
def sim_run(example: str, flows: int, buffer_pkts: int, seconds: float, seed: int) -> list[list[tuple[float, ...]]]:
    """``structops run --example`` on the same parameters; samples as :func:`linux_run`."""
    from structops.run import RunConfig, example_path, run_job

    cfg = RunConfig(
        obj=example_path(example),
        flows=flows,
        duration_us=int(seconds * 1e6),
        buffer_pkts=buffer_pkts,
        seed=seed,
        stagger_us=0,
        sample_interval_us=10_000,
    )
    result = run_job(cfg)
    out: list[list[tuple[float, ...]]] = []
    for f in result.sim.flows:
        total = f.tp.total_retrans  # the retransmission count is not in the trace: the last
        out.append(  # column carries the flow's final count
            [
                (t - f.start_us, cwnd, ssthresh, srtt, state, delivered, total)
                for t, cwnd, ssthresh, _inflight, delivered, srtt, state in f.trace
            ]
        )
    return out


# ---------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------
def _episodes(rows: Sequence[tuple[float, ...]]) -> list[int]:
    """Indices of samples where a loss episode starts (Recovery/Loss entered, or a new
    ssthresh cut between two Open samples)."""
    starts = []
    for i in range(1, len(rows)):
        prev, cur = rows[i - 1], rows[i]
        entered = cur[4] in (STATE_RECOVERY, STATE_LOSS) and prev[4] not in (STATE_RECOVERY, STATE_LOSS)
        cut = cur[2] < prev[2] and prev[2] != INF_SSTHRESH and prev[4] not in (STATE_RECOVERY, STATE_LOSS)
        if entered or cut:
            starts.append(i)
    return starts


def metrics(flows: list[list[tuple[float, ...]]], seconds: float, retrans: list[int]) -> dict[str, float]:
    """The compared metrics of one run (see module docstring)."""
    m: dict[str, float] = {}
    goodputs = sorted(((r[-1][5] - r[0][5]) * 8 / seconds / 1e6 for r in flows if r), reverse=True)
    for i, g in enumerate(goodputs):
        m[f"goodput flow#{i + 1} Mbit/s"] = g
    m["Jain index"] = sum(goodputs) ** 2 / (len(goodputs) * sum(g * g for g in goodputs)) if goodputs else 0.0
    m["retransmits/s"] = sum(retrans) / seconds
    steady = [r for rows in flows for r in rows if r[0] >= 1_000_000]
    cw = [r[1] for r in steady]
    m["mean cwnd"] = statistics.mean(cw)
    m["median cwnd"] = statistics.median(cw)
    periods, peaks, posts, firsts, exits = [], [], [], [], []
    for rows in flows:
        ep = _episodes(rows)
        times = [rows[i][0] for i in ep]
        periods += [b - a for a, b in itertools.pairwise(times[1:])]
        peaks += [rows[i - 1][1] for i in ep[1:]]
        posts += [rows[i][2] for i in ep[1:] if rows[i][2] != INF_SSTHRESH]
        if ep:
            firsts.append(rows[ep[0] - 1][1])
        ex = next((r[0] for r in rows if r[2] != INF_SSTHRESH), None)
        if ex is not None:
            exits.append(ex)
    m["sawtooth period ms"] = statistics.mean(periods) / 1000 if periods else 0.0
    m["peak cwnd"] = statistics.mean(peaks) if peaks else 0.0
    m["post-loss cwnd"] = statistics.mean(posts) if posts else 0.0
    m["sawtooth amplitude"] = m["peak cwnd"] - m["post-loss cwnd"]
    m["queueing delay ms"] = statistics.mean(r[3] for r in steady) / 1000 - RTT_US / 1000
    m["slow-start exit ms"] = statistics.mean(exits) / 1000 if exits else 0.0
    m["cwnd at first loss"] = statistics.mean(firsts) if firsts else 0.0
    return m


# ---------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------
CONFIGS = [(cc, flows, bdp) for cc in ("reno", "cubic") for flows in (1, 4) for bdp in (1.0, 0.5)]
BPF_ON_LINUX = {"reno": ("testdata/reno.bpf.o", "so_reno"), "cubic": ("testdata/cubic.bpf.o", "bpf_cubic")}


def _linux_retrans(flows: list[list[tuple[float, ...]]]) -> list[int]:
    return [int(rows[-1][6] - rows[0][6]) if rows else 0 for rows in flows]


def main() -> None:
    """Run every configuration on Linux and the simulator; print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3, help="Linux runs per configuration (spread)")
    ap.add_argument("--configs", default="all", help="comma list like reno-1-1.0,cubic-4-0.5 (default all)")
    ap.add_argument("--no-bpf-linux", action="store_true", help="skip our BPF examples on the real kernel")
    ap.add_argument("--json", metavar="PATH", help="also write all numbers as JSON")
    ap.add_argument("--role", help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args()
    if args.role:
        roles = {
            "offload": lambda: role_offload(rest),
            "delayline": lambda: role_delayline(rest[0], rest[1], int(rest[2]), float(rest[3])),
            "receiver": lambda: role_receiver(rest[0], int(rest[1]), float(rest[2])),
            "sender": lambda: role_sender(rest[0], int(rest[1]), rest[2], float(rest[3])),
        }
        roles[args.role]()
        return
    if os.geteuid() != 0:
        sys.exit("sim_vs_linux: needs root (network namespaces, tc, raw sockets)")
    configs = (
        CONFIGS
        if args.configs == "all"
        else [(c.split("-")[0], int(c.split("-")[1]), float(c.split("-")[2])) for c in args.configs.split(",")]
    )
    bdp_pkts = BW_BPS * RTT_US // (8 * 1500 * 1_000_000)
    within = total = 0
    report: dict[str, object] = {}
    links: list[tuple[Any, Any]] = []  # (Collection, Link) of our BPF examples on Linux
    if not args.no_bpf_linux:
        from structops.api import Collection
        from structops.linux import LinuxKernel

        for obj, name in BPF_ON_LINUX.values():
            coll = Collection.open(ROOT / obj).load(LinuxKernel())
            links.append((coll, coll.maps[name].attach_struct_ops()))
    try:
        for cc, flows, bdp in configs:
            buf = max(1, round(bdp_pkts * bdp))
            linux_ms: list[dict[str, float]] = []
            bpf_m: dict[str, float] | None = None
            with real_path(buf) as p:
                for _ in range(args.runs):
                    data = linux_run(p, cc, flows, args.seconds)
                    linux_ms.append(metrics(data, args.seconds, _linux_retrans(data)))
                if not args.no_bpf_linux:
                    data = linux_run(p, BPF_ON_LINUX[cc][1], flows, args.seconds)
                    bpf_m = metrics(data, args.seconds, _linux_retrans(data))
            sim_data = sim_run(cc, flows, buf, args.seconds, seed=1)
            sim_m = metrics(sim_data, args.seconds, [int(rows[-1][6]) if rows else 0 for rows in sim_data])
            print(f"\n== {cc}, {flows} flow(s), buffer {bdp:g} BDP ({buf} pkts), {args.seconds:g} s ==")
            print(f"{'metric':<24} {'linux':>9} {'spread':>7} {'sim':>9} {'ratio':>6}  {'bpf@linux':>9}")
            for key in linux_ms[0]:
                vals = [lm.get(key, 0.0) for lm in linux_ms]
                mean = statistics.mean(vals)
                spread = (max(vals) - min(vals)) / mean * 100 if mean else 0.0
                sv = sim_m.get(key, 0.0)
                ratio = sv / mean if mean else (1.0 if sv == 0 else float("inf"))
                ok = abs(ratio - 1) <= 0.15
                within += ok
                total += 1
                bv = f"{bpf_m.get(key, 0.0):9.2f}" if bpf_m is not None else ""
                print(f"{key:<24} {mean:9.2f} {spread:6.1f}% {sv:9.2f} {ratio:6.2f}{' ' if ok else '*'} {bv}")
            report[f"{cc}-{flows}-{bdp:g}"] = {"linux": linux_ms, "sim": sim_m, "bpf_linux": bpf_m}
    finally:
        for coll, link in links:
            link.close()
            coll.close()
    print(f"\n{within} of {total} metrics within 15 % of Linux (* marks the others)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
