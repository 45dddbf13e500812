"""CO-RE candidate search and type compatibility (libbpf ``relo_core.c`` rules).

* :func:`candidates`: target type ids whose BTF kind equals the local type's (``enum``
  and ``enum64`` count as one kind) and whose essential name (text before a ``___``
  flavour suffix) equals the local type's essential name, in id order;
* :func:`fields_compatible`: ``bpf_core_fields_are_compat``;
* :func:`types_compatible`: ``bpf_core_types_are_compat`` (TYPE_EXISTS/SIZE/ID_TARGET);
* :func:`types_match`: ``bpf_core_types_match`` (TYPE_MATCHES), stricter: names, sizes,
  signedness and members must line up.
"""

from __future__ import annotations

import weakref
from typing import Final

from structops.btf.layout import underlying
from structops.btf.parse import Spec as BTFSpec
from structops.btf.types import (
    Array,
    Enum,
    Enum64,
    Float,
    FuncProto,
    Fwd,
    Int,
    Pointer,
    Struct,
    Type,
    Union,
    Void,
)
from structops.loader.spec import essential_name

__all__ = ["candidates", "fields_compatible", "types_compatible", "types_match"]

_MAX_DEPTH: Final = 32
_ENUM_KINDS: Final = (Enum.kind, Enum64.kind)
_flavoured: weakref.WeakKeyDictionary[BTFSpec, dict[str, list[int]]] = weakref.WeakKeyDictionary()


def _flavour_index(spec: BTFSpec) -> dict[str, list[int]]:
    """essential name -> ids of the types whose name carries a ``___`` flavour."""
    idx = _flavoured.get(spec)
    if idx is None:
        idx = {}
        for tid in range(1, len(spec)):
            name = spec.name_of(tid)
            if "___" in name:
                idx.setdefault(essential_name(name), []).append(tid)
        _flavoured[spec] = idx
    return idx


def _kind_compatible(a: int, b: int) -> bool:
    return a == b or (a in _ENUM_KINDS and b in _ENUM_KINDS)


def candidates(target: BTFSpec, local: Type) -> list[int]:
    """Ids of the target types that are CO-RE candidates for ``local`` (named, same kind)."""
    name = str(getattr(local, "name", "") or "")
    if not name:
        return []
    want = essential_name(name)
    ids = {target.type_id(t) for t in target.find_all(want)}
    ids.update(_flavour_index(target).get(want, ()))
    return sorted(i for i in ids if _kind_compatible(target.kind_of(i), local.kind))


def _names_match(a: Type, b: Type) -> bool:
    an, bn = str(getattr(a, "name", "") or ""), str(getattr(b, "name", "") or "")
    if not an or not bn:
        return True
    return essential_name(an) == essential_name(bn)


def fields_compatible(local: Type, target: Type) -> bool:
    """Whether a field of type ``local`` may be relocated to one of type ``target``."""
    for _ in range(_MAX_DEPTH):
        a, b = underlying(local), underlying(target)
        if isinstance(a, Struct | Union) and isinstance(b, Struct | Union):
            return True
        if not _kind_compatible(a.kind, b.kind):
            return False
        if isinstance(a, Pointer | Float):
            return True
        if isinstance(a, Fwd | Enum | Enum64):
            return _names_match(a, b)
        if isinstance(a, Int):
            assert isinstance(b, Int)
            return a.offset == 0 and b.offset == 0
        if isinstance(a, Array):
            assert isinstance(b, Array)
            local, target = a.type, b.type
            continue
        return False
    return False


def types_compatible(local: Type, target: Type, depth: int = 0) -> bool:
    """Whether ``target`` is compatible with ``local`` for type-based relocations."""
    if depth > _MAX_DEPTH:
        return False
    a, b = underlying(local), underlying(target)
    for _ in range(_MAX_DEPTH):
        if not _kind_compatible(a.kind, b.kind):
            return False
        if isinstance(a, Void | Struct | Union | Enum | Enum64 | Fwd):
            return True
        if isinstance(a, Int):
            assert isinstance(b, Int)
            return a.offset == 0 and b.offset == 0
        if isinstance(a, Pointer):
            assert isinstance(b, Pointer)
            a, b = underlying(a.target), underlying(b.target)
            continue
        if isinstance(a, Array):
            assert isinstance(b, Array)
            a, b = underlying(a.type), underlying(b.type)
            continue
        if isinstance(a, FuncProto):
            assert isinstance(b, FuncProto)
            if len(a.params) != len(b.params):
                return False
            if not all(types_compatible(p.type, q.type, depth + 1) for p, q in zip(a.params, b.params, strict=True)):
                return False
            a, b = underlying(a.return_type), underlying(b.return_type)
            continue
        return False
    return False


def types_match(local: Type, target: Type, depth: int = 0, behind_ptr: bool = False) -> bool:
    """``bpf_core_types_match``: same kinds, names, sizes, signedness and member layout."""
    if depth > _MAX_DEPTH:
        return False
    a, b = underlying(local), underlying(target)
    if not _names_match(a, b):
        return False
    if isinstance(a, Fwd) or isinstance(b, Fwd):
        return behind_ptr or type(a) is type(b)
    if not _kind_compatible(a.kind, b.kind):
        return False
    if isinstance(a, Struct | Union):
        assert isinstance(b, Struct | Union)
        if behind_ptr:
            return True
        if len(a.members) > len(b.members):
            return False
        theirs = {m.name: m for m in b.members}
        for m in a.members:
            other = theirs.get(m.name)
            if other is None or not types_match(m.type, other.type, depth + 1):
                return False
        return True
    if isinstance(a, Enum | Enum64):
        assert isinstance(b, Enum | Enum64)
        if a.size != b.size:
            return False
        names = {essential_name(v.name) for v in b.values}
        return all(essential_name(v.name) in names for v in a.values)
    if isinstance(a, Int):
        assert isinstance(b, Int)
        return a.size == b.size and bool(a.encoding & 1) == bool(b.encoding & 1)
    if isinstance(a, Float):
        return isinstance(b, Float) and a.size == b.size
    if isinstance(a, Pointer):
        assert isinstance(b, Pointer)
        return types_match(a.target, b.target, depth + 1, behind_ptr=True)
    if isinstance(a, Array):
        assert isinstance(b, Array)
        return a.nelems == b.nelems and types_match(a.type, b.type, depth + 1, behind_ptr)
    if isinstance(a, FuncProto):
        assert isinstance(b, FuncProto)
        if len(a.params) != len(b.params):
            return False
        pairs = zip(a.params, b.params, strict=True)
        return all(types_match(p.type, q.type, depth + 1, behind_ptr) for p, q in pairs) and types_match(
            a.return_type, b.return_type, depth + 1, behind_ptr
        )
    return type(a) is type(b)
