"""BTF-typed values as JSON-ready Python data, the way bpftool's BTF dumper prints them.

Used by ``struct_ops dump`` and ``map dump`` (selftests report C.3, C.6):

* structs and unions become objects in member order (an anonymous member's key is ``""``),
* ``char`` arrays holding a NUL-terminated printable string become strings, other arrays lists,
* enums print their enumerator name (the number when no enumerator matches), ``_Bool``
  ``true``/``false``,
* pointers print as integers under ``-j``; in plain mode as the quoted strings
  ``"(nil)"`` / ``"0x…"`` (newer bpftool; 7.1 prints them unquoted, which is not JSON),
* with ``prog_names`` (the struct_ops value), function pointers print as
  ``"<proto> <prog name>/prog_id:<id>"`` or ``"<proto> 0"`` for an empty slot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from structops import btf as btflib

__all__ = ["Pairs", "decode", "proto_string", "type_name"]

#: Maps a program id to its name (None when the program cannot be opened).
ProgNames = Callable[[int], str | None]


class Pairs(list[tuple[str, Any]]):
    """An object whose keys may repeat (anonymous members); written as a JSON object."""


def _strip(t: btflib.Type) -> btflib.Type:
    while isinstance(t, btflib.Volatile | btflib.Const | btflib.Restrict | btflib.TypeTag):
        t = t.type
    return t


def _resolve(t: btflib.Type) -> btflib.Type:
    while isinstance(t, btflib.Typedef | btflib.Volatile | btflib.Const | btflib.Restrict | btflib.TypeTag):
        t = t.type
    return t


#: How a modifier spells the type it wraps (``{}``).
_MODIFIERS: dict[type, str] = {
    btflib.Const: "const {}",
    btflib.Volatile: "volatile {}",
    btflib.Restrict: "{} restrict",
    btflib.TypeTag: "{}",
}
#: The C keyword in front of a tagged type's name.
_TAGS: dict[type, str] = {btflib.Struct: "struct", btflib.Union: "union", btflib.Enum: "enum", btflib.Enum64: "enum"}


def type_name(t: btflib.Type) -> str:
    """C spelling of a type as bpftool prints it in prototypes (``const struct sock *``)."""
    if isinstance(t, btflib.Void):
        return "void"
    if isinstance(t, btflib.Pointer):
        target = t.target
        if isinstance(_strip(target), btflib.FuncProto):
            proto = _strip(target)
            assert isinstance(proto, btflib.FuncProto)
            return f"{type_name(proto.return_type)} (*)({_params(proto)})"
        return f"{type_name(target)} *"
    modifier = _MODIFIERS.get(type(t))
    if modifier is not None:
        return modifier.format(type_name(t.type))  # type: ignore[attr-defined]
    tag = _TAGS.get(type(t))
    if tag is not None:
        return f"{tag} {t.name}".rstrip()  # type: ignore[attr-defined]
    if isinstance(t, btflib.Fwd):
        return f"{'union' if t.is_union else 'struct'} {t.name}"
    if isinstance(t, btflib.Array):
        return f"{type_name(t.type)}[{t.nelems}]"
    if isinstance(t, btflib.FuncProto):
        return f"{type_name(t.return_type)} ({_params(t)})"
    name = getattr(t, "name", "")
    return str(name) if name else "?"


def _params(proto: btflib.FuncProto) -> str:
    names = [type_name(p.type) for p in proto.params]
    if proto.variadic:
        names.append("...")
    return ", ".join(names) if names else "void"


def proto_string(proto: btflib.FuncProto) -> str:
    """``u32 (struct sock *)``: the prototype as bpftool prints it before the program."""
    return f"{type_name(proto.return_type)} ({_params(proto)})"


def _int_value(t: btflib.Int, data: bytes, bit_off: int, bits: int) -> int | bool:
    raw = int.from_bytes(data[: t.size].ljust(t.size, b"\0"), "little")
    raw = (raw >> bit_off) & ((1 << bits) - 1)
    if t.signed and raw >> (bits - 1):
        raw -= 1 << bits
    if t.encoding & btflib.IntEncoding.BOOL:
        return bool(raw)
    return raw


def _is_char(t: btflib.Type) -> bool:
    t = _resolve(t)
    return isinstance(t, btflib.Int) and t.size == 1 and "char" in t.name


def _string_of(data: bytes) -> str | None:
    end = data.find(b"\0")
    if end < 0:
        return None
    text = data[:end]
    if all(0x20 <= b < 0x7F for b in text):
        return text.decode()
    return None


def decode(
    t: btflib.Type,
    data: bytes,
    *,
    plain: bool = False,
    prog_names: ProgNames | None = None,
    bit_off: int = 0,
    bits: int = 0,
) -> Any:
    """The value of type ``t`` stored in ``data`` (little-endian) as JSON-ready data."""
    r = _resolve(t)
    if isinstance(r, btflib.Int):
        return _int_value(r, data, bit_off, bits or r.bits)
    if isinstance(r, btflib.Enum | btflib.Enum64):
        raw = int.from_bytes(data[: r.size].ljust(r.size, b"\0"), "little", signed=r.signed)
        for v in r.values:
            if v.value == raw:
                return v.name
        return raw
    if isinstance(r, btflib.Pointer):
        value = int.from_bytes(data[:8].ljust(8, b"\0"), "little")
        target = _strip(r.target)
        if prog_names is not None and isinstance(_resolve(target), btflib.FuncProto):
            proto = _resolve(target)
            assert isinstance(proto, btflib.FuncProto)
            if value == 0:
                return f"{proto_string(proto)} 0"
            name = prog_names(value) or "<unknown_prog_name>"
            return f"{proto_string(proto)} {name}/prog_id:{value}"
        if plain:
            return "(nil)" if value == 0 else f"{value:#x}"
        return value
    if isinstance(r, btflib.Array):
        elem = btflib.sizeof(r.type) if r.nelems else 0
        if _is_char(r.type):
            text = _string_of(data[: elem * r.nelems])
            if text is not None:
                return text
        return [
            decode(r.type, data[i * elem : (i + 1) * elem], plain=plain, prog_names=prog_names) for i in range(r.nelems)
        ]
    if isinstance(r, btflib.Struct | btflib.Union):
        out = Pairs()
        for m in r.members:
            start = m.bit_offset // 8
            sub_off = m.bit_offset % 8
            if m.bitfield_size:
                out.append((m.name, decode(m.type, data[start:], bit_off=sub_off, bits=m.bitfield_size)))
                continue
            size = btflib.sizeof(m.type)
            out.append((m.name, decode(m.type, data[start : start + size], plain=plain, prog_names=prog_names)))
        return out
    if isinstance(r, btflib.Datasec):
        return Pairs([(r.name, [_var(v, data, plain) for v in r.vars])])
    if isinstance(r, btflib.Float):
        return 0
    return None


def _var(v: btflib.VarSecinfo, data: bytes, plain: bool) -> Pairs:
    var = v.type
    name = getattr(var, "name", "")
    vtype = var.type if isinstance(var, btflib.Var) else var
    return Pairs([(name, decode(vtype, data[v.offset : v.offset + v.size], plain=plain))])
