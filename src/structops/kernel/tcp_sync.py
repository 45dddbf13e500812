"""Sync plans: which ``struct tcp_sock`` fields the TCP bridge copies around an op call.

The simulator's :class:`~structops.sim.TcpSock` is the truth; the kernel struct is a
mirror that a BPF congestion control reads and (T8 fields, ``icsk_ca_priv``) writes.
Copying every field before and after every op call is the bridge's main cost (issue 17),
so a :class:`SyncPlan` copies only:

* *in*: the sync units (a plain field, one bitfield storage unit, ``icsk_ca_priv``,
  ``rtt_min``, the ``icsk_ca_ops`` pointer) whose bytes the programs of the struct_ops
  map may read, plus every unit they may write (so that reading a field back never
  brings in a stale value);
* *back*: the T8 fields and ``icsk_ca_priv`` the programs may write.

The access set comes from the verifier (:mod:`structops.verifier.access`): every
accepted BTF-pointer load/store with its struct, offset and size.  Accesses through any
struct that ``tcp_sock`` starts with (``sock``, ``inet_connection_sock``, ...) count as
accesses to the socket.  A program that calls a helper or kfunc outside
:data:`TRUSTED_CALLS` -- functions that either never read the socket's bytes or work on
the simulated socket and sync it themselves -- gets the full plan, as does a program
loaded without the verifier.

Dirty tracking: each socket keeps a *shadow*, the value each unit last had when it was
written to or read from the struct; a unit whose simulated value equals its shadow is
not rewritten.  The shadow is exact as long as only the bridge, the programs (whose
writes are read back) and the functions of :data:`TRUSTED_CALLS` write the struct.

Each plan's copy functions are generated once (like the bitfield writer before it) so
an op call runs straight-line code over just its units.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from structops import btf as btflib
from structops.kernel.btfview import field_path
from structops.sim.sock import WRITABLE_FIELDS, TcpSock
from structops.verifier.access import AccessSet

__all__ = ["TRUSTED_CALLS", "SyncLayout", "SyncPlan"]

_FMT = {1: "B", 2: "H", 4: "I", 8: "Q"}
#: Simulator field name -> kernel path where they differ (docs/tcp-sim.md).
ALIASES = {
    "sk_state": "skc_state",
    "icsk_ack_pending": "icsk_ack.pending",
    "rx_opt_rcv_tsecr": "rx_opt.rcv_tsecr",
    "rx_opt_saw_tstamp": "rx_opt.saw_tstamp",
}
#: Fields written separately (pointer, arrays) rather than as plain integers.
_SPECIAL = frozenset({"icsk_ca_ops", "icsk_ca_priv", "rtt_min"})

#: Helpers and kfuncs that do not read a bridged socket's struct behind the bridge's back:
#: they take no socket (time, maps), key on its address only (sk_storage), or run on the
#: simulated socket after reading the program's writes back and sync it afterwards
#: (the tcp_cong and cubic kfuncs, bpf_tcp_send_ack, bpf_setsockopt/bpf_getsockopt).
TRUSTED_CALLS = frozenset(
    {
        "bpf_map_lookup_elem",
        "bpf_map_update_elem",
        "bpf_map_delete_elem",
        "bpf_ktime_get_ns",
        "bpf_ktime_get_boot_ns",
        "bpf_ktime_get_coarse_ns",
        "bpf_jiffies64",
        "bpf_get_prandom_u32",
        "bpf_get_smp_processor_id",
        "bpf_sk_storage_get",
        "bpf_sk_storage_delete",
        "bpf_tcp_send_ack",
        "bpf_setsockopt",
        "bpf_getsockopt",
        "tcp_reno_ssthresh",
        "tcp_reno_cong_avoid",
        "tcp_reno_undo_cwnd",
        "tcp_slow_start",
        "tcp_cong_avoid_ai",
        "cubictcp_init",
        "cubictcp_recalc_ssthresh",
        "cubictcp_cong_avoid",
        "cubictcp_state",
        "cubictcp_cwnd_event",
        "cubictcp_acked",
    }
)


@dataclass(frozen=True)
class Unit:
    """One sync unit: ``kind`` is ``plain``, ``bits``, ``priv``, ``rtt_min`` or ``ca_ops``."""

    kind: str
    offset: int
    size: int
    name: str = ""  # plain: the TcpSock slot
    bits: tuple[tuple[str, int, int], ...] = ()  # bits: (slot, shift, width)

    def overlaps(self, off: int, size: int) -> bool:
        """The unit shares a byte with ``[off, off + size)``."""
        return off < self.offset + self.size and self.offset < off + size


class SyncLayout:
    """The sync units of one ``struct tcp_sock`` type and the plans built over them."""

    def __init__(self, tcp_sock: btflib.Struct) -> None:
        self.size = tcp_sock.size
        units: list[Unit] = []
        bits: dict[tuple[int, int], list[tuple[str, int, int]]] = {}
        for name in TcpSock.__slots__:
            if name.startswith(("sim_", "_")) or name in _SPECIAL:
                continue
            loc = field_path(tcp_sock, ALIASES.get(name, name))
            if loc.bit_size:
                bits.setdefault((loc.offset, loc.size), []).append((name, loc.bit_offset, loc.bit_size))
            else:
                units.append(Unit("plain", loc.offset, loc.size, name))
        units += [Unit("bits", off, size, bits=tuple(fs)) for (off, size), fs in bits.items()]
        priv = field_path(tcp_sock, "icsk_ca_priv")
        units.append(Unit("priv", priv.offset, priv.size, "icsk_ca_priv"))
        units.append(Unit("rtt_min", field_path(tcp_sock, "rtt_min").offset, 24, "rtt_min"))
        units.append(Unit("ca_ops", field_path(tcp_sock, "icsk_ca_ops").offset, 8, "icsk_ca_ops"))
        units.sort(key=lambda u: u.offset)
        self.units = tuple(units)
        self.writable = frozenset(i for i, u in enumerate(units) if u.name in WRITABLE_FIELDS or u.kind == "priv")
        for i in self.writable:
            if units[i].kind == "bits":
                raise ValueError("a writable tcp_sock field is a bitfield; the bridge reads whole integers")
        self.prefixes = _prefix_structs(tcp_sock)
        self._plans: dict[tuple[frozenset[int], frozenset[int]], SyncPlan] = {}
        self.full = self.plan(range(len(units)), self.writable)
        self.empty = self.plan((), ())

    def plan(self, write: Iterable[int], back: Iterable[int]) -> SyncPlan:
        """The (cached) plan writing units ``write`` and reading back units ``back``."""
        back_set = frozenset(back) & self.writable
        key = (frozenset(write) | back_set, back_set)
        plan = self._plans.get(key)
        if plan is None:
            plan = SyncPlan(self, *key)
            self._plans[key] = plan
        return plan

    def merge(self, a: SyncPlan | None, b: SyncPlan) -> SyncPlan:
        """A plan covering both (a socket that changed algorithm keeps syncing the old one's fields)."""
        if a is None or a is b:
            return b
        return self.plan(a.write | b.write, a.back | b.back)

    def plan_for(self, access: AccessSet | None) -> SyncPlan:
        """The plan of programs with access set ``access`` (None: unknown, the full plan)."""
        if access is None or not access.calls <= TRUSTED_CALLS:
            return self.full
        write: set[int] = set()
        back: set[int] = set()
        units = self.units
        for fields, out in ((access.reads, write), (access.writes, back)):
            for sname, off, size in fields:
                if sname in self.prefixes:
                    out.update(i for i, u in enumerate(units) if u.overlaps(off, size))
        if back - self.writable:  # a store the bridge would not read back (T8 forbids it)
            return self.full
        return self.plan(write, back)


def _prefix_structs(tcp_sock: btflib.Struct) -> frozenset[str]:
    """Names of ``tcp_sock`` and the structs it starts with (``sock``, ``sock_common``, ...)."""
    names: set[str] = set()
    cur: btflib.Type | None = tcp_sock
    for _ in range(16):
        u = btflib.underlying(cur) if cur is not None else None
        if not isinstance(u, btflib.Struct):
            break
        if u.name:
            names.add(u.name)
        if not u.members or u.members[0].bit_offset:
            break
        cur = u.members[0].type
    return frozenset(names)


class SyncPlan:
    """Generated copy functions for a set of units.

    ``write_in(sk, buf, base, shadow, ca_addr)`` writes the *write* units whose value
    differs from ``shadow``; ``read_back(sk, buf, base, shadow)`` loads the *back* units
    into ``sk``.  ``shadow`` is a per-socket list with one slot per unit of the layout.
    """

    def __init__(self, layout: SyncLayout, write: frozenset[int], back: frozenset[int]) -> None:
        self.write = write
        self.back = back
        self.names = frozenset(layout.units[i].name for i in write | back if layout.units[i].name) | frozenset(
            name for i in write if layout.units[i].kind == "bits" for name, _, _ in layout.units[i].bits
        )
        self.write_in: Callable[[TcpSock, Any, int, list[Any], int], None] = _gen_write(layout, sorted(write))
        self.read_back: Callable[[TcpSock, Any, int, list[Any]], None] = _gen_read(layout, sorted(back))

    def __repr__(self) -> str:
        return f"SyncPlan(write={len(self.write)} units, back={len(self.back)} units)"


def _packer(ns: dict[str, Any], size: int) -> str:
    key = f"P{size}"
    ns[key] = struct.Struct("<" + _FMT[size]).pack_into
    return key


def _gen_write(layout: SyncLayout, idx: list[int]) -> Callable[..., None]:
    ns: dict[str, Any] = {"RTT": struct.Struct("<6I").pack_into, "bytes": bytes, "list": list}
    lines = ["def write_in(sk, buf, base, sh, ca):"]
    for i in idx:
        u = layout.units[i]
        mask = (1 << (8 * u.size)) - 1
        if u.kind == "plain":
            p = _packer(ns, u.size)
            lines += [f"    v = sk.{_ident(u.name)}", f"    if v != sh[{i}]:", f"        sh[{i}] = v"]
            lines.append(f"        {p}(buf, base + {u.offset}, v & {mask})")
        elif u.kind == "bits":
            p = _packer(ns, u.size)
            expr = " | ".join(f"((sk.{_ident(n)} & {(1 << w) - 1}) << {s})" for n, s, w in u.bits)
            lines += [f"    v = ({expr}) & {mask}", f"    if v != sh[{i}]:", f"        sh[{i}] = v"]
            lines.append(f"        {p}(buf, base + {u.offset}, v)")
        elif u.kind == "priv":
            lines += ["    v = sk.icsk_ca_priv", f"    if v != sh[{i}]:", f"        sh[{i}] = bytes(v)"]
            lines.append(f"        buf[base + {u.offset} : base + {u.offset + u.size}] = v")
        elif u.kind == "rtt_min":
            lines += ["    v = sk.rtt_min", f"    if v != sh[{i}]:", f"        sh[{i}] = list(v)"]
            lines.append(f"        RTT(buf, base + {u.offset}, *[x & 0xFFFFFFFF for x in v])")
        else:  # ca_ops
            p = _packer(ns, 8)
            lines += [f"    if ca != sh[{i}]:", f"        sh[{i}] = ca", f"        {p}(buf, base + {u.offset}, ca)"]
    lines.append("    return None")
    exec(compile("\n".join(lines) + "\n", "<tcp_sock sync in>", "exec"), ns)
    fn: Callable[..., None] = ns["write_in"]
    return fn


def _gen_read(layout: SyncLayout, idx: list[int]) -> Callable[..., None]:
    ns: dict[str, Any] = {"bytes": bytes}
    lines = ["def read_back(sk, buf, base, sh):"]
    for i in idx:
        u = layout.units[i]
        if u.kind == "priv":
            lines.append(f"    v = buf[base + {u.offset} : base + {u.offset + u.size}]")
            lines += ["    sk.icsk_ca_priv[:] = v", f"    sh[{i}] = bytes(v)"]
            continue
        key = f"U{u.size}"
        ns[key] = struct.Struct("<" + _FMT[u.size]).unpack_from
        lines += [f"    v = {key}(buf, base + {u.offset})[0]", f"    sk.{_ident(u.name)} = v", f"    sh[{i}] = v"]
    lines.append("    return None")
    exec(compile("\n".join(lines) + "\n", "<tcp_sock sync back>", "exec"), ns)
    fn: Callable[..., None] = ns["read_back"]
    return fn


def _ident(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"tcp_sock field {name!r} is not a field name")
    return name
