"""Layout helpers over the BTF graph: peeling qualifiers, sizes, alignment, member offsets.

These mirror what a C compiler computes for the BPF target (pointers are 8 bytes) and
what libbpf's btf__resolve_size / btf__align_of report.  Every walk is bounded, so a
malformed graph (a typedef cycle built by hand) raises BTFError instead of recursing.
"""

from __future__ import annotations

from structops.btf import types as bt
from structops.errors import BTFError

__all__ = ["alignof", "is_func_pointer", "member_offset", "sizeof", "underlying"]

#: Longest chain of typedefs / qualifiers / arrays followed (libbpf uses 32).
MAX_RESOLVE_DEPTH = 64
POINTER_SIZE = 8
_PEEL = (bt.Typedef, bt.Const, bt.Volatile, bt.Restrict, bt.TypeTag)


def underlying(t: bt.Type) -> bt.Type:
    """Return ``t`` with typedefs, const, volatile, restrict and type tags peeled off."""
    for _ in range(MAX_RESOLVE_DEPTH):
        if not isinstance(t, _PEEL):
            return t
        t = t.type
    raise BTFError(f"typedef/modifier chain too long or cyclic at {bt.describe(t)}")


def sizeof(t: bt.Type) -> int:
    """Return the size in bytes of a value of type ``t`` (BTFError for void, functions, fwd)."""
    scale = 1
    for _ in range(MAX_RESOLVE_DEPTH):
        if isinstance(t, bt.Int | bt.Float | bt.Struct | bt.Union | bt.Enum | bt.Enum64 | bt.Datasec):
            return scale * t.size
        if isinstance(t, bt.Pointer):
            return scale * POINTER_SIZE
        if isinstance(t, bt.Array):
            scale *= t.nelems
            t = t.type
        elif isinstance(t, (*_PEEL, bt.Var)):
            t = t.type
        else:
            raise BTFError(f"{bt.describe(t)} has no size")
    raise BTFError(f"type chain too long or cyclic at {bt.describe(t)}")


def alignof(t: bt.Type, cache: dict[int, int] | None = None) -> int:
    """Return the natural alignment of ``t`` (1 for a packed struct), like libbpf's btf__align_of.

    ``cache`` (keyed by ``id()`` of struct/union objects) speeds up repeated calls.
    """
    return _alignof(t, 0, cache if cache is not None else {})


def _alignof(t: bt.Type, depth: int, cache: dict[int, int]) -> int:
    if depth > MAX_RESOLVE_DEPTH:
        raise BTFError(f"type nesting too deep or cyclic at {bt.describe(t)}")
    t = underlying(t)
    if isinstance(t, bt.Int | bt.Float | bt.Enum | bt.Enum64):
        size = t.size
        return size if size in (1, 2, 4, 8, 16) else 1
    if isinstance(t, bt.Pointer):
        return POINTER_SIZE
    if isinstance(t, bt.Array):
        return _alignof(t.type, depth + 1, cache)
    if isinstance(t, bt.Struct | bt.Union):
        known = cache.get(id(t))
        if known is not None:
            return known
        align = 1
        for m in t.members:
            a = _alignof(m.type, depth + 1, cache)
            if not m.bitfield_size and m.bit_offset % (8 * a):
                align = 0  # a member below its natural alignment: the struct is packed
                break
            align = max(align, a)
        result = 1 if align == 0 or t.size % align else align
        cache[id(t)] = result
        return result
    raise BTFError(f"{bt.describe(t)} has no alignment")


def _find_member(t: bt.Type, name: str) -> tuple[bt.Member, int] | None:
    """Search ``name`` among the members of ``t``, descending into anonymous members."""
    t = underlying(t)
    if not isinstance(t, bt.Struct | bt.Union):
        return None
    for m in t.members:
        if m.name == name:
            return m, m.bit_offset
    for m in t.members:
        if not m.name:
            inner = _find_member(m.type, name)
            if inner is not None:
                return inner[0], m.bit_offset + inner[1]
    return None


def member_offset(struct: bt.Type, name: str) -> int:
    """Return the byte offset of member ``name`` ("a.b.c" for nested members) in ``struct``.

    Anonymous struct/union members are searched as C does.  KeyError if there is no such
    member, BTFError if it does not start on a byte.
    """
    t = struct
    total = 0
    for part in name.split("."):
        found = _find_member(t, part)
        if found is None:
            raise KeyError(f"{bt.describe(underlying(t))} has no member {part!r}")
        member, bits = found
        total += bits
        t = member.type
    if total % 8:
        raise BTFError(f"member {name!r} starts at bit {total}, not on a byte")
    return total // 8


def is_func_pointer(t: bt.Type) -> bool:
    """True if ``t`` is (after peeling typedefs/qualifiers) a pointer to a FUNC_PROTO."""
    t = underlying(t)
    return isinstance(t, bt.Pointer) and isinstance(underlying(t.target), bt.FuncProto)
