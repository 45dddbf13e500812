"""What the verifier needs to know about a program and its kernel (``bpf_verifier_env`` inputs).

:class:`ProgEnv` is built by the embedded kernel (``kernel.verifier_env``) from a
struct_ops program (V11: the member's func_proto, its ctx_arg_info, the subsystem's
verifier ops) or from a program type's ops, so the analysis itself has no dependency
on the kernel objects.  :class:`Reject` is the internal "this path is invalid" signal that the driver
turns into a :class:`~structops.errors.VerifierError` with the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from structops import btf as btflib
from structops.verifier.access import AccessSet
from structops.verifier.ops import HelperProto, ProgTypeOps

if TYPE_CHECKING:
    from structops.verifier.core import VerifyStats

__all__ = ["BPF_COMPLEXITY_LIMIT_INSNS", "MAX_CALL_FRAMES", "LogSink", "ProgEnv", "Reject"]

#: The kernel's instruction budget (``BPF_COMPLEXITY_LIMIT_INSNS``).
BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000
#: ``MAX_CALL_FRAMES``: main program plus 7 nested bpf-to-bpf calls.
MAX_CALL_FRAMES = 8


class LogSink(Protocol):
    """Where log lines go (``progload._Log`` satisfies it)."""

    def add(self, line: str) -> None:
        """Append one line."""

    def flush(self) -> None:
        """Copy the text into the user's log buffer."""

    def text(self) -> str:
        """The whole log."""
        return ""


class ListLog:
    """A :class:`LogSink` that only keeps lines (tests, no user buffer)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        """Append one line."""
        self.lines.append(line)

    def flush(self) -> None:
        """Nothing to copy."""

    def text(self) -> str:
        """The whole log."""
        return "".join(line + "\n" for line in self.lines)


class Reject(Exception):
    """A verification failure: ``errno`` and the kernel-worded message."""

    def __init__(self, code: int, message: str, *, joined: bool = False) -> None:
        super().__init__(message)
        self.errno = code
        self.message = message
        #: Linux prints the message without a newline: the statistics line continues it.
        self.joined = joined
        #: The walk's statistics when it stopped (set by ``Verifier.run``), printed after the message.
        self.stats: VerifyStats | None = None


@dataclass
class CtxArgInfo:
    """``bpf_ctx_arg_aux``: a ctx slot with a fixed pointer type (R4, V12)."""

    offset: int
    btf_id: int
    nullable: bool
    refcounted: bool


@dataclass
class ProgEnv:
    """The program's attach point and the kernel facilities the analysis consults.

    ``write_check(type_name, off, size) -> 0 | -errno`` is the subsystem's
    ``btf_struct_access`` (V17; None: writes are "only read is supported").
    ``get_map(fd)`` resolves ld_imm64 map fds; ``kfunc(btf_id, off)`` returns an object
    with ``.name`` and ``.func`` (a ``btf.Func``; ``.flags``: :class:`~structops.verifier.ops.KF`)
    or None; ``helper_name(id)`` names helpers in logs.  ``helper_proto(id)`` is the
    program's ``get_func_proto``: the :class:`~structops.verifier.ops.HelperProto` when the
    helper is allowed for this program (type, struct_ops type and member), None when not
    (None as a whole: every helper allowed, arguments not modelled).  ``prog_ops`` is set
    for a program type other than struct_ops: its context rules replace the struct_ops
    argument array.  ``write_denied`` words a refused BTF write (the subsystem's text).
    """

    spec: btflib.Spec
    member_name: str
    params: tuple[btflib.Param, ...]
    ret: btflib.Type
    ctx_args: tuple[Any, ...] = ()
    promote: dict[str, str] = field(default_factory=dict)
    write_check: Callable[[str, int, int], int] | None = None
    st_ops_name: str = ""
    get_map: Callable[[int], Any] | None = None
    kfunc: Callable[[int, int], Any] | None = None
    helper_name: Callable[[int], str] = lambda hid: f"helper#{hid}"
    helper_proto: Callable[[int], HelperProto | None] | None = None
    prog_ops: ProgTypeOps | None = None
    write_denied: Callable[[str, int, int], str] | None = None
    gpl_compatible: bool = True
    #: ``env->allow_uninit_stack`` (CAP_PERFMON): uninitialised stack reads give an unknown
    #: scalar and helpers may read uninitialised stack memory (issue 12 item 3, corpus).
    allow_uninit_stack: bool = False
    #: ``env->allow_ptr_leaks`` (CAP_PERFMON): without it pointers may not be stored into
    #: maps/ctx, returned, compared, partially copied or subtracted (unprivileged rules).
    allow_ptr_leaks: bool = True
    #: ``env->bpf_capable`` (CAP_BPF): without it no bpf-to-bpf calls, callbacks or loops.
    bpf_capable: bool = True
    #: Collects the accepted BTF-pointer accesses when set (issue 17: what a bridge syncs).
    access: AccessSet | None = None
    #: The program's own BTF (``prog_btf_fd``): local types of ``bpf_obj_new``.
    prog_btf: btflib.Spec | None = None


__all__ += ["CtxArgInfo", "ListLog"]
