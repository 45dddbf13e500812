"""Decoding one BTF type record into its :class:`~structops.btf.types.Type` object.

:func:`decode` builds the shallow object of a record (kind, name, sizes, linkage) and
:func:`fill` its references (members, parameters, targets) when first touched; both read
the type section as the 32-bit words :class:`~structops.btf.parse.Spec` holds
(Documentation/bpf/btf.rst section 2.2 gives each kind's layout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from structops.btf import types as bt
from structops.btf._wire import Kind
from structops.errors import BTFError

if TYPE_CHECKING:
    from structops.btf.parse import Spec

__all__ = ["decode", "fill"]

_CLASSES: dict[int, type[bt.Type]] = {
    Kind.INT: bt.Int,
    Kind.PTR: bt.Pointer,
    Kind.ARRAY: bt.Array,
    Kind.STRUCT: bt.Struct,
    Kind.UNION: bt.Union,
    Kind.ENUM: bt.Enum,
    Kind.FWD: bt.Fwd,
    Kind.TYPEDEF: bt.Typedef,
    Kind.VOLATILE: bt.Volatile,
    Kind.CONST: bt.Const,
    Kind.RESTRICT: bt.Restrict,
    Kind.FUNC: bt.Func,
    Kind.FUNC_PROTO: bt.FuncProto,
    Kind.VAR: bt.Var,
    Kind.DATASEC: bt.Datasec,
    Kind.FLOAT: bt.Float,
    Kind.DECL_TAG: bt.DeclTag,
    Kind.TYPE_TAG: bt.TypeTag,
    Kind.ENUM64: bt.Enum64,
}
#: Kinds whose record names the type (the others have name_off 0).
_NAMED = frozenset(Kind) - {Kind.UNKN, Kind.PTR, Kind.ARRAY, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.FUNC_PROTO}
_SINGLE_REF = frozenset(
    {Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.VAR, Kind.DECL_TAG, Kind.TYPE_TAG}
)


_O = TypeVar("_O")


def _new(cls: type[_O]) -> _O:
    return object.__new__(cls)


def decode(spec: Spec, j: int) -> bt.Type:
    """Build the shallow object for own index ``j``; references stay lazy."""
    w = spec._words
    o = spec._offs[j]
    info = w[o + 1]
    kind = info >> 24 & 31
    vlen = info & 0xFFFF
    obj: bt.Type = _new(_CLASSES[kind])
    d = obj.__dict__
    d["_id"] = spec.first_id + j
    if kind in _NAMED:
        d["name"] = spec.string(w[o])
    st = w[o + 2]
    if kind == Kind.INT:
        enc = w[o + 3]
        d["size"] = st
        d["encoding"] = bt.IntEncoding(enc >> 24 & 0x0F)
        d["offset"] = enc >> 16 & 0xFF
        d["bits"] = enc & 0xFF
    elif kind in (Kind.STRUCT, Kind.UNION, Kind.DATASEC, Kind.FLOAT):
        d["size"] = st
    elif kind in (Kind.ENUM, Kind.ENUM64):
        d["size"] = st
        d["signed"] = bool(info >> 31)
    elif kind == Kind.ARRAY:
        d["nelems"] = w[o + 5]
    elif kind == Kind.FWD:
        d["is_union"] = bool(info >> 31)
    elif kind == Kind.FUNC:
        if vlen > bt.FuncLinkage.EXTERN:
            raise BTFError(f"FUNC [{d['_id']}] has bad linkage {vlen}")
        d["linkage"] = bt.FuncLinkage(vlen)
    elif kind == Kind.FUNC_PROTO:
        d["variadic"] = vlen > 0 and w[o + 3 + 2 * (vlen - 1)] == 0 and w[o + 4 + 2 * (vlen - 1)] == 0
    elif kind == Kind.VAR:
        linkage = w[o + 3]
        if linkage > bt.VarLinkage.GLOBAL_EXTERN:
            raise BTFError(f"VAR [{d['_id']}] has bad linkage {linkage}")
        d["linkage"] = bt.VarLinkage(linkage)
    elif kind == Kind.DECL_TAG:
        idx = w[o + 3]
        d["component_idx"] = idx - (1 << 32) if idx & 0x80000000 else idx
    if kind not in (Kind.INT, Kind.FWD, Kind.FLOAT):
        d["_lazy"] = (spec, o)
    spec._objs[j] = obj
    return obj


def fill(spec: Spec, obj: object, o: int) -> None:
    """Decode the references of ``obj`` (whose record is at word ``o``); see types._Lazy."""
    w = spec._words
    get = spec.type_by_id
    info = w[o + 1]
    kind = info >> 24 & 31
    vlen = info & 0xFFFF
    st = w[o + 2]
    d = obj.__dict__
    if kind in _SINGLE_REF:
        d["type"] = get(st)
    elif kind == Kind.PTR:
        d["target"] = get(st)
    elif kind == Kind.FUNC:
        proto = get(st)
        if not isinstance(proto, bt.FuncProto):
            raise BTFError(f"FUNC [{d['_id']}] {d['name']!r} refers to {proto!r}, not a FUNC_PROTO")
        d["type"] = proto
    elif kind == Kind.ARRAY:
        d["type"] = get(w[o + 3])
        d["index_type"] = get(w[o + 4])
    elif kind in (Kind.STRUCT, Kind.UNION):
        d["members"] = _members(spec, o + 3, vlen, bool(info >> 31))
    elif kind == Kind.ENUM:
        signed = bool(info >> 31)
        values = []
        for k in range(o + 3, o + 3 + 2 * vlen, 2):
            v = w[k + 1]
            if signed and v & 0x80000000:
                v -= 1 << 32
            values.append(_enum_value(spec, w[k], v))
        d["values"] = tuple(values)
    elif kind == Kind.ENUM64:
        signed = bool(info >> 31)
        values = []
        for k in range(o + 3, o + 3 + 3 * vlen, 3):
            v = w[k + 2] << 32 | w[k + 1]
            if signed and v >> 63:
                v -= 1 << 64
            values.append(_enum_value(spec, w[k], v))
        d["values"] = tuple(values)
    elif kind == Kind.FUNC_PROTO:
        d["return_type"] = get(st)
        n = vlen - 1 if d["variadic"] else vlen
        params = []
        for k in range(o + 3, o + 3 + 2 * n, 2):
            p = _new(bt.Param)
            p.__dict__.update(name=spec.string(w[k]), type=get(w[k + 1]))
            params.append(p)
        d["params"] = tuple(params)
    elif kind == Kind.DATASEC:
        secinfos = []
        for k in range(o + 3, o + 3 + 3 * vlen, 3):
            s = _new(bt.VarSecinfo)
            s.__dict__.update(type=get(w[k]), offset=w[k + 1], size=w[k + 2])
            secinfos.append(s)
        d["vars"] = tuple(secinfos)


def _enum_value(spec: Spec, name_off: int, value: int) -> bt.EnumValue:
    ev = _new(bt.EnumValue)
    ev.__dict__.update(name=spec.string(name_off), value=value)
    return ev


def _members(spec: Spec, start: int, vlen: int, kind_flag: bool) -> tuple[bt.Member, ...]:
    w = spec._words
    get = spec.type_by_id
    string = spec.string
    out = []
    for k in range(start, start + 3 * vlen, 3):
        m = _new(bt.Member)
        off = w[k + 2]
        if kind_flag:
            m.__dict__.update(name=string(w[k]), type=get(w[k + 1]), bit_offset=off & 0xFFFFFF, bitfield_size=off >> 24)
        else:
            m.__dict__.update(name=string(w[k]), type=get(w[k + 1]), bit_offset=off, bitfield_size=0)
        out.append(m)
    return tuple(out)
