"""The memory a verified program can touch through BTF pointers (issue 17 item 1).

While it walks a program, the verifier records every load and store through a
``PTR_TO_BTF_ID`` register that it accepts: the struct type the pointer has, the byte
offset from the start of that struct and the access size (``check_mem_access`` for BTF
pointers in :mod:`structops.verifier.memory`).  The result, an :class:`AccessSet`, is an
over-approximation over all paths: a program can never read or write a struct field
whose bytes are outside it (there are no variable offsets on BTF pointers).

A bridge that mirrors simulated state into kernel structs (the TCP bridge) uses it to
copy in only what the program reads and copy back only what it may write.  What a
helper or kfunc reads is not in the set: :attr:`AccessSet.calls` names every helper and
kfunc the program calls, so the bridge can decide which of them it trusts not to read
the struct behind the program's back.

Nothing here depends on the kernel; :func:`called_functions` scans the final bytecode
with the kernel's name lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from structops.isa.scan import slots_with_opcode

__all__ = ["AccessSet", "Field", "called_functions", "note_access"]

#: (struct type name, byte offset in that struct, size in bytes).
Field = tuple[str, int, int]

_BPF_JMP_CALL = 0x85
_PSEUDO_CALL = 1
_PSEUDO_KFUNC_CALL = 2


@dataclass
class AccessSet:
    """BTF-pointer loads and stores a program may perform, and the functions it calls."""

    reads: set[Field] = field(default_factory=set)
    writes: set[Field] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)

    def add(self, struct: str, off: int, size: int, write: bool) -> None:
        """Record one accepted access."""
        (self.writes if write else self.reads).add((struct, off, size))

    def union(self, other: AccessSet) -> AccessSet:
        """A new set covering both."""
        return AccessSet(self.reads | other.reads, self.writes | other.writes, self.calls | other.calls)

    def key(self) -> tuple[frozenset[Field], frozenset[Field], frozenset[str]]:
        """A hashable form (plan caches)."""
        return frozenset(self.reads), frozenset(self.writes), frozenset(self.calls)

    @staticmethod
    def union_of(sets: Iterable[AccessSet]) -> AccessSet:
        """The union of ``sets`` (empty for none)."""
        out = AccessSet()
        for s in sets:
            out.reads |= s.reads
            out.writes |= s.writes
            out.calls |= s.calls
        return out


def note_access(recorder: AccessSet | None, struct: object, off: int, size: int, write: bool) -> None:
    """The verifier's hook: record an accepted BTF access when the env collects them."""
    if recorder is not None:
        recorder.add(str(getattr(struct, "name", "") or ""), off, size, write)


def called_functions(
    insns: bytes, helper_name: Callable[[int], str], kfunc_name: Callable[[int, int], str | None]
) -> set[str]:
    """Names of the helpers and kfuncs called by ``insns`` (bpf-to-bpf calls skipped).

    ``kfunc_name(btf_id, off)`` returns None for an unknown kfunc; it is recorded as
    ``kfunc#<btf_id>`` so that a bridge never mistakes it for a function it trusts.
    """
    out: set[str] = set()
    for pc in slots_with_opcode(insns, bytes([_BPF_JMP_CALL])):
        pos = pc * 8
        src = insns[pos + 1] >> 4
        off = int.from_bytes(insns[pos + 2 : pos + 4], "little", signed=True)
        imm = int.from_bytes(insns[pos + 4 : pos + 8], "little", signed=True)
        if src == _PSEUDO_CALL:
            continue
        if src == _PSEUDO_KFUNC_CALL:
            out.add(kfunc_name(imm, off) or f"kfunc#{imm}")
        else:
            out.add(helper_name(imm))
    return out
