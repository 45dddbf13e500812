"""The struct_ops subsystem: type registry, struct_ops maps, trampolines, links, association.

This mirrors ``kernel/bpf/bpf_struct_ops.c`` behaviour statement by statement; the ids
in comments and docstrings refer to ``struct_ops-kernel-spec.md`` (R* registration,
C*/M* map creation and memory, U* update, L* lookup, D* delete, S* states, K*/KU*/KD*/KP*
links, F* references, A* association).  One module per concept:

* :mod:`.registry` — :class:`StructOpsOps` (what a "module" hands to
  :func:`register_struct_ops`, ``struct bpf_struct_ops``) and :class:`StructOpsDesc` (a
  registered type, ``struct bpf_struct_ops_desc``), R1-R6.
* :mod:`.map` — :class:`StructOpsMap` (``BPF_MAP_TYPE_STRUCT_OPS``) and its state machine.
* :mod:`.kdata` — :class:`KData`, the kernel-side struct handed to the subsystem callbacks.
* :mod:`.trampoline` — :class:`Trampoline` / :class:`ImagePages`: per-op entry points packed
  in pages (U9j, M2).
* :mod:`.link` — :class:`StructOpsLink` (``BPF_LINK_TYPE_STRUCT_OPS``, K1-KP3).
* :mod:`.assoc` — program <-> map association (A1-A5).
"""

from __future__ import annotations

from structops.kernel.struct_ops.assoc import POISON, prog_assoc, prog_disassoc, prog_get_assoc
from structops.kernel.struct_ops.kdata import KData
from structops.kernel.struct_ops.link import EPOLLHUP, StructOpsLink, link_create
from structops.kernel.struct_ops.map import INIT, INUSE, READY, TOBEFREE, QuirkReturn, StructOpsMap, valid_to_reg
from structops.kernel.struct_ops.registry import (
    BPF_MODULE_OWNER,
    VALUE_PREFIX,
    CtxArg,
    FuncModel,
    StructOpsDesc,
    StructOpsOps,
    VerifierOps,
    find_desc,
    find_desc_by_value,
    func_proto_of,
    is_module_ptr,
    register_struct_ops,
)
from structops.kernel.struct_ops.trampoline import ImagePages, Trampoline, default_trampoline_size

#: Former private names, still imported by callers.
_func_proto_of = func_proto_of

__all__ = [
    "BPF_MODULE_OWNER",
    "EPOLLHUP",
    "INIT",
    "INUSE",
    "POISON",
    "READY",
    "TOBEFREE",
    "VALUE_PREFIX",
    "CtxArg",
    "FuncModel",
    "ImagePages",
    "KData",
    "QuirkReturn",
    "StructOpsDesc",
    "StructOpsLink",
    "StructOpsMap",
    "StructOpsOps",
    "Trampoline",
    "VerifierOps",
    "default_trampoline_size",
    "find_desc",
    "find_desc_by_value",
    "func_proto_of",
    "is_module_ptr",
    "link_create",
    "prog_assoc",
    "prog_disassoc",
    "prog_get_assoc",
    "register_struct_ops",
    "valid_to_reg",
]
