"""Differential ``struct __sk_buff`` access table: every offset x size x read/write, both kernels.

Issue 12 item 1 (the kernel's verdict in every program type): for socket filters and tc
programs, a one-access program (``r2 = *(uN *)(r1 + off)`` or ``*(uN *)(r1 + off) = r2``)
is loaded at every size-aligned offset of the 192-byte context and a few bytes past it,
for sizes 1, 2, 4 and 8, on this machine's kernel (``LinuxKernel``) and on the embedded
one; verdict, errno and the log's failing line must agree everywhere (``is_valid_access``
of each type: narrow loads, read-only fields, ``tstamp_type``/``hwtstamp``/``sk`` of tc,
the packet pointers...).  Skipped without root and kernel BTF, or on a release other than
the 6.18 the table was measured on.
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

TYPES = {"socket": ProgType.BPF_PROG_TYPE_SOCKET_FILTER, "tc": ProgType.BPF_PROG_TYPE_SCHED_CLS}
_SUFFIX = {1: "b", 2: "h", 4: "w", 8: "dw"}
#: ``sizeof(struct __sk_buff)`` plus a little: accesses past the end are refused too.
_END = 196


def _program(off: int, size: int, write: bool) -> str:
    sfx = _SUFFIX[size]
    if write:
        return f"mov %r2, 0\nstx{sfx} [%r1+{off}], %r2\nmov %r0, 0\nexit"
    return f"ldx{sfx} %r2, [%r1+{off}]\nmov %r0, 0\nexit"


def _outcome(kernel: Any, ptype: int, text: str) -> tuple[str, str]:
    """``("ok", "")`` or ``(errno name, the log's last line)``."""
    log = bytearray(1 << 14)
    try:
        fd = kernel.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ptype, encode(assemble(text)), log_buf=log, log_level=1))
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
def test_every_sk_buff_access_has_the_kernels_verdict(kernels: tuple[Any, Any], ptype: str) -> None:
    linux, emb = kernels
    differ = []
    accepted = 0
    for size in (1, 2, 4, 8):
        for off in range(0, _END, size):
            for write in (False, True):
                text = _program(off, size, write)
                want = _outcome(linux, TYPES[ptype], text)
                got = _outcome(emb, TYPES[ptype], text)
                accepted += want[0] == "ok"
                if got != want:
                    differ.append((off, size, "write" if write else "read", want, got))
    assert not differ, differ
    assert accepted > 50  # the table is not empty: both kernels accept the readable fields
