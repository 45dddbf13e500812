"""Differential context access tables: every offset x size x read/write, both kernels.

Issue 12 item 1 (the kernel's verdict in every program type): for socket filters and tc
programs (``struct __sk_buff``; classifiers and actions), XDP (``struct xdp_md``, plain and ``BPF_XDP_DEVMAP``) and
tracepoints (the record's head), a one-access program (``r2 = *(uN *)(r1 + off)`` or
``*(uN *)(r1 + off) = r2``) is loaded at every size-aligned offset of the context and a
few bytes past it, for sizes 1, 2, 4 and 8, on this machine's kernel (``LinuxKernel``) and
on the embedded one; verdict, errno and the log's failing line must agree everywhere
(``is_valid_access`` of each type: narrow loads, read-only fields,
``tstamp_type``/``hwtstamp``/``sk`` of tc, ``egress_ifindex`` of devmap programs, the
packet pointers...).  Skipped without root and kernel BTF, or on a release other than the
6.18 the tables were measured on.
"""

from __future__ import annotations

import errno
import platform
from typing import Any

import pytest
from realkernel import real_kernel_skip_reason

from structops.abi.attrs import ProgLoadAttr
from structops.errors import BpfError
from structops.isa import assemble, encode
from structops.uapi import Cmd, ProgType

_REASON = real_kernel_skip_reason()
if _REASON is None and not platform.release().startswith("6.18"):
    _REASON = f"the table was measured on Linux 6.18, this is {platform.release()}"
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

#: name -> (program type, expected attach type, bytes probed: the context plus a little past it)
TYPES = {
    "socket": (ProgType.BPF_PROG_TYPE_SOCKET_FILTER, 0, 196),
    "tc": (ProgType.BPF_PROG_TYPE_SCHED_CLS, 0, 196),
    "tc_act": (ProgType.BPF_PROG_TYPE_SCHED_ACT, 0, 196),
    "xdp": (ProgType.BPF_PROG_TYPE_XDP, 0, 32),
    "xdp_devmap": (ProgType.BPF_PROG_TYPE_XDP, 33, 32),  # BPF_XDP_DEVMAP
    "tracepoint": (ProgType.BPF_PROG_TYPE_TRACEPOINT, 0, 24),
}
_SUFFIX = {1: "b", 2: "h", 4: "w", 8: "dw"}


def _program(off: int, size: int, write: bool) -> str:
    sfx = _SUFFIX[size]
    if write:
        return f"mov %r2, 0\nstx{sfx} [%r1+{off}], %r2\nmov %r0, 0\nexit"
    return f"ldx{sfx} %r2, [%r1+{off}]\nmov %r0, 0\nexit"


def _outcome(kernel: Any, ptype: int, text: str, attach: int = 0) -> tuple[str, str]:
    """``("ok", "")`` or ``(errno name, the log's last line)``."""
    log = bytearray(1 << 14)
    attr = ProgLoadAttr(ptype, encode(assemble(text)), expected_attach_type=attach, log_buf=log, log_level=1)
    try:
        fd = kernel.bpf(Cmd.BPF_PROG_LOAD, attr)
    except BpfError as exc:
        lines = [x for x in bytes(log).split(b"\0", 1)[0].decode().splitlines() if x.strip()]
        lines = [x for x in lines if not x.startswith("processed ")]
        return errno.errorcode.get(exc.errno or 0, str(exc.errno)), lines[-1] if lines else ""
    kernel.close(fd)
    return "ok", ""


@pytest.fixture(scope="module")
def kernels() -> tuple[Any, Any]:
    from structops.kernel.emulated import EmulatedKernel
    from structops.linux import LinuxKernel

    return LinuxKernel(), EmulatedKernel()


@pytest.mark.parametrize("ptype", sorted(TYPES))
def test_every_ctx_access_has_the_kernels_verdict(kernels: tuple[Any, Any], ptype: str) -> None:
    linux, emb = kernels
    prog_type, attach, end = TYPES[ptype]
    differ = []
    accepted = 0
    for size in (1, 2, 4, 8):
        for off in range(0, end, size):
            for write in (False, True):
                text = _program(off, size, write)
                want = _outcome(linux, prog_type, text, attach)
                got = _outcome(emb, prog_type, text, attach)
                accepted += want[0] == "ok"
                if got != want:
                    differ.append((off, size, "write" if write else "read", want, got))
    assert not differ, differ
    assert accepted >= (50 if end > 100 else 3)  # the table is not empty: the readable fields load
