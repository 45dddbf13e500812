"""Program <-> struct_ops map association (A1-A5).

A struct_ops program remembers the one map it is a member of (or :data:`POISON` when
it sits in two); any other program can be associated with one map explicitly, which
then holds a map reference.  ``prog_get_assoc`` is what the
``bpf_prog_get_assoc_struct_ops`` kfunc returns.
"""

from __future__ import annotations

import enum
import errno
import threading
from typing import TYPE_CHECKING, Final

from structops.uapi import ProgType

if TYPE_CHECKING:
    from structops.kernel.prog import BpfProg
    from structops.kernel.struct_ops.kdata import KData
    from structops.kernel.struct_ops.map import StructOpsMap

__all__ = ["POISON", "prog_assoc", "prog_disassoc", "prog_get_assoc"]


class Poison(enum.Enum):
    """The type of :data:`POISON`."""

    POISON = "poison"


#: Stored in ``BpfProg.st_ops_assoc`` when a struct_ops prog sits in two maps (A2).
POISON: Final = Poison.POISON

_assoc_lock = threading.Lock()


def prog_assoc(prog: BpfProg, st_map: StructOpsMap) -> int:
    """``bpf_prog_assoc_struct_ops`` (A2): 0, or -EBUSY for a second map."""
    with _assoc_lock:
        cur = prog.st_ops_assoc
        if prog.prog_type == ProgType.BPF_PROG_TYPE_STRUCT_OPS:
            if cur is None:
                prog.st_ops_assoc = st_map
            elif cur is not st_map:
                prog.st_ops_assoc = POISON
            return 0
        if cur is st_map:
            return 0
        if cur is not None:
            return -errno.EBUSY
        st_map.get()
        prog.st_ops_assoc = st_map
        return 0


def prog_disassoc(prog: BpfProg) -> None:
    """``bpf_prog_disassoc_struct_ops`` (A3)."""
    with _assoc_lock:
        cur = prog.st_ops_assoc
        if cur is None or cur is POISON:
            return
        prog.st_ops_assoc = None
    if prog.prog_type != ProgType.BPF_PROG_TYPE_STRUCT_OPS:
        cur.put()


def prog_get_assoc(prog: BpfProg) -> KData | None:
    """``bpf_prog_get_assoc_struct_ops`` (A4): the kdata, or None (no association / POISON)."""
    cur = prog.st_ops_assoc
    return None if cur is None or cur is POISON else cur.kdata
