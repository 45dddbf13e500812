"""Context access of a non-struct_ops program type (``is_valid_access`` through ``ProgTypeOps``).

A struct_ops program's context is its argument array (``btf_ctx_access``, in
:mod:`structops.verifier.memory`); every other program type describes its context (for a
socket filter, ``struct __sk_buff``) with :class:`~structops.verifier.ops.CtxField`
ranges.  A load inside a readable range gives an unknown scalar of the load size; anything
else is the kernel's "invalid bpf_context access off=N size=N" (EACCES).
"""

from __future__ import annotations

import errno

from structops.verifier.env import Reject
from structops.verifier.ops import ProgTypeOps
from structops.verifier.state import Reg, unknown

__all__ = ["prog_ctx_access"]


def prog_ctx_access(ops: ProgTypeOps, regno: int, reg: Reg, off: int, size: int, write: bool) -> Reg | None:
    """``check_ctx_access`` for ``[R<regno> + off]``: the loaded value, None for a store."""
    if reg.off or reg.var_off:
        raise Reject(errno.EACCES, f"dereference of modified ctx ptr R{regno} off={reg.off} disallowed")
    if not ops.ctx_check(off, size, write):
        raise Reject(errno.EACCES, f"invalid bpf_context access off={off} size={size}")
    if write:
        return None
    return unknown(0, (1 << (8 * size)) - 1)
