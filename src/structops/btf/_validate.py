"""Up-front checks of parsed BTF records, after the kernel's btf_check_all_types (btf.rst 2-3).

Checks every own record of a spec: string offsets and type ids in range, kind-specific
sizes and flags, FUNC pointing at a FUNC_PROTO, and no loops through value references
(typedef / modifier cycles, a struct containing itself by value through members or
arrays).  Pointers and function prototypes break cycles, as in C.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from structops.btf._wire import Kind
from structops.errors import BTFError

if TYPE_CHECKING:
    from structops.btf.parse import Spec

__all__ = ["validate_types"]

_MODIFIERS = frozenset({Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG})
_INT_SIZES = frozenset({1, 2, 4, 8, 16})
_FLOAT_SIZES = frozenset({2, 4, 8, 12, 16})
_ENUM_SIZES = frozenset({1, 2, 4, 8})


def _name(kind: int) -> str:
    try:
        return Kind(kind).name
    except ValueError:
        return f"kind {kind}"


def validate_types(spec: Spec) -> None:
    """Raise BTFError describing the first malformed record of ``spec``'s own types."""
    w = spec._words
    offs = spec._offs
    first = spec.first_id
    total = len(spec)
    strs = spec._str_total
    # Value edges for the loop check, per own index: ids this type contains by value.
    edges: list[tuple[int, ...] | int | None] = [None] * len(offs)
    for j, o in enumerate(offs):
        tid = first + j
        name_off, info, st = w[o], w[o + 1], w[o + 2]
        kind = info >> 24 & 31
        vlen = info & 0xFFFF
        kflag = info >> 31
        where = f"{_name(kind)} [{tid}]"
        if name_off >= strs and name_off:
            raise BTFError(f"{where}: name offset {name_off} beyond the string section ({strs} bytes)")
        if info & 0x60FF0000:
            raise BTFError(f"{where}: unused bits set in info {info:#x}")
        if kind in _MODIFIERS or kind == Kind.PTR:
            if vlen or (kflag and kind != Kind.TYPE_TAG):
                raise BTFError(f"{where}: vlen/kind_flag must be 0")
            if st >= total:
                raise BTFError(f"{where}: refers to type id {st}, beyond the last id {total - 1}")
            if kind != Kind.PTR:
                edges[j] = st
        elif kind == Kind.INT:
            enc = w[o + 3]
            bits, bit_off, flags = enc & 0xFF, enc >> 16 & 0xFF, enc >> 24 & 0x0F
            if vlen or kflag:
                raise BTFError(f"{where}: vlen/kind_flag must be 0")
            if st not in _INT_SIZES:
                raise BTFError(f"{where}: bad size {st}")
            if enc & 0xF0000000 or enc & 0xFF00 or bits == 0 or bit_off + bits > 8 * st:
                raise BTFError(f"{where}: bad encoding {enc:#x} for size {st}")
            if flags not in (0, 1, 2, 4):
                raise BTFError(f"{where}: more than one encoding flag in {flags:#x}")
        elif kind == Kind.ARRAY:
            elem, index = w[o + 3], w[o + 4]
            if vlen or kflag or st:
                raise BTFError(f"{where}: vlen/kind_flag/size must be 0")
            if elem >= total or index >= total or elem == 0:
                raise BTFError(f"{where}: bad element/index type {elem}/{index} (last id {total - 1})")
            edges[j] = elem
        elif kind in (Kind.STRUCT, Kind.UNION):
            refs = []
            limit = 8 * st
            for k in range(o + 3, o + 3 + 3 * vlen, 3):
                mname, mtype, moff = w[k], w[k + 1], w[k + 2]
                if mname >= strs and mname:
                    raise BTFError(f"{where}: member name offset {mname} out of range")
                if mtype >= total or mtype == 0:
                    raise BTFError(f"{where}: member refers to type id {mtype} (last id {total - 1})")
                bsize = moff >> 24 if kflag else 0
                boff = moff & 0xFFFFFF if kflag else moff
                if boff + bsize > limit:
                    raise BTFError(f"{where}: member at bit {boff} lies beyond the size {st}")
                refs.append(mtype)
            edges[j] = tuple(refs)
        elif kind in (Kind.ENUM, Kind.ENUM64):
            if st not in _ENUM_SIZES:
                raise BTFError(f"{where}: bad size {st}")
            step = 2 if kind == Kind.ENUM else 3
            for k in range(o + 3, o + 3 + step * vlen, step):
                if w[k] >= strs or w[k] == 0:
                    raise BTFError(f"{where}: bad enumerator name offset {w[k]}")
        elif kind == Kind.FWD:
            if vlen or st:
                raise BTFError(f"{where}: vlen/type must be 0")
        elif kind == Kind.FUNC:
            if vlen > 2 or kflag:
                raise BTFError(f"{where}: bad linkage {vlen}")
            if st == 0 or st >= total or spec.kind_of(st) != Kind.FUNC_PROTO:
                raise BTFError(f"{where}: refers to type id {st}, not a FUNC_PROTO")
        elif kind == Kind.FUNC_PROTO:
            if kflag or st >= total:
                raise BTFError(f"{where}: bad return type {st}")
            for n, k in enumerate(range(o + 3, o + 3 + 2 * vlen, 2)):
                pname, ptype = w[k], w[k + 1]
                if pname >= strs and pname:
                    raise BTFError(f"{where}: parameter name offset {pname} out of range")
                if ptype >= total or (ptype == 0 and (n != vlen - 1 or pname)):
                    raise BTFError(f"{where}: parameter {n} has bad type id {ptype}")
        elif kind == Kind.VAR:
            if vlen or kflag or st == 0 or st >= total or w[o + 3] > 2:
                raise BTFError(f"{where}: bad type {st} or linkage {w[o + 3]}")
            edges[j] = st
        elif kind == Kind.DATASEC:
            if kflag:
                raise BTFError(f"{where}: kind_flag must be 0")
            for k in range(o + 3, o + 3 + 3 * vlen, 3):
                vtype, voff, vsize = w[k], w[k + 1], w[k + 2]
                if vtype == 0 or vtype >= total:
                    raise BTFError(f"{where}: variable type id {vtype} out of range")
                if st and voff + vsize > st:  # object files carry size 0 until libbpf fixes it
                    raise BTFError(f"{where}: variable at {voff}+{vsize} beyond section size {st}")
        elif kind == Kind.FLOAT:
            if vlen or kflag or st not in _FLOAT_SIZES:
                raise BTFError(f"{where}: bad size {st}")
        elif kind == Kind.DECL_TAG:
            idx = w[o + 3]
            if vlen or st == 0 or st >= total:
                raise BTFError(f"{where}: bad target type {st}")
            if idx != 0xFFFFFFFF and idx >= 0x10000:
                raise BTFError(f"{where}: bad component_idx {idx}")
            if not name_off:
                raise BTFError(f"{where}: a decl tag needs a name")
    _check_loops(spec, edges)


def _check_loops(spec: Spec, edges: list[tuple[int, ...] | int | None]) -> None:
    """Raise BTFError if value references form a cycle (iterative DFS, no recursion)."""
    first = spec.first_id
    n = len(edges)
    state = bytearray(n)  # 0 new, 1 on the stack, 2 done
    for root in range(n):
        if state[root] or edges[root] is None:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, pos = stack[-1]
            e = edges[node]
            refs = (e,) if isinstance(e, int) else (e or ())
            if pos < len(refs):
                stack[-1] = (node, pos + 1)
                child = refs[pos] - first
                if child < 0 or edges[child] is None:
                    continue
                if state[child] == 1:
                    raise BTFError(
                        f"type loop: [{first + child}] {spec.name_of(first + child)!r} contains itself "
                        "by value (through typedefs, modifiers, arrays or members)"
                    )
                if state[child] == 0:
                    state[child] = 1
                    stack.append((child, 0))
            else:
                state[node] = 2
                stack.pop()
