"""``bpf_setsockopt`` / ``bpf_getsockopt`` / ``bpf_tcp_send_ack`` for tcp_congestion_ops programs (T10).

The helpers mirror Linux 6.18 ``net/core/filter.c`` (``__bpf_setsockopt``,
``sol_socket_sockopt``, ``sol_tcp_sockopt``, ``bpf_sol_tcp_setsockopt``,
``sol_tcp_sockopt_congestion``) as seen by a struct_ops program, whose setsockopt is
``bpf_sk_setsockopt_nodelay_proto`` (T10): ``SOL_TCP``/``TCP_NODELAY`` is refused with
``-EOPNOTSUPP``, everything else goes to the common code.

Supported (every other level or optname gives the kernel's ``-EINVAL``; optnames the
kernel accepts but the emulation does not model give ``-EOPNOTSUPP``, see
:data:`UNMODELLED`):

==============================  ====================================================
``SOL_TCP`` ``TCP_CONGESTION``  set: ``tcp_set_congestion_control`` (release old, init
                                new; ``ENOENT`` unknown, ``EBUSY`` when re-entered from
                                the new algorithm's ``init``, ``ENOTSUPP`` for "cdg");
                                get: the name, NUL-terminated at ``optlen - 1``
``TCP_BPF_IW``                  ``snd_cwnd = val`` before data was sent (else EINVAL)
``TCP_BPF_SNDCWND_CLAMP``       ``snd_cwnd_clamp = snd_ssthresh = val`` (val > 0)
``TCP_BPF_DELACK_MAX``/``RTO_MIN`` ``icsk_delack_max``/``icsk_rto_min`` in jiffies
``TCP_BPF_SOCK_OPS_CB_FLAGS``   ``bpf_sock_ops_cb_flags`` (bits of ALL_CB_FLAGS)
``TCP_NODELAY``                 set: EOPNOTSUPP (nodelay proto); get: ``nonagle`` bit
``TCP_MAXSEG``                  set: ``rx_opt.user_mss`` (0 or 88..32767); get: mss
``TCP_KEEPIDLE/INTVL/CNT``,     stored with the kernel's range checks
``TCP_SYNCNT``, ``TCP_USER_TIMEOUT``, ``TCP_NOTSENT_LOWAT``, ``TCP_THIN_LINEAR_TIMEOUTS``
``SOL_SOCKET`` ``SO_SNDBUF``    ``max(2 * min(val, wmem_max), 4608)``; ``SO_RCVBUF`` alike
``SO_MAX_PACING_RATE``          caps ``sk_pacing_rate``; pacing becomes NEEDED
``SO_PRIORITY``, ``SO_MARK``    stored
==============================  ====================================================

Where the values live: a socket of the TCP simulator bridge
(:class:`~structops.kernel.tcp_bridge.KernelTcpSock`) keeps the simulator's fields in
the Python object (so a clamp or a pacing cap changes the simulation) and the rest in
:class:`SockoptExtras`, which the bridge writes into the ``struct tcp_sock`` bytes on
every ``sync_to_kernel``.  Any other socket address is plain kernel memory.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.kernel.tcp_bridge import KernelTcpSock, _layout, _locate
from structops.sim.sock import TcpSock
from structops.uapi import ENOTSUPP

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel

__all__ = [
    "SOL_SOCKET",
    "SOL_TCP",
    "UNMODELLED",
    "SockoptExtras",
    "bpf_getsockopt",
    "bpf_setsockopt",
    "bpf_tcp_send_ack",
    "helper_specs",
]

U64 = 0xFFFF_FFFF_FFFF_FFFF
U32 = 0xFFFF_FFFF

SOL_IP, SOL_SOCKET, SOL_TCP, SOL_IPV6 = 0, 1, 6, 41
TCP_NODELAY, TCP_MAXSEG, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_SYNCNT = 1, 2, 4, 5, 6, 7
TCP_WINDOW_CLAMP, TCP_CONGESTION, TCP_THIN_LINEAR_TIMEOUTS, TCP_USER_TIMEOUT = 10, 13, 16, 18
TCP_NOTSENT_LOWAT, TCP_SAVE_SYN, TCP_SAVED_SYN, TCP_RTO_MAX_MS = 25, 27, 28, 44
TCP_BPF_IW, TCP_BPF_SNDCWND_CLAMP, TCP_BPF_DELACK_MAX, TCP_BPF_RTO_MIN = 1001, 1002, 1003, 1004
TCP_BPF_SOCK_OPS_CB_FLAGS = 1008
SO_REUSEADDR, SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_PRIORITY, SO_REUSEPORT = 2, 7, 8, 9, 12, 15
SO_RCVLOWAT, SO_BINDTODEVICE, SO_MARK, SO_MAX_PACING_RATE, SO_BINDTOIFINDEX, SO_TXREHASH = 18, 25, 36, 47, 62, 74

#: ``BPF_SOCK_OPS_ALL_CB_FLAGS`` of 6.18.
BPF_SOCK_OPS_ALL_CB_FLAGS = 127
#: ``net.core.wmem_max`` / ``rmem_max`` of the project machines (4 MiB).
WMEM_MAX = RMEM_MAX = 4194304
#: ``SOCK_MIN_SNDBUF`` / ``SOCK_MIN_RCVBUF`` on x86-64 6.18 (measured: SO_SNDBUF 1 -> 4608).
SOCK_MIN_SNDBUF, SOCK_MIN_RCVBUF = 4608, 2304
SOCK_SNDBUF_LOCK, SOCK_RCVBUF_LOCK = 1, 2
TCP_MIN_MSS, MAX_TCP_WINDOW = 88, 32767
MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT, MAX_TCP_SYNCNT = 32767, 32767, 127, 127
TCP_NAGLE_OFF = 1
SK_PACING_NONE, SK_PACING_NEEDED = 0, 1
TCP_CA_NAME_MAX = 16

#: Optnames the kernel lets a struct_ops program use but the emulation does not model.
UNMODELLED: dict[int, frozenset[int]] = {
    SOL_SOCKET: frozenset(
        {SO_REUSEADDR, SO_KEEPALIVE, SO_REUSEPORT, SO_RCVLOWAT, SO_BINDTODEVICE, SO_BINDTOIFINDEX, SO_TXREHASH}
    ),
    SOL_TCP: frozenset({TCP_WINDOW_CLAMP, TCP_SAVE_SYN, TCP_SAVED_SYN, TCP_RTO_MAX_MS}),
}
_SOL_SOCKET_INT = frozenset({SO_SNDBUF, SO_RCVBUF, SO_PRIORITY, SO_MARK, SO_MAX_PACING_RATE}) | (
    UNMODELLED[SOL_SOCKET] - {SO_BINDTODEVICE}
)
_SOL_TCP_INT = frozenset(
    {
        TCP_NODELAY,
        TCP_MAXSEG,
        TCP_KEEPIDLE,
        TCP_KEEPINTVL,
        TCP_KEEPCNT,
        TCP_SYNCNT,
        TCP_WINDOW_CLAMP,
        TCP_THIN_LINEAR_TIMEOUTS,
        TCP_USER_TIMEOUT,
        TCP_NOTSENT_LOWAT,
        TCP_SAVE_SYN,
        TCP_RTO_MAX_MS,
    }
)

#: Kernel defaults of the fields the simulator's TcpSock does not carry.
_EXTRA_DEFAULTS: dict[str, int] = {
    "sk_sndbuf": 16384,  # tcp_wmem[1]
    "sk_rcvbuf": 131072,  # tcp_rmem[1]
    "sk_userlocks": 0,
    "sk_priority": 0,
    "sk_mark": 0,
    "nonagle": 0,
    "rx_opt.user_mss": 0,
    "icsk_delack_max": 0,
    "icsk_rto_min": 0,
    "icsk_syn_retries": 0,
    "icsk_user_timeout": 0,
    "keepalive_time": 0,
    "keepalive_intvl": 0,
    "keepalive_probes": 0,
    "notsent_lowat": 0,
    "thin_lto": 0,
    "bpf_sock_ops_cb_flags": 0,
    "bpf_chg_cc_inprogress": 0,
    "syn_data": 0,
}
#: Kernel path -> TcpSock attribute where the simulator spells it differently.
_SIM_NAME = {"skc_state": "sk_state", "icsk_ack.pending": "icsk_ack_pending"}
_SIM_SLOTS = frozenset(TcpSock.__slots__)


def _tcp_sock_type(kernel: EmulatedKernel) -> btflib.Struct:
    return kernel.vmlinux.spec.find("tcp_sock", btflib.Struct)


def _mem_read(kernel: EmulatedKernel, addr: int, path: str) -> int:
    loc = _locate(_tcp_sock_type(kernel), path)
    raw = int.from_bytes(kernel.kmem.space.read(addr + loc.offset, loc.size), "little")
    if loc.bit_size:
        raw = (raw >> loc.bit_offset) & ((1 << loc.bit_size) - 1)
    return raw


def _mem_write(kernel: EmulatedKernel, addr: int, path: str, value: int) -> None:
    t = _tcp_sock_type(kernel)
    loc = _locate(t, path)
    unit = bytearray(kernel.kmem.space.read(addr + loc.offset, loc.size))
    _put(unit, -loc.offset, t, path, value)
    kernel.kmem.space.write(addr + loc.offset, unit)


_loc = functools.lru_cache(maxsize=1024)(_locate)  # a BTF member walk per field and sync was apply's cost


@functools.lru_cache(maxsize=64)
def _shared_paths(tcp_sock: btflib.Struct) -> tuple[str, ...]:
    """Extra fields sharing bytes with a unit the bridge syncs (``nonagle`` sits in the byte of
    ``rate_app_limited``): rewriting that unit clears them, so every apply writes them."""
    locs = {path: _loc(tcp_sock, path) for path in _EXTRA_DEFAULTS}
    return tuple(p for p, lc in locs.items() if any(u.overlaps(lc.offset, lc.size) for u in _layout(tcp_sock).units))


def _put(buf: bytearray | memoryview, base: int, tcp_sock: btflib.Struct, path: str, value: int) -> None:
    loc = _loc(tcp_sock, path)
    off = base + loc.offset
    if loc.bit_size:
        mask = ((1 << loc.bit_size) - 1) << loc.bit_offset
        unit = int.from_bytes(buf[off : off + loc.size], "little")
        value = (unit & ~mask) | ((value << loc.bit_offset) & mask)
    buf[off : off + loc.size] = (value & ((1 << (8 * loc.size)) - 1)).to_bytes(loc.size, "little")


class SockoptExtras:
    """Socket-option state of a bridged socket that the simulator's :class:`TcpSock` lacks.

    ``values`` maps kernel field paths of ``struct tcp_sock`` (``sk_sndbuf``,
    ``rx_opt.user_mss``, ...) to integers; :meth:`apply` writes them into the struct
    (called by ``KernelTcpSock.sync_to_kernel``, which otherwise rewrites the
    simulator's fields only).
    """

    __slots__ = ("_shared", "_written", "tcp_sock", "values")

    def __init__(self, tcp_sock: btflib.Struct) -> None:
        self.tcp_sock = tcp_sock
        self.values: dict[str, int] = dict(_EXTRA_DEFAULTS)
        self._written: dict[str, int] = {}  # path -> value last written into the struct
        self._shared = _shared_paths(tcp_sock)

    def apply(self, buf: bytearray, base: int) -> None:
        """Write the stored values into the ``struct tcp_sock`` at ``buf[base:]``: those not
        written yet or changed since, and those sharing bytes with the bridge's units."""
        values, written = self.values, self._written
        if values != written:
            for path, value in values.items():
                if written.get(path) != value:
                    _put(buf, base, self.tcp_sock, path, value)
                    written[path] = value
        for path in self._shared:
            _put(buf, base, self.tcp_sock, path, values.get(path, _EXTRA_DEFAULTS[path]))

    def invalidate(self) -> None:
        """Forget what the struct holds (it was written by other means): the next
        :meth:`apply` writes every value."""
        self._written.clear()


class _Sock:
    """One socket as the option code sees it: bridged (Python fields) or raw kernel memory."""

    def __init__(self, kernel: EmulatedKernel, addr: int) -> None:
        self.kernel = kernel
        self.addr = addr
        table: dict[int, KernelTcpSock] = getattr(kernel, "tcp_socks", {})
        sim = table.get(addr)
        self.sim = sim if sim is not None and not sim.freed else None
        self.dirty = False
        if self.sim is not None:
            self.sim.sync_from_kernel()  # the program's writes so far (T8 fields)
            self.sim.truncate_writable()
            if self.sim.sockopt is None:
                self.sim.sockopt = SockoptExtras(_tcp_sock_type(kernel))
                self.sim.resync()  # op calls now apply the extras

    def get(self, path: str) -> int:
        sim = self.sim
        if sim is None:
            return _mem_read(self.kernel, self.addr, path)
        name = _SIM_NAME.get(path, path)
        if name in _SIM_SLOTS:
            return int(getattr(sim, name))
        extras: SockoptExtras = sim.sockopt
        return extras.values.get(path, _EXTRA_DEFAULTS.get(path, 0))

    def set(self, path: str, value: int) -> None:
        sim = self.sim
        if sim is None:
            _mem_write(self.kernel, self.addr, path, value)
            return
        name = _SIM_NAME.get(path, path)
        if name in _SIM_SLOTS:
            setattr(sim, name, value)
        else:
            sim.sockopt.values[path] = value
        self.dirty = True

    def done(self) -> None:
        """Make the kernel struct show the new state (the program reads it next)."""
        if self.sim is not None and not self.sim.freed:
            self.sim.sync_to_kernel()

    @property
    def hz(self) -> int:
        """Jiffies per second of the socket's clock (the simulator's ``hz``, else 1000)."""
        sim = self.sim
        bridge_sim = getattr(getattr(sim, "_bridge", None), "sim", None) if sim is not None else None
        return int(getattr(getattr(bridge_sim, "config", None), "hz", 1000))


def _s32(v: int) -> int:
    v &= U32
    return v - (1 << 32) if v & 0x8000_0000 else v


def _usecs_to_jiffies(us: int, hz: int) -> int:
    return -(-(us & U32) * hz // 1_000_000)


# ---------------------------------------------------------------------------------------
# setsockopt
# ---------------------------------------------------------------------------------------
def _set_bpf_tcp(sk: _Sock, optname: int, val: int) -> int:
    """``bpf_sol_tcp_setsockopt``: the TCP_BPF_* options."""
    if optname == TCP_BPF_IW:
        if val <= 0 or sk.get("data_segs_out") > sk.get("syn_data"):
            return -errno.EINVAL
        sk.set("snd_cwnd", val)
    elif optname == TCP_BPF_SNDCWND_CLAMP:
        if val <= 0:
            return -errno.EINVAL
        sk.set("snd_cwnd_clamp", val)
        sk.set("snd_ssthresh", val)
    elif optname in (TCP_BPF_DELACK_MAX, TCP_BPF_RTO_MIN):
        hz = sk.hz
        timeout = _usecs_to_jiffies(val, hz)
        if timeout > hz // 5 or timeout < 2:  # TCP_DELACK_MAX = TCP_RTO_MIN = HZ/5; TCP_TIMEOUT_MIN 2
            return -errno.EINVAL
        sk.set("icsk_delack_max" if optname == TCP_BPF_DELACK_MAX else "icsk_rto_min", timeout)
    elif optname == TCP_BPF_SOCK_OPS_CB_FLAGS:
        if val & ~BPF_SOCK_OPS_ALL_CB_FLAGS:
            return -errno.EINVAL
        sk.set("bpf_sock_ops_cb_flags", val)
    else:
        return -errno.EINVAL
    return 0


#: ``do_tcp_setsockopt`` integer options: optname -> (field, check(val), to_field(val, hz)).
_TCP_STORED: dict[int, tuple[str, Callable[[int], bool], Callable[[int, int], int]]] = {
    TCP_MAXSEG: ("rx_opt.user_mss", lambda v: v == 0 or TCP_MIN_MSS <= v <= MAX_TCP_WINDOW, lambda v, hz: v),
    TCP_KEEPIDLE: ("keepalive_time", lambda v: 1 <= v <= MAX_TCP_KEEPIDLE, lambda v, hz: v * hz),
    TCP_KEEPINTVL: ("keepalive_intvl", lambda v: 1 <= v <= MAX_TCP_KEEPINTVL, lambda v, hz: v * hz),
    TCP_KEEPCNT: ("keepalive_probes", lambda v: 1 <= v <= MAX_TCP_KEEPCNT, lambda v, hz: v),
    TCP_SYNCNT: ("icsk_syn_retries", lambda v: 1 <= v <= MAX_TCP_SYNCNT, lambda v, hz: v),
    TCP_USER_TIMEOUT: ("icsk_user_timeout", lambda v: v >= 0, lambda v, hz: v),
    TCP_NOTSENT_LOWAT: ("notsent_lowat", lambda v: True, lambda v, hz: v & U32),
    TCP_THIN_LINEAR_TIMEOUTS: ("thin_lto", lambda v: v in (0, 1), lambda v, hz: v),
}


def _set_tcp(sk: _Sock, optname: int, optval: bytes, setter: Callable[[str], int]) -> int:
    """``sol_tcp_sockopt`` (set side)."""
    if optname == TCP_CONGESTION:
        return _set_congestion(sk, optval, setter)
    if optname == TCP_SAVED_SYN:
        return -errno.EOPNOTSUPP if optval else -errno.EINVAL
    if optname not in _SOL_TCP_INT:
        if len(optval) != 4:
            return -errno.EINVAL
        return _set_bpf_tcp(sk, optname, _s32(int.from_bytes(optval, "little")))
    if len(optval) != 4:
        return -errno.EINVAL
    val = _s32(int.from_bytes(optval, "little"))
    if optname in UNMODELLED[SOL_TCP]:
        return -errno.EOPNOTSUPP
    if optname == TCP_NODELAY:
        return -errno.EOPNOTSUPP  # bpf_sk_setsockopt_nodelay_proto (T10)
    field, ok, conv = _TCP_STORED[optname]
    if not ok(val):
        return -errno.EINVAL
    sk.set(field, conv(val, sk.hz))
    return 0


def _set_congestion(sk: _Sock, optval: bytes, setter: Callable[[str], int]) -> int:
    """``sol_tcp_sockopt_congestion`` then ``tcp_set_congestion_control`` (no autoload)."""
    n = len(optval)
    if n < 2:
        return -errno.EINVAL
    if n >= 3 and optval[:3] == b"cdg" and (n == 3 or optval[3] == 0):
        return -ENOTSUPP  # cdg keeps a pointer in icsk_ca_priv
    if sk.get("bpf_chg_cc_inprogress"):
        return -errno.EBUSY  # the new algorithm's init may not switch again
    name = optval[: min(TCP_CA_NAME_MAX - 1, n)].split(b"\0", 1)[0].decode("latin-1")
    sk.set("bpf_chg_cc_inprogress", 1)
    sk.done()
    try:
        return setter(name)
    finally:
        sk.set("bpf_chg_cc_inprogress", 0)


def _set_socket(sk: _Sock, optname: int, optval: bytes) -> int:
    """``sol_socket_sockopt`` -> ``sk_setsockopt`` (set side)."""
    if optname not in _SOL_SOCKET_INT and optname != SO_BINDTODEVICE:
        return -errno.EINVAL
    if optname != SO_BINDTODEVICE and len(optval) != 4:
        return -errno.EINVAL
    if optname in UNMODELLED[SOL_SOCKET]:
        return -errno.EOPNOTSUPP
    raw = int.from_bytes(optval, "little")
    if optname == SO_SNDBUF:
        sk.set("sk_userlocks", sk.get("sk_userlocks") | SOCK_SNDBUF_LOCK)
        sk.set("sk_sndbuf", max(_s32(min(raw, WMEM_MAX) * 2), SOCK_MIN_SNDBUF))
    elif optname == SO_RCVBUF:
        v = min(min(raw, RMEM_MAX), 0x7FFF_FFFF // 2)
        sk.set("sk_userlocks", sk.get("sk_userlocks") | SOCK_RCVBUF_LOCK)
        sk.set("sk_rcvbuf", max(v * 2, SOCK_MIN_RCVBUF))
    elif optname == SO_MAX_PACING_RATE:
        rate = U64 if raw == U32 else raw
        if rate != U64 and sk.get("sk_pacing_status") == SK_PACING_NONE:
            sk.set("sk_pacing_status", SK_PACING_NEEDED)
        sk.set("sk_max_pacing_rate", rate)
        if rate < sk.get("sk_pacing_rate"):
            sk.set("sk_pacing_rate", rate)
    elif optname == SO_PRIORITY:
        sk.set("sk_priority", raw)  # a BPF context counts as CAP_NET_ADMIN
    else:  # SO_MARK
        sk.set("sk_mark", raw)
    return 0


def bpf_setsockopt(
    kernel: EmulatedKernel, addr: int, level: int, optname: int, optval: bytes, setter: Callable[[str], int]
) -> int:
    """``bpf_sk_setsockopt_nodelay`` on the socket at ``addr``: 0 or a negative errno.

    ``setter(name)`` performs ``tcp_set_congestion_control`` for ``TCP_CONGESTION``.
    """
    sk = _Sock(kernel, addr)
    level, optname = _s32(level), _s32(optname)
    try:
        if level == SOL_SOCKET:
            return _set_socket(sk, optname, optval)
        if level == SOL_TCP:
            return _set_tcp(sk, optname, optval, setter)
        if level in (SOL_IP, SOL_IPV6):
            return -errno.EOPNOTSUPP if len(optval) == 4 else -errno.EINVAL
        return -errno.EINVAL
    finally:
        sk.done()


# ---------------------------------------------------------------------------------------
# getsockopt
# ---------------------------------------------------------------------------------------
def _ca_name(kernel: EmulatedKernel, sk: _Sock) -> str | None:
    if sk.sim is not None:
        ops = sk.sim.icsk_ca_ops
        return None if ops is None else str(ops.name)
    ptr = _mem_read(kernel, sk.addr, "icsk_ca_ops")
    ccs = getattr(kernel, "tcp_congestion", None)
    for cc in ccs.entries if ccs is not None else ():
        if cc.kdata is not None and cc.kdata.addr == ptr:
            return str(cc.name)
    return None


def _get(kernel: EmulatedKernel, sk: _Sock, level: int, optname: int, n: int) -> tuple[int, bytes]:
    """``__bpf_getsockopt`` before the padding: (err, bytes written)."""
    if level == SOL_TCP and optname == TCP_CONGESTION:
        if n < 2:
            return -errno.EINVAL, b""
        name = _ca_name(kernel, sk)
        if name is None:
            return -errno.EINVAL, b""
        raw = name.encode()[:TCP_CA_NAME_MAX].ljust(TCP_CA_NAME_MAX, b"\0")
        return 0, raw[: min(n - 1, TCP_CA_NAME_MAX)]
    if level == SOL_TCP:
        if optname not in _SOL_TCP_INT and optname != TCP_SAVED_SYN:
            return -errno.EINVAL, b""
        if optname == TCP_SAVED_SYN or n != 4:
            return (-errno.EOPNOTSUPP if optname == TCP_SAVED_SYN and n >= 1 else -errno.EINVAL), b""
        if optname in UNMODELLED[SOL_TCP]:
            return -errno.EOPNOTSUPP, b""
        hz = sk.hz
        if optname == TCP_NODELAY:
            val = int(bool(sk.get("nonagle") & TCP_NAGLE_OFF))
        elif optname == TCP_MAXSEG:
            val = sk.get("mss_cache")
        elif optname in (TCP_KEEPIDLE, TCP_KEEPINTVL):
            field = "keepalive_time" if optname == TCP_KEEPIDLE else "keepalive_intvl"
            val = (sk.get(field) or (7200 if optname == TCP_KEEPIDLE else 75) * hz) // hz
        elif optname == TCP_KEEPCNT:
            val = sk.get("keepalive_probes") or 9
        elif optname == TCP_SYNCNT:
            val = sk.get("icsk_syn_retries") or 6
        else:
            val = sk.get(_TCP_STORED[optname][0])
        return 0, (val & U32).to_bytes(4, "little")
    if level == SOL_SOCKET:
        if optname not in _SOL_SOCKET_INT or n != 4:
            return -errno.EINVAL, b""
        if optname in UNMODELLED[SOL_SOCKET]:
            return -errno.EOPNOTSUPP, b""
        field = {
            SO_SNDBUF: "sk_sndbuf",
            SO_RCVBUF: "sk_rcvbuf",
            SO_PRIORITY: "sk_priority",
            SO_MARK: "sk_mark",
            SO_MAX_PACING_RATE: "sk_max_pacing_rate",
        }[optname]
        return 0, min(sk.get(field), U32).to_bytes(4, "little")
    if level in (SOL_IP, SOL_IPV6):
        return (-errno.EOPNOTSUPP if n == 4 else -errno.EINVAL), b""
    return -errno.EINVAL, b""


def bpf_getsockopt(kernel: EmulatedKernel, addr: int, level: int, optname: int, optlen: int) -> tuple[int, bytes]:
    """``bpf_sk_getsockopt``: (0 or negative errno, the ``optlen`` bytes to store at optval).

    On error the buffer is zeroed; a shorter value is padded with zeros (as the kernel).
    """
    sk = _Sock(kernel, addr)
    err, data = _get(kernel, sk, _s32(level), _s32(optname), optlen)
    if err:
        data = b""
    return err, data[:optlen].ljust(optlen, b"\0")


def bpf_tcp_send_ack(kernel: EmulatedKernel, addr: int) -> int:
    """``bpf_tcp_send_ack``: an immediate ACK from a simulator receiver socket.

    The simulator's receiver ACKs its own ``rcv_nxt`` (the helper's ``rcv_nxt``
    argument is not modelled); on a sender or an unbridged socket it only counts.
    """
    kernel.tcp_send_acks = getattr(kernel, "tcp_send_acks", 0) + 1  # type: ignore[attr-defined]
    table: dict[int, KernelTcpSock] = getattr(kernel, "tcp_socks", {})
    sim = table.get(addr)
    if sim is not None and not sim.freed:
        sim.sync_from_kernel()
        sim.truncate_writable()
        sim.tcp_send_ack()
        sim.sync_to_kernel()
    return 0


# ---------------------------------------------------------------------------------------
# TCP_CONGESTION on a bridged socket
# ---------------------------------------------------------------------------------------
def _switch_cc(kernel: EmulatedKernel, addr: int, name: str) -> int:
    """``tcp_set_congestion_control(sk, name, load=false, cap_net_admin=true)`` for ``addr``."""
    table: dict[int, KernelTcpSock] = getattr(kernel, "tcp_socks", {})
    sk = table.get(addr)
    if sk is None or sk.freed:
        return -errno.EOPNOTSUPP  # no simulator socket to run the algorithms on
    bridge = sk._bridge
    cc = kernel.tcp_congestion.find(name)  # type: ignore[attr-defined]
    try:
        ops = None if cc is None else bridge.registry.ops(cc)
    except OSError as e:  # a native algorithm the simulator does not model (bbr)
        return -(e.errno or errno.EOPNOTSUPP)
    if ops is not None and ops is sk.icsk_ca_ops:
        sk.icsk_ca_setsockopt = 1
        return 0
    if ops is None or cc is None:
        return -errno.ENOENT
    if not cc.try_get():
        return -errno.EBUSY
    cc.put()
    sim = bridge.sim
    flow: Any = None
    if sim is not None and 0 <= sk.sim_flow_id < len(sim.flows):
        flow = sim.flows[sk.sim_flow_id]
    _reinit(sk, ops, flow)
    return 0


def _call_op(sk: KernelTcpSock, flow: Any, op: str) -> None:
    if flow is not None:
        flow.call_op(sk, op)
        return
    fn = getattr(sk.icsk_ca_ops, op)
    if fn is None:
        return
    sk.sync_to_kernel()
    fn(sk)
    sk.sync_from_kernel()
    sk.truncate_writable()


def _reinit(sk: KernelTcpSock, ops: Any, flow: Any) -> None:
    """``tcp_reinit_congestion_control``: cleanup (release), new ops, zeroed priv, init."""
    if sk.icsk_ca_initialized and sk.icsk_ca_ops is not None and sk.icsk_ca_ops.release is not None:
        _call_op(sk, flow, "release")
    sk.icsk_ca_initialized = 0
    sk.icsk_ca_ops = ops
    sk.icsk_ca_setsockopt = 1
    sk.icsk_ca_priv[:] = bytes(len(sk.icsk_ca_priv))
    if flow is not None and flow.tp is sk:
        flow.ops = ops
    if flow is None or not flow.closed:
        sk.prior_ssthresh = 0
        if ops.init is not None:
            _call_op(sk, flow, "init")
        sk.icsk_ca_initialized = 1


# ---------------------------------------------------------------------------------------
# VM helpers
# ---------------------------------------------------------------------------------------
def helper_specs(kernel: EmulatedKernel, prog_types: frozenset[int]) -> list[Any]:
    """The VM helpers 49 (``bpf_setsockopt``), 57 (``bpf_getsockopt``), 116 (``bpf_tcp_send_ack``)."""
    from structops.vm import HelperSpec

    space = kernel.kmem.space

    def setsockopt(run: object, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        n = r5 & U32
        optval = space.read(r4, n) if n else b""
        ret = bpf_setsockopt(kernel, r1, r2, r3, optval, lambda name: _switch_cc(kernel, r1, name))
        return ret & U64

    def getsockopt(run: object, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        n = r5 & U32
        err, data = bpf_getsockopt(kernel, r1, r2, r3, n)
        if n:
            space.write(r4, data)
        return err & U64

    def send_ack(run: object, r1: int, *_: int) -> int:
        return bpf_tcp_send_ack(kernel, r1) & U64

    return [
        HelperSpec(49, "bpf_setsockopt", setsockopt, prog_types=prog_types),
        HelperSpec(57, "bpf_getsockopt", getsockopt, prog_types=prog_types),
        HelperSpec(116, "bpf_tcp_send_ack", send_ack, prog_types=prog_types),
    ]
