"""Corpus cases for the speculative paths of a loader without CAP_PERFMON (issue 12 item 2).

Linux 6.18 mitigates Spectre v1 for such a loader by also verifying the paths a
mispredicted branch takes: the other side of a decided conditional jump (its compared
registers unknown), and the instruction after ``ptr += reg`` with the pointer unmoved
(the offset masked to 0).  An EACCES/EINVAL/EPERM on such a path only plants a barrier
(``nospec``); a later speculative path stops at it; a stack store that overwrites a
register spill or fresh bytes ends a speculative path after it (``nospec_result``).
Each program is loaded by a socket filter without capabilities (``_unpriv``) and, for
comparison, by root (where none of this happens); "processed N insns" shows the paths.
"""

from __future__ import annotations

from casemodel import CHECKED16, Case

__all__ = ["SPEC_CASES"]

_SOCK = "socket"
_RET = "mov %r0, 0\nexit"
#: r0 = a 16-byte map value (checked: the lookup's NULL test is decided), r1 one of its bytes.
_V = CHECKED16 + "ldxb %r1, [%r0]\n"


def _both(name: str, asm: str) -> list[Case]:
    return [Case(name, None, asm, "2", _SOCK), Case(name + "_unpriv", None, asm, "2", _SOCK, priv=False)]


SPEC_CASES: list[Case] = [
    # the masked path reads 8 bytes before the value: only a barrier, the program loads
    *_both("spec_masked_offset_would_fault", _V + "and %r1, 7\nadd %r1, 8\nadd %r0, %r1\nldxb %r0, [%r0-8]\nexit"),
    # two variable moves: the masked path of the first masks the second again
    *_both(
        "spec_two_masked_moves",
        _V + "and %r1, 3\nldxb %r2, [%r0+1]\nand %r2, 3\nadd %r0, %r1\nadd %r0, %r2\nldxb %r0, [%r0]\nexit",
    ),
    # the dead side stores to a fresh stack slot (a barrier follows) before its bad load
    *_both(
        "spec_dead_side_stack_store",
        "mov %r1, 0\njeq %r1, 0, ok\nstdw [%r10-8], 0\nldxdw %r0, [%r1]\nexit\nok:\n" + _RET,
    ),
    # the dead side stores into written bytes (no barrier) and then faults
    *_both(
        "spec_dead_side_store_written",
        "stdw [%r10-8], 0\nmov %r1, 0\njeq %r1, 0, ok\nstdw [%r10-8], 1\nldxdw %r0, [%r1]\nexit\nok:\n" + _RET,
    ),
    # the second dead side reaches x with a stack pointer, but the first left a barrier there
    *_both(
        "spec_barrier_stops_later_path",
        "stdw [%r10-8], 0\nmov %r2, 0\nmov %r1, %r10\njne %r2, 0, x\nmov %r1, 0\njne %r2, 0, x\n"
        + _RET
        + "\nx:\nldxdw %r0, [%r1-8]\nexit",
    ),
    # the dead side adds two scalars at the instruction a real path later uses to move a
    # stack pointer: the instruction can no longer be masked, Linux refuses the program
    *_both(
        "spec_scalar_add_then_pointer_add",
        "call 7\nmov %r2, 1\nmov %r3, 4\nmov %r4, 0\njne %r0, 0, real\njne %r4, 0, x\n"
        + _RET
        + "\nreal:\nmov %r2, %r10\nadd %r2, -8\nx:\nadd %r2, %r3\n"
        + _RET,
    ),
    # after a masked move, states are compared exactly: r6 = 5 is not pruned by r6 in [0, 255]
    *_both(
        "spec_exact_states_after_masking",
        _V
        + "ldxb %r6, [%r0+1]\nand %r1, 7\nadd %r0, %r1\njeq %r6, 5, l\nmov %r2, 0\nmov %r2, 1\nmov %r2, 2\n"
        + "mov %r2, 3\nmov %r2, 4\nmov %r2, 5\nmov %r2, 6\nl:\nmov %r0, %r6\nexit",
    ),
    # a 32-bit NULL test of a map value is decided too (and not a pointer comparison)
    *_both(
        "spec_jmp32_null_test_decided",
        CHECKED16 + "jeq32 %r0, 0, bad\nldxb %r0, [%r0]\nexit\nbad:\nldxdw %r0, [%r0]\nexit",
    ),
    # the dead side of a decided test returns a pointer: only a barrier
    *_both("spec_dead_side_leaks_pointer", "mov %r1, 1\njgt %r1, 0, ok\nmov %r0, %r10\nexit\nok:\n" + _RET),
    # the dead side of a real test that was not decided is a real path: refused
    *_both("spec_undecided_side_leaks_pointer", "call 7\njgt %r0, 0, ok\nmov %r0, %r10\nexit\nok:\n" + _RET),
]
