"""``bpf_spin_lock`` (93) / ``bpf_spin_unlock`` (94) on the embedded kernel.

A ``struct bpf_spin_lock`` lives in a map value; Linux takes a real spinlock with
interrupts off.  Programs of the embedded kernel run one at a time (the simulators call
ops sequentially), so a lock is never contended: both helpers only return 0.  The rules
the Linux verifier enforces around them (one lock held at a time, no calls and no exit while
holding it) are the verifier's (:mod:`structops.verifier.locks`).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from structops.errors import bpf_error

if TYPE_CHECKING:
    from structops.vm import HelperSpec

__all__ = ["check_spin_lock_map", "spin_lock_helpers"]

#: Map types whose value may hold a ``bpf_spin_lock`` (``map_check_btf``): HASH, ARRAY,
#: CGROUP_STORAGE, SK_STORAGE, INODE_STORAGE, TASK_STORAGE, CGRP_STORAGE.
LOCK_MAP_TYPES = frozenset({1, 2, 19, 24, 28, 29, 32})


def check_spin_lock_map(m: Any, value_type: Any) -> None:
    """``map_check_btf``: a value with a ``bpf_spin_lock`` only in :data:`LOCK_MAP_TYPES`
    (Linux 6.18: EOPNOTSUPP for a PERCPU_ARRAY, LRU_HASH or PERCPU_HASH, measured)."""
    from structops.verifier.locks import has_spin_lock

    if has_spin_lock(value_type) and int(m.map_type) not in LOCK_MAP_TYPES:
        raise bpf_error(
            errno.EOPNOTSUPP,
            f"map type {int(m.map_type)} cannot hold a struct bpf_spin_lock in its value; "
            "use an ARRAY, HASH or a local storage map",
        )


def spin_lock_helpers() -> list[HelperSpec]:
    """The VM helpers ``bpf_spin_lock`` and ``bpf_spin_unlock`` (uncontended: no-ops)."""
    from structops.vm import ArgType, HelperSpec, RetType

    def nothing(run: object, *_: int) -> int:
        return 0

    args = (ArgType.ANYTHING,)
    return [
        HelperSpec(93, "spin_lock", nothing, args, RetType.VOID),
        HelperSpec(94, "spin_unlock", nothing, args, RetType.VOID),
    ]
