"""The case model of the verifier differential corpus (see ``cases.py``).

A :class:`Case` is one program: assembly text (:mod:`structops.isa.asm`, plus ``.insn
CODE REGS OFF IMM`` for raw slots the assembler cannot spell) or a committed C object,
its program type (``ptype``: ``struct_ops`` with a ``target`` member, ``socket``, ``tc``,
``act`` (SCHED_ACT), ``xdp``, ``tracepoint``) and whether the loader is privileged (root) or has no capability.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BAD", "CHECKED8", "CHECKED16", "DUMMY", "LOOKUP8", "LOOKUP16", "OUT", "TCP", "Case", "render"]

DUMMY = ("bpf_dummy_ops", "test_1")
TCP = ("tcp_congestion_ops", "ssthresh")

# value = map_value_or_null of MAP at key 0 in r0 (clobbers r1, r2)
LOOKUP8 = """
stw [%r10-4], 0
ld_pseudo %r1, 1, {MAP8}
mov %r2, %r10
add %r2, -4
call 1
"""
LOOKUP16 = LOOKUP8.replace("{MAP8}", "{MAP16}")
CHECKED8 = LOOKUP8 + "jne %r0, 0, ok\nmov %r0, 0\nexit\nok:\n"
OUT = "\nexit\nout:\nmov %r0, 0\nexit"  # the "out:" exit of a bounds check
BAD = "\nmov %r0, 0\nexit\nbad:\nmov %r2, 0\nldxdw %r0, [%r2]\nexit"  # "bad:" dereferences a scalar
CHECKED16 = LOOKUP16 + "jne %r0, 0, ok\nmov %r0, 0\nexit\nok:\n"


@dataclass(frozen=True)
class Case:
    """One program: ``name``, struct_ops target ``(ops, member)`` (None for other types),
    assembly, the issue item it covers, program type, privilege, C object (``obj``)."""

    name: str
    target: tuple[str, str] | None
    asm: str
    item: str
    ptype: str = "struct_ops"
    priv: bool = True
    obj: str | None = None


def render(case: Case, facts: dict[str, int]) -> str:
    """The case's assembly with the kernel's fds and offsets filled in."""
    return case.asm.format(**facts)
