"""BTF-typed map keys and values as plain Python data, and back.

Decoding: integers and enums become ``int`` (signed where the type is), ``_Bool``
``bool``, floats ``float``, pointers ``int``, ``char`` arrays ``bytes`` up to the first
NUL, other arrays lists, structs and unions dicts in member order (bitfields included;
anonymous members merge their fields into the parent).  Encoding takes the same shapes
(dict members not given stay zero) and refuses values that do not fit with ValueError.
"""

from __future__ import annotations

import struct
from typing import Any

from structops import btf as btflib

__all__ = ["decode", "encode", "strip"]


def strip(t: btflib.Type) -> btflib.Type:
    """``t`` without typedefs and qualifiers."""
    while isinstance(t, btflib.Typedef | btflib.Const | btflib.Volatile | btflib.Restrict | btflib.TypeTag):
        t = t.type
    return t


def _is_char(t: btflib.Type) -> bool:
    """A C ``char`` (strings), not ``unsigned char``/``__u8`` (byte values, decoded as ints)."""
    if not isinstance(t, btflib.Int) or t.size != 1:
        return False
    return t.name == "char" or bool(t.encoding & btflib.IntEncoding.CHAR)


def _int_signed(t: btflib.Type) -> bool:
    if isinstance(t, btflib.Int):
        return bool(t.encoding & btflib.IntEncoding.SIGNED)
    return bool(getattr(t, "signed", False))


def decode(t: btflib.Type, raw: bytes | bytearray | memoryview) -> Any:
    """The value of type ``t`` held in ``raw`` (``len(raw)`` is at least its size)."""
    t = strip(t)
    data = bytes(raw)
    if isinstance(t, btflib.Int):
        if t.name == "_Bool":
            return data[0] != 0
        return int.from_bytes(data[: t.size], "little", signed=_int_signed(t))
    if isinstance(t, btflib.Enum | btflib.Enum64):
        return int.from_bytes(data[: t.size], "little", signed=_int_signed(t))
    if isinstance(t, btflib.Pointer):
        return int.from_bytes(data[:8], "little")
    if isinstance(t, btflib.Float):
        return struct.unpack_from({4: "<f", 8: "<d"}.get(t.size, "<d"), data)[0] if t.size in (4, 8) else data
    if isinstance(t, btflib.Array):
        elem = strip(t.type)
        step = btflib.sizeof(elem)
        if _is_char(elem):
            return data[: t.nelems].split(b"\0", 1)[0]
        return [decode(elem, data[i * step : (i + 1) * step]) for i in range(t.nelems)]
    if isinstance(t, btflib.Datasec):  # a global data section: its variables by name
        return {
            v.type.name: decode(v.type.type, data[v.offset : v.offset + v.size])
            for v in t.vars
            if isinstance(v.type, btflib.Var)
        }
    if isinstance(t, btflib.Struct | btflib.Union):
        out: dict[str, Any] = {}
        for m in t.members:
            if m.bitfield_size:
                word = int.from_bytes(data[m.bit_offset // 8 : m.bit_offset // 8 + 8].ljust(8, b"\0"), "little")
                val = (word >> (m.bit_offset % 8)) & ((1 << m.bitfield_size) - 1)
                if _int_signed(strip(m.type)) and val >> (m.bitfield_size - 1):
                    val -= 1 << m.bitfield_size
                out[m.name] = val
                continue
            sub = decode(m.type, data[m.offset : m.offset + btflib.sizeof(m.type)])
            if not m.name and isinstance(sub, dict):
                out.update(sub)
            else:
                out[m.name] = sub
        return out
    return data[: btflib.sizeof(t)]


def encode(t: btflib.Type, value: Any, what: str = "value") -> bytes:
    """The bytes of ``value`` as type ``t`` (the inverse of :func:`decode`)."""
    t = strip(t)
    size = btflib.sizeof(t)
    if isinstance(value, bytes | bytearray):
        if len(value) > size:
            raise ValueError(f"{what}: {len(value)} bytes do not fit in {size}")
        return bytes(value).ljust(size, b"\0")
    if isinstance(t, btflib.Int | btflib.Enum | btflib.Enum64 | btflib.Pointer):
        if not isinstance(value, int):
            raise TypeError(f"{what}: expected an int, not {type(value).__name__}")
        try:
            return int(value).to_bytes(size, "little", signed=_int_signed(t) and value < 0)
        except OverflowError:
            raise ValueError(f"{what}: {value} does not fit in {size} bytes") from None
    if isinstance(t, btflib.Float) and isinstance(value, int | float):
        return struct.pack("<f" if size == 4 else "<d", float(value))
    if isinstance(t, btflib.Array) and isinstance(value, list | tuple):
        elem = strip(t.type)
        if len(value) > t.nelems:
            raise ValueError(f"{what}: {len(value)} elements do not fit in {t.nelems}")
        step = btflib.sizeof(elem)
        return b"".join(encode(elem, v, f"{what}[{i}]") for i, v in enumerate(value)).ljust(t.nelems * step, b"\0")
    if isinstance(t, btflib.Datasec) and isinstance(value, dict):
        buf = bytearray(t.size)
        known = {v.type.name: v for v in t.vars if isinstance(v.type, btflib.Var)}
        for name, val in value.items():
            if name not in known:
                raise ValueError(f"{what}: section {t.name} has no variable {name!r}")
            info = known[name]
            assert isinstance(info.type, btflib.Var)
            raw = encode(info.type.type, val, f"{what}.{name}")
            buf[info.offset : info.offset + len(raw)] = raw
        return bytes(buf)
    if isinstance(t, btflib.Struct | btflib.Union) and isinstance(value, dict):
        buf = bytearray(size)
        names = {m.name for m in t.members}
        unknown = set(value) - names
        if unknown:
            raise ValueError(f"{what}: {t.name or 'struct'} has no member {sorted(unknown)[0]!r}")
        for m in t.members:
            if m.name not in value:
                continue
            if m.bitfield_size:
                v = int(value[m.name]) & ((1 << m.bitfield_size) - 1)
                off, shift = m.bit_offset // 8, m.bit_offset % 8
                width = (shift + m.bitfield_size + 7) // 8
                word = int.from_bytes(buf[off : off + width], "little") | (v << shift)
                buf[off : off + width] = word.to_bytes(width, "little")
                continue
            raw = encode(m.type, value[m.name], f"{what}.{m.name}")
            buf[m.offset : m.offset + len(raw)] = raw
        return bytes(buf)
    raise TypeError(f"{what}: cannot store a {type(value).__name__} as {type(t).__name__.lower()}")
