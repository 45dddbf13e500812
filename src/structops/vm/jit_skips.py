"""Which forward jumps the translator (:mod:`structops.vm.jit`) emits as nested ``if`` blocks.

A conditional forward jump over code that can only be entered by falling through it is
written as ``if not cond:`` around the skipped instructions, so the translated function
does not go back to its ``pc`` dispatch for it.
"""

from __future__ import annotations

from structops.isa.insn import Insn
from structops.isa.opcodes import Kind

__all__ = ["structured_skips"]

#: Longest forward skip turned into a nested ``if`` (bounds the analysis cost).
_MAX_SKIP = 256
#: Deepest nesting of structured skips (CPython allows 100 indentation levels in all).
_MAX_NEST = 32


def structured_skips(pcs: list[int], jumps: dict[int, int], slots: list[Insn | None]) -> set[int]:
    """Conditional forward jumps that can be emitted as ``if not cond: <skipped code>``.

    A skip from ``j`` to ``T`` qualifies when control can enter ``(j, T)`` only by
    falling through ``j``: every jump landing inside comes from inside and is itself a
    qualifying skip nested within ``T``.  Found by shrinking the candidate set to a
    fixpoint.
    """
    incoming: dict[int, list[int]] = {}
    for src, dst in jumps.items():
        incoming.setdefault(dst, []).append(src)
    skips = set()
    for j, t in jumps.items():
        insn = slots[j]
        assert insn is not None and insn.spec is not None
        if insn.spec.kind is Kind.JCOND and j + 1 < t <= j + _MAX_SKIP:
            skips.add(j)
    changed = True
    while changed:
        changed = False
        for j in sorted(skips):
            t = jumps[j]
            ok = True
            for pc in range(j + 1, t):
                for src in incoming.get(pc, ()):
                    if not (j < src < pc and src in skips):
                        ok = False
                if pc in skips and jumps[pc] > t:
                    ok = False
                if not ok:
                    break
            if not ok:
                skips.discard(j)
                changed = True
        if not changed:
            changed = _drop_deep_skips(skips, jumps)
    return skips


def _drop_deep_skips(skips: set[int], jumps: dict[int, int]) -> bool:
    """Drop skips nested deeper than :data:`_MAX_NEST` (Python limits indentation)."""
    open_targets: list[int] = []
    dropped = False
    for j in sorted(skips):
        while open_targets and open_targets[-1] <= j:
            open_targets.pop()
        if len(open_targets) >= _MAX_NEST:
            skips.discard(j)
            dropped = True
        else:
            open_targets.append(jumps[j])
    return dropped
