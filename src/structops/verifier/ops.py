"""The verifier-ops interface: what a program type or a struct_ops subsystem gives the verifier.

This is ``struct bpf_verifier_ops`` / ``struct bpf_func_proto`` / the kfunc id sets of
Linux, declared by the verifier and filled by whoever owns the program type (the embedded
kernel's program-type table, each struct_ops subsystem, a module).  The verifier imports
nothing from :mod:`structops.kernel`; it sees a program only through these declarations
and the :class:`~structops.verifier.env.ProgEnv` built from them.

* :class:`HelperProto` -- one helper's prototype (argument and return kinds), V16.
* :class:`KF` / :class:`KfuncProto` -- a kfunc's BTF prototype and its ``KF_*`` flags.
* :class:`CtxField` / :class:`ProgTypeOps` -- a non-struct_ops program type: its context
  layout (``is_valid_access``), its helper set (``get_func_proto``), its return rule.
* :class:`VerifierOps` -- what a struct_ops subsystem supplies (V11, V16, V17): helper
  set per member, BTF write rules (``btf_struct_access``), pointer promotion, per-member
  kfunc filter (sched_ext filters kfuncs per callback).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from structops import btf as btflib

__all__ = [
    "ARG_ANY",
    "ARG_KEY",
    "ARG_MAP",
    "ARG_RDMEM",
    "ARG_RDMEM_OR_NULL",
    "ARG_RDONLY",
    "ARG_SIZE",
    "ARG_SOCK",
    "ARG_SZMEM",
    "ARG_TCPSK",
    "ARG_UVAL",
    "ARG_VAL",
    "ARG_WRMEM",
    "ARG_WRMEM_OR_ZERO",
    "ARG_CTX",
    "ARG_SOCK_RELEASE",
    "RET_SOCK_COMMON_OR_NULL",
    "RET_SOCK_OR_NULL",
    "KF",
    "RET_INT",
    "RET_MAP_VALUE_OR_NULL",
    "RET_TASK_BTF",
    "RET_U32",
    "RET_VOID",
    "CtxField",
    "HelperProto",
    "KfuncProto",
    "ProgTypeOps",
    "VerifierOps",
]

# Argument kinds (``enum bpf_arg_type``, the subset the verifier models).
ARG_MAP = "map"  #: ARG_CONST_MAP_PTR
ARG_KEY = "key"  #: ARG_PTR_TO_MAP_KEY: readable memory of the map's key_size
ARG_VAL = "val"  #: ARG_PTR_TO_MAP_VALUE: readable memory of the map's value_size
ARG_UVAL = "uval"  #: ARG_PTR_TO_MAP_VALUE | MEM_UNINIT: writable memory of value_size
ARG_ANY = "any"  #: ARG_ANYTHING: any initialised register
ARG_SZMEM = "mem"  #: ARG_PTR_TO_MEM sized by the next argument (a known constant)
ARG_SIZE = "size"  #: ARG_CONST_SIZE(_OR_ZERO)
ARG_RDONLY = "ro"  #: ARG_PTR_TO_MEM | MEM_RDONLY sized by the next argument
ARG_SOCK = "sock"  #: ARG_PTR_TO_BTF_ID_SOCK_COMMON: trusted pointer embedding sock_common
ARG_TCPSK = "tcp_sock"  #: ARG_PTR_TO_BTF_ID with arg_btf_id = tcp_sock
ARG_RDMEM = "rdmem"  #: ARG_PTR_TO_MEM | MEM_RDONLY, sized by ARG_CONST_SIZE next
#: ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY, sized by ARG_CONST_SIZE_OR_ZERO next (csum_diff)
ARG_RDMEM_OR_NULL = "rdmem_or_null"
ARG_WRMEM = "wrmem"  #: ARG_PTR_TO_UNINIT_MEM, sized by ARG_CONST_SIZE next
ARG_WRMEM_OR_ZERO = "wrmem_or_zero"  #: ARG_PTR_TO_UNINIT_MEM, sized by ARG_CONST_SIZE_OR_ZERO next
RET_VOID = "void"  #: RET_VOID: R0 is not readable after the call
ARG_CTX = "ctx"  #: ARG_PTR_TO_CTX: the program's context, unmodified
ARG_SOCK_RELEASE = "sock_release"  #: ARG_PTR_TO_BTF_ID_SOCK_COMMON | OBJ_RELEASE (bpf_sk_release)

# Return kinds (``enum bpf_return_type``).
RET_INT = "int"  #: RET_INTEGER
RET_U32 = "u32"  #: RET_INTEGER known to fit 32 bits
RET_TASK_BTF = "task_btf"  #: RET_PTR_TO_BTF_ID of a trusted task_struct (bpf_get_current_task_btf)
RET_MAP_VALUE_OR_NULL = "map_value_or_null"  #: RET_PTR_TO_MAP_VALUE_OR_NULL
RET_SOCK_OR_NULL = "sock_or_null"  #: RET_PTR_TO_SOCKET_OR_NULL, an acquired reference (bpf_sk_lookup_*)
#: RET_PTR_TO_SOCK_COMMON_OR_NULL, an acquired reference (bpf_skc_lookup_tcp): only the
#: ``sock_common`` part of ``struct bpf_sock`` is readable.
RET_SOCK_COMMON_OR_NULL = "sock_common_or_null"


@dataclass(frozen=True)
class HelperProto:
    """``struct bpf_func_proto`` of one helper: its id, name and argument/return kinds.

    ``args`` is None when the verifier does not model the arguments (then only the
    clobbering of R1-R5 and an unknown R0 apply).  ``gpl_only``: callable only from a
    GPL-compatible program.
    """

    id: int
    name: str
    args: tuple[str, ...] | None = None
    ret: str = RET_INT
    gpl_only: bool = False


class KF(enum.IntFlag):
    """``KF_*`` kfunc flags (``include/linux/btf.h`` of Linux 6.18, same bit values)."""

    ACQUIRE = 1 << 0
    RELEASE = 1 << 1
    RET_NULL = 1 << 2
    TRUSTED_ARGS = 1 << 4
    SLEEPABLE = 1 << 5
    DESTRUCTIVE = 1 << 6
    RCU = 1 << 7
    ITER_NEW = 1 << 8
    ITER_NEXT = 1 << 9
    ITER_DESTROY = 1 << 10
    RCU_PROTECTED = 1 << 11


@dataclass(frozen=True)
class KfuncProto:
    """A kfunc as the verifier sees it: its BTF name and FUNC, and its ``KF_*`` flags."""

    name: str
    func: btflib.Func
    flags: KF = KF.ACQUIRE & 0  # no flags


@dataclass(frozen=True)
class CtxField:
    """One accessible range ``[start, end)`` of a program type's context (``is_valid_access``).

    ``sizes`` are the load sizes accepted inside it (narrow loads included),
    ``write_sizes`` the store sizes (empty: read-only; ``__sk_buff.cb[]`` of a socket filter
    takes any).  Accesses must be aligned to their size.
    """

    start: int
    end: int
    sizes: frozenset[int] = frozenset({4})
    write_sizes: frozenset[int] = frozenset()


@dataclass(frozen=True)
class ProgTypeOps:
    """``bpf_verifier_ops`` + ``bpf_prog_ops`` of a non-struct_ops program type.

    ``ctx_fields`` lists the accessible context ranges (anything else is "invalid
    bpf_context access"); ``helpers`` is the ``get_func_proto`` set (ids) for a privileged
    loader.
    """

    prog_type: int
    name: str
    ctx_name: str
    ctx_size: int
    ctx_fields: tuple[CtxField, ...]
    helpers: frozenset[int]

    def ctx_check(self, off: int, size: int, write: bool) -> bool:
        """Whether a ``size``-byte load/store at ``off`` of the context is valid."""
        if off < 0 or off + size > self.ctx_size or size not in (1, 2, 4, 8) or off % size:
            return False
        for f in self.ctx_fields:
            if f.start <= off and off + size <= f.end:
                return size in (f.write_sizes if write else f.sizes)
        return False


@dataclass
class VerifierOps:
    """``struct bpf_verifier_ops`` of a struct_ops subsystem (V11, V16, V17).

    * ``get_func_proto(helper_id, prog) -> bool``: whether a helper is allowed (None: no
      helpers at all, as ``bpf_dummy_ops``, DM4).  ``prog`` has ``st_ops.member_name``.
    * ``btf_struct_access(type_name, off, size) -> 0 | -errno``: a write through a BTF
      pointer (T8, DM4; None: "only read is supported").
    * ``write_denied(type_name, off, size) -> str``: the subsystem's log line for a refused
      write (None: the generic wording).
    * ``promote_ptr``: argument struct -> struct the verifier types it as (T9: sock -> tcp_sock).
    * ``kfunc_filter(kfunc_name, prog) -> bool``: per-member kfunc filter (``struct
      btf_kfunc_id_set.filter``; None: every kfunc allowed for struct_ops programs).
    """

    get_func_proto: Callable[[int, Any], bool] | None = None
    btf_struct_access: Callable[[str, int, int], int] | None = None
    promote_ptr: dict[str, str] = field(default_factory=dict)
    write_denied: Callable[[str, int, int], str] | None = None
    kfunc_filter: Callable[[str, Any], bool] | None = None
