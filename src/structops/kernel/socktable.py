"""The embedded kernel's inet socket table: what ``bpf_sk_lookup_tcp/udp`` and
``bpf_skc_lookup_tcp`` find (the TCP ehash/listening hash and the UDP table of the netns).

The TCP simulator's sockets are flows without addresses, so nothing there can be found by
a 4-tuple.  This table is the smallest faithful model: sockets created through
:func:`socket_table` (``tcp_listen``, ``tcp_established``, ``udp_bind``), each with its
addresses, state and ``sk_refcnt``, in the one network namespace the embedded kernel has
(the loopback device's, ifindex 1).  Lookups follow Linux 6.18 (measured here): a TCP
lookup of ``(saddr, sport) -> (daddr, dport)`` finds the established socket whose remote
end is ``saddr:sport`` and local end ``daddr:dport``, else the listener on ``dport`` bound
to ``daddr`` (before one bound to the wildcard address); a UDP lookup prefers a connected
socket, then an exact local address, then the wildcard.  A socket bound to a device is
found only for that ifindex.

References: an established TCP socket is refcounted (a lookup takes a reference that
``bpf_sk_release`` drops); listeners and UDP sockets are ``SOCK_RCU_FREE`` (neither takes
nor drops one), as in Linux.  :meth:`InetSock.close` unhashes the socket and drops the
owner's reference; its ``struct bpf_sock`` is freed when the last reference goes, so a
program still holding one keeps it readable, and :attr:`InetSock.refcnt` shows a leak.

Programs read the socket as ``struct bpf_sock`` (80 bytes, read-only): the fields the
kernel's ``bpf_sock_convert_ctx_access`` reads from the socket (``src_port`` in host
order, ``dst_port`` in network order, ``rx_queue_mapping`` -1).  IPv4-mapped IPv6
(dual-stack) sockets are not modelled.
"""

from __future__ import annotations

import errno
import ipaddress
import struct
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from structops.errors import bpf_error

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.kmem import Allocation
    from structops.vm.memory import AddressSpace

__all__ = ["BPF_SOCK_SIZE", "InetSock", "SocketTable", "socket_table", "table_of_space"]

AF_INET, AF_INET6 = 2, 10
SOCK_STREAM, SOCK_DGRAM = 1, 2
IPPROTO_TCP, IPPROTO_UDP = 6, 17
TCP_ESTABLISHED, TCP_CLOSE, TCP_LISTEN = 1, 7, 10
BPF_SOCK_SIZE = 80
_TABLES: weakref.WeakKeyDictionary[AddressSpace, SocketTable] = weakref.WeakKeyDictionary()

Endpoint = tuple[str, int]


def _ip(text: str) -> tuple[int, bytes]:
    """``(family, address bytes in network order)``."""
    addr = ipaddress.ip_address(text)
    return (AF_INET if addr.version == 4 else AF_INET6), addr.packed


@dataclass(eq=False)
class InetSock:
    """One socket of the table (see the module docstring)."""

    table: SocketTable
    family: int
    protocol: int
    local_ip: bytes
    local_port: int
    remote_ip: bytes
    remote_port: int
    state: int
    bound_dev_if: int = 0
    mark: int = 0
    priority: int = 0
    #: ``sk_refcnt``: the owner's reference plus those programs hold.
    refcnt: int = 1
    hashed: bool = True
    alloc: Allocation | None = field(default=None, repr=False)

    @property
    def rcu_free(self) -> bool:
        """``SOCK_RCU_FREE``: lookups of listeners and UDP sockets take no reference."""
        return self.protocol == IPPROTO_UDP or self.state == TCP_LISTEN

    @property
    def addr(self) -> int:
        """The ``struct bpf_sock *`` programs get (0 once freed)."""
        return self.alloc.addr if self.alloc is not None and not self.alloc.freed else 0

    def bpf_sock(self) -> bytes:
        """The ``struct bpf_sock`` a program reads."""
        out = bytearray(BPF_SOCK_SIZE)
        sock_type = SOCK_DGRAM if self.protocol == IPPROTO_UDP else SOCK_STREAM
        head = (self.bound_dev_if, self.family, sock_type, self.protocol, self.mark, self.priority)
        struct.pack_into("<6I", out, 0, *head)
        if self.family == AF_INET:
            out[24:28] = self.local_ip
            out[52:56] = self.remote_ip
        else:
            out[28:44] = self.local_ip
            out[56:72] = self.remote_ip
        struct.pack_into("<I", out, 44, self.local_port)
        struct.pack_into("!H", out, 48, self.remote_port)
        struct.pack_into("<Ii", out, 72, self.state, -1)
        return bytes(out)

    def get(self) -> None:
        """A lookup's reference (none for ``SOCK_RCU_FREE`` sockets)."""
        if not self.rcu_free:
            self.refcnt += 1

    def put(self) -> None:
        """``bpf_sk_release`` / close: drop a reference; the last one frees the socket."""
        if self.refcnt <= 0:
            return
        self.refcnt -= 1
        if self.refcnt == 0 and self.alloc is not None:
            self.table.forget(self)

    def close(self) -> None:
        """Unhash and drop the owner's reference."""
        if not self.hashed:
            return
        self.hashed = False
        self.table.unhash(self)
        if self.rcu_free:  # nobody else holds one: freed after the grace period
            self.refcnt = 0
            self.table.forget(self)
        else:
            self.put()


class SocketTable:
    """The sockets of the embedded kernel's network namespace (module docstring)."""

    def __init__(self, kernel: EmulatedKernel) -> None:
        self.kernel = kernel
        self.sockets: list[InetSock] = []
        self._by_addr: dict[int, InetSock] = {}

    # -- creating sockets
    def _add(self, sk: InetSock) -> InetSock:
        for other in self.sockets:
            if (
                other.protocol == sk.protocol
                and other.local_port == sk.local_port
                and other.state != TCP_ESTABLISHED
                and sk.state != TCP_ESTABLISHED
                and other.family == sk.family
                and (other.local_ip == sk.local_ip or not any(other.local_ip) or not any(sk.local_ip))
            ):
                raise bpf_error(errno.EADDRINUSE, f"port {sk.local_port} is already bound")
        sk.alloc = self.kernel.kmem.alloc(BPF_SOCK_SIZE, "bpf_sock", writable=False, data=sk.bpf_sock())
        self._by_addr[sk.alloc.addr] = sk
        self.sockets.append(sk)
        return sk

    def tcp_listen(self, ip: str, port: int, *, bound_dev_if: int = 0) -> InetSock:
        """A TCP socket listening on ``ip:port`` (``0.0.0.0`` / ``::``: any address)."""
        family, packed = _ip(ip)
        return self._add(
            InetSock(self, family, IPPROTO_TCP, packed, port, bytes(len(packed)), 0, TCP_LISTEN, bound_dev_if)
        )

    def tcp_established(self, local: Endpoint, remote: Endpoint, *, bound_dev_if: int = 0) -> InetSock:
        """One end of an established TCP connection (``local`` -> ``remote``)."""
        family, lip = _ip(local[0])
        rfamily, rip = _ip(remote[0])
        if rfamily != family:
            raise bpf_error(errno.EAFNOSUPPORT, "both ends of a connection need the same address family")
        return self._add(
            InetSock(self, family, IPPROTO_TCP, lip, local[1], rip, remote[1], TCP_ESTABLISHED, bound_dev_if)
        )

    def udp_bind(self, ip: str, port: int, *, connect: Endpoint | None = None, bound_dev_if: int = 0) -> InetSock:
        """A UDP socket bound to ``ip:port`` (connected to ``connect`` when given)."""
        family, packed = _ip(ip)
        rip, rport, state = bytes(len(packed)), 0, TCP_CLOSE
        if connect is not None:
            _, rip = _ip(connect[0])
            rport, state = connect[1], TCP_ESTABLISHED
        return self._add(InetSock(self, family, IPPROTO_UDP, packed, port, rip, rport, state, bound_dev_if))

    # -- bookkeeping
    def unhash(self, sk: InetSock) -> None:
        if sk in self.sockets:
            self.sockets.remove(sk)

    def forget(self, sk: InetSock) -> None:
        """Free the socket's ``struct bpf_sock`` (no reference is left)."""
        if sk.alloc is not None:
            self._by_addr.pop(sk.alloc.addr, None)
            self.kernel.kmem.free(sk.alloc)

    def at(self, addr: int) -> InetSock | None:
        """The live socket whose ``struct bpf_sock`` is at ``addr``."""
        return self._by_addr.get(addr)

    # -- lookups
    def lookup(
        self, protocol: int, family: int, saddr: bytes, sport: int, daddr: bytes, dport: int, dif: int
    ) -> InetSock | None:
        """``__inet_lookup`` / ``__udp4_lib_lookup``: the socket a packet ``saddr:sport ->
        daddr:dport`` arriving on ``dif`` is delivered to (ports in host order)."""
        best: InetSock | None = None
        best_score = -1
        for sk in self.sockets:
            if sk.protocol != protocol or sk.family != family or sk.local_port != dport:
                continue
            if sk.bound_dev_if and sk.bound_dev_if != dif:
                continue
            wildcard = not any(sk.local_ip)
            if not wildcard and sk.local_ip != daddr:
                continue
            connected = sk.state == TCP_ESTABLISHED
            if connected and (sk.remote_ip != saddr or sk.remote_port != sport):
                continue
            if protocol == IPPROTO_TCP and sk.state not in (TCP_ESTABLISHED, TCP_LISTEN):
                continue
            score = (4 if connected else 0) + (0 if wildcard else 2)
            if score > best_score:
                best, best_score = sk, score
        return best


def socket_table(kernel: EmulatedKernel) -> SocketTable:
    """The socket table of ``kernel`` (made on first use)."""
    space = kernel.kmem.space
    table = _TABLES.get(space)
    if table is None:
        table = _TABLES[space] = SocketTable(kernel)
    return table


def table_of_space(space: AddressSpace) -> SocketTable | None:
    """The socket table of the kernel whose address space is ``space`` (helpers)."""
    return _TABLES.get(space)
