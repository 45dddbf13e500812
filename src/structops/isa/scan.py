"""Finding instructions by opcode in raw bytecode without a Python step per slot.

A program of a million slots is mostly instructions a given pass does not care about
(a pass looking for calls skips every ALU op).  These helpers search the opcode bytes
(every 8th byte) with the ``re`` engine and return only the matching slots, in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

__all__ = ["insn_starts", "slots_with_opcode"]

_LD_IMM64 = 0x18


@lru_cache(maxsize=64)
def _pattern(opcodes: bytes) -> re.Pattern[bytes]:
    return re.compile(b"[" + b"".join(re.escape(bytes([c])) for c in sorted(set(opcodes))) + b"]")


def _opcodes(insns: bytes) -> bytes:
    return insns[0 : len(insns) // 8 * 8 : 8]


def slots_with_opcode(insns: bytes, opcodes: bytes) -> Iterator[int]:
    """Every slot index (second halves of ``ld_imm64`` included) whose opcode is in ``opcodes``."""
    for m in _pattern(opcodes).finditer(_opcodes(insns)):
        yield m.start()


def insn_starts(insns: bytes, opcodes: bytes) -> Iterator[int]:
    """Slot indexes of the instructions whose opcode is in ``opcodes``, walking the program
    as ``pc += 2 if opcode == ld_imm64 else 1`` does (a ``ld_imm64``'s second slot is skipped
    whatever it holds)."""
    want = set(opcodes)
    nxt = 0
    ops = _opcodes(insns)
    for m in _pattern(bytes(want | {_LD_IMM64})).finditer(ops):
        p = m.start()
        if p < nxt:
            continue
        if ops[p] == _LD_IMM64:
            nxt = p + 2
            if _LD_IMM64 not in want:
                continue
        yield p
