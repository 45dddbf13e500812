"""Listener: a listening socket whose congestion control accepted sockets inherit.

In Linux a passive open copies the listener's ``icsk_ca_ops`` into the new socket
(``tcp_assign_congestion_control`` on the child, via ``inet_csk_clone_lock``) and takes
a module reference for it (for a BPF algorithm: a reference on its struct_ops map), then
``tcp_init_transfer`` runs the algorithm's ``init`` on the accepted socket.  The CC a
listener hands out is the one it was given when it was set up: after a struct_ops link
update a listener created before it still hands out the old ops (issue 14, as measured
on 6.18).  The listener itself holds one reference until it is closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from structops.sim.ops import TcpCongestionOps

if TYPE_CHECKING:
    from structops.sim.sock import TcpSock


class Listener:
    """A listening socket holding ``ops`` (and, for a BPF algorithm, a map reference)."""

    def __init__(self, sk: TcpSock, ops: TcpCongestionOps) -> None:
        self.sk = sk
        sk.icsk_ca_ops = ops  # the kernel-backed socket takes its reference here
        self.closed = False

    @property
    def ops(self) -> TcpCongestionOps:
        """What the next accepted socket inherits."""
        ops: TcpCongestionOps = self.sk.icsk_ca_ops
        return ops

    def close(self) -> None:
        """Stop listening: drop the listener's reference (accepted sockets keep theirs)."""
        if self.closed:
            return
        self.closed = True
        self.sk.icsk_ca_ops = None
        free = getattr(self.sk, "free", None)
        if callable(free):
            free()


__all__ = ["Listener"]
