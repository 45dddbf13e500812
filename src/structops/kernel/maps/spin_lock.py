"""``bpf_spin_lock`` (93) / ``bpf_spin_unlock`` (94) on the embedded kernel.

A ``struct bpf_spin_lock`` lives in a map value; Linux takes a real spinlock with
interrupts off.  Programs of the embedded kernel run one at a time (the simulators call
ops sequentially), so a lock is never contended: both helpers only return 0.  The rules
the Linux verifier enforces around them (one lock held at a time, no calls and no exit while
holding it) are the verifier's (:mod:`structops.verifier.locks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from structops.vm import HelperSpec

__all__ = ["spin_lock_helpers"]


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
