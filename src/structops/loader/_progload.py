"""One program's BPF_PROG_LOAD as libbpf issues it: BTF func/line info and verifier logs.

* ``prog_btf_fd`` is the object's BTF, ``func_info`` / ``line_info`` the program's
  ``.BTF.ext`` records (instruction indices already moved with appended subprograms),
  so the kernel knows global functions and callbacks and names the program in full;
* the log (libbpf ``bpf_object_load_prog``): when the caller asked for one, the buffer
  grows (to the size the kernel reports in ``log_true_size``, or twice) whenever the
  kernel answers ENOSPC, so a successful load never fails for lack of log space; when
  the caller asked for none and the kernel refuses the program, the load is retried
  with ``log_level`` 1 and a growing buffer, and the refusal becomes a
  :class:`~structops.errors.VerifierError` carrying the program name and the log.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable, Sequence
from typing import Final

from structops.abi.attrs import ProgLoadAttr
from structops.abi.consts import ENOTSUPP, Cmd
from structops.abi.protocol import Kernel
from structops.errors import BpfError, VerifierError, bpf_error
from structops.loader.btf_ext import FuncInfo, LineInfo

__all__ = ["encode_func_info", "encode_line_info", "load_program"]

#: First log buffer when the caller asked for a log (libbpf starts small and grows too).
FIRST_LOG_SIZE: Final = 1 << 16
#: First log buffer of the retry after a refusal (libbpf's BPF_LOG_BUF_SIZE is 16 MiB).
RETRY_LOG_SIZE: Final = 1 << 20
#: The kernel caps log_size at UINT32_MAX >> 2.
MAX_LOG_SIZE: Final = (1 << 32) // 4 - 1
#: Errnos with which the verifier (or a load-time check) refuses a program.
REFUSAL_ERRNOS: Final = frozenset({errno.EINVAL, errno.EACCES, ENOTSUPP, errno.E2BIG, errno.ERANGE})
#: Failures that happen before the verifier runs (no log to ask for): capabilities, fds, memory.
NO_LOG_ERRNOS: Final = frozenset({errno.EPERM, errno.EBADF, errno.ENOMEM, errno.EFAULT})
FUNC_INFO_SIZE: Final = 8
LINE_INFO_SIZE: Final = 16


def encode_func_info(records: Sequence[FuncInfo]) -> bytes:
    """``struct bpf_func_info`` records (insn_off in instructions, as the kernel wants)."""
    return b"".join(struct.pack("<II", r.insn_off, r.type_id) for r in records)


def encode_line_info(records: Sequence[LineInfo]) -> bytes:
    """``struct bpf_line_info`` records."""
    return b"".join(struct.pack("<IIII", r.insn_off, r.file_name_off, r.line_off, r.line_col) for r in records)


def _text(buf: bytearray | None) -> str:
    if not buf:
        return ""
    return bytes(buf).split(b"\0", 1)[0].decode("utf-8", "replace")


def _next_size(attr: ProgLoadAttr, current: int) -> int:
    want = max(int(attr.log_true_size or 0) + 1, current * 2)
    return min(want, MAX_LOG_SIZE)


def load_program(
    kernel: Kernel, make_attr: Callable[[int, bytearray | None], ProgLoadAttr], name: str, log_level: int
) -> tuple[int, str]:
    """Load one program; return ``(fd, log text)``.  Refusals raise VerifierError with the log."""
    level = log_level
    size = FIRST_LOG_SIZE
    retried = False
    while True:
        buf = bytearray(size) if level else None
        attr = make_attr(level, buf)
        try:
            fd = kernel.bpf(Cmd.BPF_PROG_LOAD, attr)
        except BpfError as exc:
            code = exc.errno or 0
            if level and code == errno.ENOSPC and size < MAX_LOG_SIZE:
                size = _next_size(attr, size)  # the log did not fit: grow it and load again
                continue
            if not level and code not in NO_LOG_ERRNOS and not retried:
                level, size, retried = 1, RETRY_LOG_SIZE, True  # refused: ask again with a log
                continue
            if code in REFUSAL_ERRNOS or isinstance(exc, VerifierError):
                detail = exc.detail if isinstance(exc, VerifierError) else ""
                log = _text(buf) or exc.log
                raise VerifierError(code, detail, op="prog load", log=log, prog=name) from None
            log = _text(buf) or exc.log
            if log or code not in NO_LOG_ERRNOS:
                raise bpf_error(
                    code, f"program '{name}': {os.strerror(code).lower()}", op="prog load", log=log
                ) from None
            raise
        return fd, _text(buf)
