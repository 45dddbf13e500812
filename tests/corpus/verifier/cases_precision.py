"""Corpus cases for scalar precision tracking and state pruning (issue 12 item 2).

Each program forks on an unknown value, gives a scalar (``r7``) a different value on each
side, and joins at ``a:``, where the first side explored (the fall-through) left a
checkpoint.  Linux 6.18 prunes the second side there exactly when nothing the program
relies on later depends on the differing scalar; what it relies on (a pointer moved by a
scalar, here) is found by precision backtracking, through a spill and a fill, a bpf-to-bpf
call, or directly.  The pad (``jeq %r2, 0, x`` and moves) makes the fall-through cross two
jumps and eight instructions, so the kernel's heuristic records a state at the join.
"""

from __future__ import annotations

from casemodel import CHECKED16, TCP, Case

__all__ = ["PRECISION_CASES"]

#: r1, r2 unknown, r6 = the map value; the fork, r7 = 1 on the fall-through, 0 when taken.
_FORK = (
    CHECKED16
    + "mov %r6, %r0\nldxdw %r1, [%r0]\nldxdw %r2, [%r0+8]\nmov %r7, 0\n{PRE}jeq %r1, 0, a\nmov %r7, 1\n"
    + "jeq %r2, 0, x\nx:\nmov %r3, 1\nmov %r3, 2\nmov %r3, 3\nmov %r3, 4\nmov %r3, 5\nmov %r3, 6\na:\n"
)


def _p(name: str, pre: str, after: str) -> Case:
    return Case(name, TCP, _FORK.replace("{PRE}", pre) + after, "2")


PRECISION_CASES: list[Case] = [
    # r7 is only stored: imprecise at the join, the taken side is pruned there
    _p("prec_imprecise_pruned", "", "stxdw [%r6], %r7\nmov %r0, 0\nexit"),
    # r7 moves a pointer: precise at the join, both sides are explored to the end
    _p("prec_precise_kept", "", "and %r7, 1\nadd %r6, %r7\nldxb %r0, [%r6]\nmov %r0, 0\nexit"),
    # a constant spilled before the fork, filled after the join and added to a pointer:
    # the slot is precise at the join, r7 is not, so the taken side is pruned
    _p(
        "prec_spill_fill_pruned",
        "mov %r8, 2\nstxdw [%r10-16], %r8\n",
        "ldxdw %r2, [%r10-16]\nadd %r6, %r2\nldxb %r3, [%r6]\nstxdw [%r0], %r7\nmov %r0, 0\nexit",
    ),
    # the same slot refilled but r7 spilled to it on each side: precise, kept
    _p(
        "prec_spill_fill_kept",
        "",
        "stxdw [%r10-16], %r7\nldxdw %r2, [%r10-16]\nand %r2, 1\nadd %r6, %r2\nldxb %r0, [%r6]\nmov %r0, 0\nexit",
    ),
    # a callee moves the pointer by its second argument (3, set before the fork): backtracking
    # goes through the call into the caller, r7 stays imprecise, the taken side is pruned
    _p(
        "prec_subprog_arg_pruned",
        "mov %r9, 3\n",
        "mov %r1, %r6\nmov %r2, %r9\ncall local f\nstxdw [%r6], %r7\nmov %r0, 0\nexit\n"
        "f:\nadd %r1, %r2\nldxb %r0, [%r1]\nexit",
    ),
    # the callee gets r7 itself: precise in the caller's frame, kept
    _p(
        "prec_subprog_arg_kept",
        "",
        "mov %r1, %r6\nmov %r2, %r7\ncall local f\nmov %r0, 0\nexit\nf:\nadd %r1, %r2\nldxb %r0, [%r1]\nexit",
    ),
    # a branch decided by r7 (known on each side) makes it precise: kept
    _p("prec_branch_decided_kept", "", "jeq %r7, 5, b\nmov %r0, 0\nexit\nb:\nmov %r0, 1\nexit"),
]
