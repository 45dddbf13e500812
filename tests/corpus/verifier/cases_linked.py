"""Corpus cases for linked scalars (issue 12 item 2): registers that hold the same unknown
value (``r1 = r0``, ``r1 += const`` of such a copy, a spill of it) share an id, and a
conditional jump that narrows one of them narrows the others on the same side
(``sync_linked_regs``).  Each program bounds an unknown value only through a linked copy
and then moves a map value pointer by it; loaded by root and by a socket filter without
capabilities.
"""

from __future__ import annotations

from casemodel import Case

__all__ = ["LINKED_CASES"]

#: r0 = the unknown (bpf_get_prandom_u32), then ``{LINK}``; ``out:`` returns 0.
_HEAD = "call 7\n{LINK}"
#: r6 = the bounded value; the map value pointer moves by it and is read.
_USE = (
    "mov %r6, %r0\nstw [%r10-4], 0\nld_pseudo %r1, 1, {MAP16}\nmov %r2, %r10\nadd %r2, -4\ncall 1\n"
    "jne %r0, 0, ok\nexit\nok:\nadd %r0, %r6\nldxb %r0, [%r0]\nexit\nout:\nmov %r0, 0\nexit"
)


def _both(name: str, link: str) -> list[Case]:
    asm = _HEAD.replace("{LINK}", link) + _USE
    return [Case(name, None, asm, "2", "socket"), Case(name + "_unpriv", None, asm, "2", "socket", priv=False)]


#: Two paths join at ``join:`` with r6, r7 in [0, 7], independent and without ids on the
#: first (explored first, a checkpoint there) and linked (r7 = r6) on the second; both move a stack pointer
#: after the join, so they are precise: does the first state cover the second?
_PAIR = (
    "stdw [%r10-16], 0\nstdw [%r10-8], 0\ncall 7\nmov %r8, %r0\ncall 7\nand %r0, 7\nmov %r6, %r0\nmul %r6, 1\n"
    "call 7\nand %r0, 7\nmov %r7, %r0\nmul %r7, 1\nmov %r0, 0\njeq %r8, 0, b\nmov %r2, 1\nmov %r2, 2\nmov %r2, 3\n"
    "mov %r2, 4\nja join\nb:\nmov %r7, %r6\njoin:\nmov %r1, %r10\nadd %r1, -16\nadd %r1, %r6\n"
    "add %r1, %r7\nldxb %r0, [%r1]\nexit"
)

LINKED_CASES: list[Case] = [
    Case("linked_ids_pair_up_when_pruning", None, _PAIR, "2", "socket"),
    # the copy is bounded, the original with it
    *_both("linked_mov_bound", "mov %r1, %r0\njgt %r1, 7, out\n"),
    # the original is bounded, the copy with it (and the copy is used)
    *_both("linked_mov_bound_other", "mov %r1, %r0\njgt %r0, 7, out\nmov %r0, %r1\n"),
    # a copy moved by a constant: both bounds of r1 = r0 + 4 give r0 in [0, 7]
    *_both("linked_add_const", "and %r0, 255\nmov %r1, %r0\nadd %r1, 4\njgt %r1, 11, out\n"),
    # a negative constant
    *_both("linked_add_negative", "and %r0, 255\nadd %r0, 4\nmov %r1, %r0\nadd %r1, -4\njgt %r1, 7, out\n"),
    # subtracting a constant
    *_both("linked_sub_const", "and %r0, 255\nadd %r0, 4\nmov %r1, %r0\nsub %r1, 4\njgt %r1, 7, out\n"),
    # a 32-bit add of a constant to a copy that fits in 32 bits
    *_both("linked_add32_const", "and %r0, 255\nmov %r1, %r0\nadd32 %r1, 4\njgt %r1, 11, out\n"),
    # another operation on the copy breaks the link
    *_both("linked_broken_by_mul", "mov %r1, %r0\nmul %r1, 1\njgt %r1, 7, out\n"),
    # negating the copy gives it another value: no link; a byte-order op that changes
    # nothing (le64 on this little-endian machine) keeps it
    *_both("linked_broken_by_neg", "and %r0, 255\nmov %r1, %r0\nneg %r1\njsgt %r1, -248, out\n"),
    *_both("linked_kept_by_le64", "mov %r1, %r0\nle64 %r1\njgt %r1, 7, out\n"),
    # a second += on the copy breaks it too
    *_both("linked_two_adds", "and %r0, 255\nmov %r1, %r0\nadd %r1, 2\nadd %r1, 2\njgt %r1, 11, out\n"),
    # a 32-bit copy of a value that fits in 32 bits stays linked
    *_both("linked_mov32", "and %r0, 255\nmov32 %r1, %r0\njgt %r1, 7, out\n"),
    # a 32-bit copy of a wider value is not linked
    *_both("linked_mov32_wide", "mov32 %r1, %r0\njgt %r1, 7, out\n"),
    # spilled and filled: the slot keeps the link (privileged: scalars are spilled)
    *_both("linked_spill_fill", "stxdw [%r10-16], %r0\njgt %r0, 7, out\nldxdw %r0, [%r10-16]\n"),
    # the register is overwritten by a fresh copy of something else: no link left
    *_both("linked_overwritten", "mov %r1, %r0\ncall 7\nmov %r1, %r0\njgt %r1, 7, out\nmov %r0, 1000\n"),
]
