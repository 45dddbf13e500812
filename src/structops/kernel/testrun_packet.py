"""What the packet test runs of tc and XDP programs share (``net/bpf/test_run.c`` of Linux 6.18).

* :func:`data_in` / :func:`ctx_init`: the user's packet and context, with the kernel's
  errnos (a context longer than the kernel's struct must be zero past it: E2BIG).
* :func:`run_repeated`: ``repeat`` runs (0 counts as 1) on the same context and packet,
  so writes and packet moves of one run are seen by the next, as ``bpf_test_run`` does;
  ``duration`` is the mean time per run in ns.
* :func:`test_finish` / :func:`ctx_finish`: ``data_out`` and ``ctx_out`` copied back; a
  non-zero ``data_size_out`` (``ctx_size_out``) smaller than the result copies that many
  bytes, reports the full size and fails with ENOSPC (``retval``/``duration`` still set;
  after a data ENOSPC the context is not copied out).
"""

from __future__ import annotations

import errno
import time
from typing import TYPE_CHECKING

from structops.errors import VMFault, bpf_error

if TYPE_CHECKING:
    from structops.kernel.attrs import TestRunAttr
    from structops.kernel.emulated import Process
    from structops.kernel.packet import PacketBuffer
    from structops.kernel.prog import BpfProg
    from structops.vm.memory import Region

__all__ = ["ETH_HLEN", "ctx_finish", "ctx_init", "data_in", "data_size_in", "run_repeated", "test_finish"]

ETH_HLEN = 14


def data_size_in(attr: TestRunAttr) -> int:
    """``data_size_in`` (the buffer's length when it was left unset)."""
    if attr.data_size_in is not None:
        return int(attr.data_size_in)
    return len(attr.data_in) if attr.data_in is not None else 0


def data_in(attr: TestRunAttr, size: int) -> bytes:
    """The first ``size`` bytes of ``data_in`` (EFAULT when the buffer is shorter)."""
    raw = attr.data_in
    if size and (raw is None or len(raw) < size):
        raise bpf_error(errno.EFAULT, f"data_in holds fewer than data_size_in={size} bytes")
    return bytes(raw[:size]) if raw is not None else b""


def ctx_init(attr: TestRunAttr, max_size: int, what: str) -> bytearray | None:
    """``bpf_ctx_init``: None without ctx_in and ctx_out, else ``max_size`` zero bytes with
    ctx_in copied in (bytes past ``max_size`` must be zero: E2BIG)."""
    if attr.ctx_in is None and attr.ctx_out is None:
        return None
    ctx = bytearray(max_size)
    raw = attr.ctx_in
    if raw is not None:
        size = int(attr.ctx_size_in) if attr.ctx_size_in is not None else len(raw)
        if len(raw) < size:
            raise bpf_error(errno.EFAULT, f"ctx_in holds fewer than ctx_size_in={size} bytes")
        if any(raw[max_size:size]):
            raise bpf_error(
                errno.E2BIG, f"ctx_in is longer than struct {what} ({max_size} bytes) and not zero past its end"
            )
        n = min(size, max_size)
        ctx[:n] = raw[:n]
    return ctx


def run_repeated(
    proc: Process,
    prog: BpfProg,
    ctx: Region,
    buf: PacketBuffer,
    repeat: int,
    *,
    legacy_packet: bool = False,
    mac_len: int = 0,
    objects: tuple[int, ...] = (),
) -> tuple[int, int]:
    """Run ``prog`` ``repeat`` times on ``ctx`` and ``buf``; ``(retval, duration)``.

    ``legacy_packet``: ``LD_ABS``/``LD_IND`` read the packet from ``data`` (tc programs and
    socket filters); ``mac_len``: bytes of link-layer header in the frame before ``data``
    (a socket filter's ``data`` is the network header), which ``SKF_LL_OFF`` loads reach;
    ``objects``: addresses of other kernel objects the context points to (``__sk_buff.sk``).
    A fault of the VM (an access the program was not given) is EFAULT.
    """
    vmprog = getattr(prog, "vm_program", None)
    if vmprog is None:
        raise bpf_error(errno.EOPNOTSUPP, f"program {prog.name!r} cannot run: it has no translation")
    runs = max(int(repeat), 1)
    kernel = proc.kernel
    r0 = 0
    start = time.perf_counter_ns()
    # legacy loads read the frame as it is at each load (after the program's own writes)
    packet = (lambda: buf.bytes_from(buf.data - mac_len)) if legacy_packet else None
    try:
        with kernel.rcu.read_lock():
            for _ in range(runs):
                grant = ((buf.meta_addr,) if buf.region is not None else ()) + objects
                r0 = vmprog.run(ctx.base, grant=grant, packet=packet, packet_data=mac_len)
    except VMFault as fault:
        raise bpf_error(errno.EFAULT, f"program {prog.name!r} faulted: {fault}") from fault
    elapsed = time.perf_counter_ns() - start
    return r0 & 0xFFFFFFFF, min(elapsed // runs, 0xFFFFFFFF)


def test_finish(attr: TestRunAttr, linear: bytes, retval: int, duration: int, frags: bytes = b"") -> None:
    """``bpf_test_finish``: data_out, data_size_out, retval, duration (ENOSPC when clamped).

    With XDP fragments a clamped copy keeps every fragment and cuts the linear part
    (``data_out`` = linear head + fragments); a ``data_size_out`` below the fragments'
    size is ENOSPC with nothing written, as Linux 6.18 does.
    """
    size = len(linear) + len(frags)
    copy = size
    hint = attr.data_size_out
    if hint is None:
        hint = len(attr.data_out) if attr.data_out is not None else 0
    truncated = bool(hint) and copy > hint
    if truncated:
        copy = int(hint)
    if attr.data_out is not None:
        if copy < len(frags):
            raise bpf_error(errno.ENOSPC, f"data_size_out={hint} is smaller than the packet's fragments")
        out = linear[: copy - len(frags)] + frags
        if len(attr.data_out) < copy:
            raise bpf_error(errno.EFAULT, f"data_out has room for {len(attr.data_out)} bytes, {copy} to copy")
        attr.data_out[:copy] = out[:copy]
    attr.data_size_out = size
    attr.retval = retval
    attr.duration = duration
    if truncated:
        raise bpf_error(errno.ENOSPC, f"data_size_out={hint} is smaller than the packet ({size} bytes)")


def ctx_finish(attr: TestRunAttr, ctx: bytes | bytearray | None) -> None:
    """``bpf_ctx_finish``: ctx_out and ctx_size_out (ENOSPC when clamped)."""
    out = attr.ctx_out
    if ctx is None or out is None:
        return
    size = len(ctx)
    hint = int(attr.ctx_size_out) if attr.ctx_size_out is not None else len(out)
    copy = min(size, hint)
    if len(out) < copy:
        raise bpf_error(errno.EFAULT, f"ctx_out has room for {len(out)} bytes, {copy} to copy")
    out[:copy] = ctx[:copy]
    attr.ctx_size_out = size
    if copy < size:
        raise bpf_error(errno.ENOSPC, f"ctx_size_out={hint} is smaller than the context ({size} bytes)")
