"""The structops exception tree.

Every failure a kernel (embedded or real) reports is a :class:`BpfError`, an
:class:`OSError` whose ``errno`` is exactly what the real ``bpf()`` syscall would set.
Both backends raise the same classes for the same errno, so ``except`` clauses written
against one backend work against the other.  Parse errors of user input (BTF, ELF) are
separate: they are not kernel errors and carry no errno of their own unless the kernel
would have rejected the same bytes (then the loader raises a :class:`BpfError`).

::

    Exception
    ├── OSError
    │   └── BpfError                      errno set, .op names the command, .log = verifier log
    │       ├── PermissionDenied          EPERM, EACCES
    │       ├── NotFound                  ENOENT
    │       ├── BadFd                     EBADF
    │       ├── InvalidArgument           EINVAL
    │       │   └── VerifierError         EINVAL/EACCES from PROG_LOAD with a log (see .errno)
    │       ├── Busy                      EBUSY
    │       ├── AlreadyExists             EEXIST
    │       ├── TooBig                    E2BIG
    │       ├── NoMemory                  ENOMEM, ENOSPC
    │       ├── NotSupported              EOPNOTSUPP, ENOTSUPP (524)
    │       ├── LinkDetached              ENOLINK
    │       ├── InProgress                EINPROGRESS
    │       └── Fault                     EFAULT
    ├── FormatError (ValueError)          malformed user input
    │   ├── BTFError                      bad BTF bytes or references
    │   └── ELFError                      bad ELF object / unsupported relocation
    └── VMFault (RuntimeError)            a BPF program touched memory it was not given

:func:`bpf_error` maps an errno to the right subclass; use it instead of constructing
classes directly so both backends agree.
"""

from __future__ import annotations

import errno as _errno
import os

from structops.uapi import ENOTSUPP, errno_name

__all__ = [
    "AlreadyExists",
    "BTFError",
    "BadFd",
    "BpfError",
    "Busy",
    "ELFError",
    "Fault",
    "FormatError",
    "InProgress",
    "InvalidArgument",
    "LinkDetached",
    "NoMemory",
    "NotFound",
    "NotSupported",
    "PermissionDenied",
    "TooBig",
    "VMFault",
    "VerifierError",
    "bpf_error",
]


class BpfError(OSError):
    """A kernel-style failure of a bpf() command; ``errno`` is the kernel's errno.

    ``op`` is the context chain (``"map update"``), ``log`` the verifier / BTF log lines
    the kernel returned (possibly empty).
    """

    def __init__(self, code: int, message: str = "", *, op: str = "", log: str = "") -> None:
        text = message or _strerror(code)
        if op:
            text = f"{op}: {text}"
        super().__init__(code, text)
        self.op = op
        self.log = log

    def __str__(self) -> str:
        return f"[{errno_name(self.errno or 0)}] {self.strerror}"

    def __reduce__(self) -> tuple[object, ...]:
        return (bpf_error, (self.errno, self.strerror), {"op": self.op, "log": self.log})


class PermissionDenied(BpfError):
    """EPERM / EACCES: missing capability, read-only fd, or a rejected memory access."""


class NotFound(BpfError):
    """ENOENT: no such object, key or name."""


class BadFd(BpfError):
    """EBADF: the fd is not open in this process."""


class InvalidArgument(BpfError):
    """EINVAL: malformed attributes or a value the kernel refuses."""


class VerifierError(InvalidArgument):
    """PROG_LOAD refused by a load-time check; ``log`` has the verifier's lines.

    ``errno`` is whatever the kernel reports (EINVAL, EACCES, ENOTSUPP ...), which is why
    this class does not fix it.  ``prog`` names the program when the loader knows it,
    ``detail`` is the refusal reason without context.  The message never reads as a
    permission problem: it says the verifier refused the program, then shows the last
    lines of the log (:data:`LOG_TAIL_LINES`).
    """

    #: How many trailing log lines ``str()`` shows.
    LOG_TAIL_LINES = 8

    def __init__(self, code: int, message: str = "", *, op: str = "", log: str = "", prog: str = "") -> None:
        self.detail = message
        self.prog = prog
        text = message or "the verifier refused the program"
        if prog:
            text = f"program '{prog}': {text}"
        super().__init__(code, text, op=op, log=log)

    def __str__(self) -> str:
        head = super().__str__()
        lines = [ln for ln in (self.log or "").splitlines() if ln.strip()]
        if not lines:
            return head
        tail = lines[-self.LOG_TAIL_LINES :]
        skipped = f" (last {len(tail)} of {len(lines)} lines)" if len(lines) > len(tail) else ""
        return head + f"\nverifier log{skipped}:\n" + "\n".join("  " + ln for ln in tail)

    def __reduce__(self) -> tuple[object, ...]:
        return (_verifier_error, (self.errno, self.detail, self.op, self.log, self.prog))


def _verifier_error(code: int, message: str, op: str, log: str, prog: str) -> VerifierError:
    return VerifierError(code, message, op=op, log=log, prog=prog)


class Busy(BpfError):
    """EBUSY: the object is in a state that forbids the operation (U7)."""


class AlreadyExists(BpfError):
    """EEXIST: duplicate registration or name."""


class TooBig(BpfError):
    """E2BIG: key out of range or a limit (trampoline pages) exceeded."""


class NoMemory(BpfError):
    """ENOMEM / ENOSPC: an allocation or id space is exhausted."""


class NotSupported(BpfError):
    """EOPNOTSUPP (95) or the kernel-internal ENOTSUPP (524); check ``errno``."""


class LinkDetached(BpfError):
    """ENOLINK: the link was detached (KD*)."""


class InProgress(BpfError):
    """EINPROGRESS: the object is already being torn down (D3)."""


class Fault(BpfError):
    """EFAULT: a user buffer could not be read or written."""


class FormatError(ValueError):
    """Malformed user input (BTF, ELF); the message says what and where."""


class BTFError(FormatError):
    """Malformed or inconsistent BTF."""


class ELFError(FormatError):
    """Malformed ELF object or an unsupported construct in it."""


class VMFault(RuntimeError):
    """A BPF program faulted at run time (bad memory access, bad call, limit reached).

    ``pc`` is the instruction index, ``addr`` the faulting address where there is one.
    """

    def __init__(self, message: str, *, pc: int = -1, addr: int | None = None) -> None:
        where = f" at insn {pc}" if pc >= 0 else ""
        at = f" (address {addr:#x})" if addr is not None else ""
        super().__init__(f"{message}{where}{at}")
        self.pc = pc
        self.addr = addr


_BY_ERRNO: dict[int, type[BpfError]] = {
    _errno.EPERM: PermissionDenied,
    _errno.EACCES: PermissionDenied,
    _errno.ENOENT: NotFound,
    _errno.EBADF: BadFd,
    _errno.EINVAL: InvalidArgument,
    _errno.EBUSY: Busy,
    _errno.EEXIST: AlreadyExists,
    _errno.E2BIG: TooBig,
    _errno.ENOMEM: NoMemory,
    _errno.ENOSPC: NoMemory,
    _errno.EOPNOTSUPP: NotSupported,
    ENOTSUPP: NotSupported,
    _errno.ENOLINK: LinkDetached,
    _errno.EINPROGRESS: InProgress,
    _errno.EFAULT: Fault,
}


def _strerror(code: int) -> str:
    if code == ENOTSUPP:
        return "operation not supported (kernel ENOTSUPP)"
    return os.strerror(code).lower()


def bpf_error(code: int, message: str = "", *, op: str = "", log: str = "") -> BpfError:
    """Build the :class:`BpfError` subclass for ``code`` (a positive errno)."""
    code = abs(code)
    cls = _BY_ERRNO.get(code, BpfError)
    return cls(code, message, op=op, log=log)
