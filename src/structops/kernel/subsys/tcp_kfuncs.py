"""The tcp congestion-control kfuncs (T2) over ``struct tcp_sock`` in kernel memory.

Each kfunc receives the raw u64 arguments of the BPF call (``sk`` is a kernel address)
and runs the native algorithm of :mod:`structops.sim.tcp_cong` on a BTF-typed view of
that socket, so a BPF program calling ``tcp_reno_cong_avoid`` and the native Reno
change exactly the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.kernel.btfview import StructView

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel

__all__ = ["implementation", "tcp_sock_view"]


def tcp_sock_view(kernel: EmulatedKernel, addr: int) -> Any:
    """A :class:`StructView` of the ``struct tcp_sock`` at ``addr``."""
    tcp_sock = kernel.vmlinux.spec.find("tcp_sock", btflib.Struct)
    return StructView(kernel.kmem, addr, tcp_sock)


def implementation(kernel: EmulatedKernel, name: str) -> Callable[..., int]:
    """The Python implementation of kfunc ``name`` taking raw u64 arguments."""

    def call(*args: int) -> int:
        from structops.sim import tcp_cong

        native = getattr(tcp_cong, name)
        tp = tcp_sock_view(kernel, args[0])
        if name in ("tcp_reno_ssthresh", "tcp_reno_undo_cwnd"):
            return int(native(tp)) & 0xFFFFFFFF
        if name == "tcp_slow_start":
            return int(native(tp, args[1] & 0xFFFFFFFF)) & 0xFFFFFFFF
        if name == "tcp_cong_avoid_ai":
            native(tp, args[1] & 0xFFFFFFFF, args[2] & 0xFFFFFFFF)
            return 0
        native(tp, args[1] & 0xFFFFFFFF, args[2] & 0xFFFFFFFF)  # tcp_reno_cong_avoid
        return 0

    call.__name__ = name
    return call
