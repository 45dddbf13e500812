"""The tcp congestion-control kfuncs (T2) over ``struct tcp_sock`` in kernel memory.

Each kfunc receives the raw u64 arguments of the BPF call (``sk`` is a kernel address)
and runs the native algorithm of :mod:`structops.sim.tcp_cong` on the simulated socket
that owns the struct (the program's writes read back first, the struct synced after),
or on a BTF-typed view of a ``tcp_sock`` no simulated socket owns, so a BPF program
calling ``tcp_reno_cong_avoid`` and the native Reno change exactly the same state.

The ``cubictcp_*`` kfuncs (``tcp_cubic_check_kfunc_ids`` of Linux 6.18, callable from
any struct_ops program) run :mod:`structops.sim.cubic` on the simulated socket that owns
the ``struct tcp_sock`` (``kernel.tcp_socks``): the socket is read back from kernel
memory, the native op runs, and the socket is written back, so the BPF program sees
the result.  A call on a ``tcp_sock`` no simulated socket owns faults.  The ``bbr_*``
kfuncs (:data:`BBR_KFUNCS`) exist in Linux 6.18's set but the simulator has no native
BBR: PROG_LOAD names them as not implemented (EINVAL).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.kernel.btfview import StructView

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel

__all__ = ["BBR_KFUNCS", "CUBIC_KFUNCS", "cubic_implementation", "implementation", "tcp_sock_view"]

U32 = 0xFFFF_FFFF
#: ``tcp_cubic_check_kfunc_ids`` (Linux 6.18): kfunc name -> native op of sim.cubic.
CUBIC_KFUNCS: dict[str, str] = {
    "cubictcp_init": "cubic_init",
    "cubictcp_recalc_ssthresh": "cubic_ssthresh",
    "cubictcp_cong_avoid": "cubic_cong_avoid",
    "cubictcp_state": "cubic_set_state",
    "cubictcp_cwnd_event": "cubic_cwnd_event",
    "cubictcp_acked": "cubic_pkts_acked",
}
#: ``tcp_bbr_check_kfunc_ids`` (Linux 6.18): allowed by Linux, not implemented here.
BBR_KFUNCS = frozenset(
    {"bbr_init", "bbr_main", "bbr_sndbuf_expand", "bbr_undo_cwnd", "bbr_cwnd_event", "bbr_ssthresh"}
    | {"bbr_min_tso_segs", "bbr_set_state"}
)


def tcp_sock_view(kernel: EmulatedKernel, addr: int) -> Any:
    """A :class:`StructView` of the ``struct tcp_sock`` at ``addr``."""
    return StructView(kernel.kmem, addr, _tcp_sock_type(kernel.vmlinux.spec))


@cache
def _tcp_sock_type(spec: btflib.Spec) -> btflib.Struct:
    return spec.find("tcp_sock", btflib.Struct)


def implementation(kernel: EmulatedKernel, name: str) -> Callable[..., int]:
    """The Python implementation of kfunc ``name`` taking raw u64 arguments.

    On a bridged socket the native function runs on the simulated socket (the program's
    writes read back first, the socket synced after), so the kfunc reads no field the
    bridge did not copy (issue 17); on any other ``tcp_sock`` it runs on a BTF view.
    """
    from structops.sim import tcp_cong

    native = getattr(tcp_cong, name)
    if name in ("tcp_reno_ssthresh", "tcp_reno_undo_cwnd"):
        run: Callable[[Any, tuple[int, ...]], int] = lambda tp, a: int(native(tp)) & U32  # noqa: E731
    elif name == "tcp_slow_start":
        run = lambda tp, a: int(native(tp, a[1] & U32)) & U32  # noqa: E731
    else:  # tcp_cong_avoid_ai, tcp_reno_cong_avoid: void

        def run(tp: Any, a: tuple[int, ...]) -> int:
            native(tp, a[1] & U32, a[2] & U32)
            return 0

    socks: dict[int, Any] = kernel.__dict__.setdefault("tcp_socks", {})  # the bridge's table

    def call(*args: int) -> int:
        sock = socks.get(args[0])  # the live simulated socket owning the struct, if any
        if sock is None or sock.freed:
            return run(tcp_sock_view(kernel, args[0]), args)
        sock.sync_from_kernel()
        sock.truncate_writable()
        result = run(sock, args)
        sock.truncate_writable()
        sock.sync_to_kernel()
        return result

    def call_void2(sk: int, a: int, b: int, *rest: int) -> int:  # call, run inlined: (sk, u32, u32) -> void
        sock = socks.get(sk)  # freed sockets leave the table
        if sock is None:
            return run(tcp_sock_view(kernel, sk), (sk, a, b, *rest))
        if sock.NEEDS_SYNC:  # else its plan is empty: both syncs would do nothing
            sock.sync_from_kernel()
        sock.truncate_writable()
        native(sock, a & U32, b & U32)
        sock.truncate_writable()
        if sock.NEEDS_SYNC:
            sock.sync_to_kernel()
        return 0

    impl: Callable[..., int] = call_void2 if name in ("tcp_cong_avoid_ai", "tcp_reno_cong_avoid") else call
    impl.__name__ = name
    return impl


def cubic_implementation(kernel: EmulatedKernel, name: str) -> Callable[..., int]:
    """The implementation of ``cubictcp_*`` kfunc ``name`` (raw u64 arguments)."""
    import importlib

    from structops.errors import VMFault
    from structops.sim.sock import AckSample

    native = getattr(importlib.import_module("structops.sim.cubic"), CUBIC_KFUNCS[name])
    ack_sample = kernel.vmlinux.spec.find("ack_sample", btflib.Struct)

    def call(*args: int) -> int:
        sock = kernel.__dict__.get("tcp_socks", {}).get(args[0])
        if sock is None or sock.freed:
            raise VMFault(f"{name}: no simulated TCP socket owns struct tcp_sock at {args[0]:#x}")
        sock.sync_from_kernel()
        if name == "cubictcp_acked":
            v = StructView(kernel.kmem, args[1], ack_sample)
            rtt = int(v.rtt_us)
            sample = AckSample(int(v.pkts_acked), rtt - (1 << 32) if rtt >= 1 << 31 else rtt, int(v.in_flight))
            result = native(sock, sample)
        elif name in ("cubictcp_init", "cubictcp_recalc_ssthresh"):
            result = native(sock)
        elif name == "cubictcp_cong_avoid":
            result = native(sock, args[1] & 0xFFFFFFFF, args[2] & 0xFFFFFFFF)
        elif name == "cubictcp_state":
            result = native(sock, args[1] & 0xFF)
        else:  # cubictcp_cwnd_event
            result = native(sock, args[1] & 0xFFFFFFFF)
        sock.sync_to_kernel()
        return int(result or 0) & 0xFFFFFFFF

    call.__name__ = name
    return call
