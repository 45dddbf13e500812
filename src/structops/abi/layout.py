"""``Layout``: one C struct of the bpf() ABI declared as a table, and everything derived from it.

A layout is written once as text, one field per line::

    offset  ctype      name            options
    0       u32        prog_type
    8       ptr:in     insns           count=insn_cnt/8
    140     u32        log_true_size   written

``ctype`` is ``u8 u16 u32 s32 u64 s64``, ``char[N]`` / ``u8[N]`` (bytes), or a user pointer
(``__aligned_u64``): ``ptr`` (a raw address), ``ptr:in`` (a buffer the kernel reads),
``ptr:out`` (a buffer the kernel writes), ``ptr:str`` (a NUL-terminated string).
Options: ``count=LEN[/DIV]`` names the field that carries a buffer's length (divided by a
constant or by the value of another field, e.g. a record size); ``written`` marks a
scalar the kernel writes back (``retval``, ``next_id``, ``info_len``); ``bits=N`` keeps
the low N bits of a bitfield word (``gpl_compatible``).

From the table come packing (:meth:`Layout.pack_into`), unpacking (:meth:`Layout.unpack`),
the size, and a ctypes view (:meth:`Layout.ctypes_type`).  The offsets are those of Linux
6.18's ``include/uapi/linux/bpf.h``; tests compare them with the running kernel's BTF.
"""

from __future__ import annotations

import ctypes
import re
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, overload

__all__ = ["Field", "Layout", "Pin"]

#: Allocates a pinned buffer for a Python bytes object and returns its user address.
Pin = Callable[[bytes | bytearray], int]

_SCALARS: dict[str, tuple[str, int]] = {
    "u8": ("<B", 1),
    "u16": ("<H", 2),
    "u32": ("<I", 4),
    "s32": ("<i", 4),
    "u64": ("<Q", 8),
    "s64": ("<q", 8),
}
_POINTER_ROLES = {"ptr": "", "ptr:in": "in", "ptr:out": "out", "ptr:str": "str"}
_ARRAY = re.compile(r"^(char|u8)\[(\d+)\]$")
_CTYPES: dict[str, Any] = {
    "u8": ctypes.c_uint8,
    "u16": ctypes.c_uint16,
    "u32": ctypes.c_uint32,
    "s32": ctypes.c_int32,
    "u64": ctypes.c_uint64,
    "s64": ctypes.c_int64,
}


@dataclass(frozen=True)
class Field:
    """One member of a layout: ``name`` of C type ``ctype`` at byte ``offset``.

    ``role`` is ``""`` for scalars and raw pointers, ``"in"`` / ``"out"`` / ``"str"`` for
    buffers; ``count`` names the field holding the buffer's length and ``per`` what that
    length counts in (an int: bytes per unit; a str: the field holding the record size).
    """

    name: str
    ctype: str
    offset: int
    size: int
    role: str = ""
    count: str | None = None
    per: int | str = 1
    written: bool = False
    bits: int = 0

    @property
    def is_pointer(self) -> bool:
        """True for ``__aligned_u64`` user pointers."""
        return self.ctype.startswith("ptr")

    @property
    def is_bytes(self) -> bool:
        """True for ``char[N]`` / ``u8[N]`` arrays."""
        return _ARRAY.match(self.ctype) is not None

    @property
    def end(self) -> int:
        """Offset just past this field."""
        return self.offset + self.size


def _parse_field(line: str, where: str) -> Field:
    words = line.split()
    if len(words) < 3:
        raise ValueError(f"{where}: expected 'offset ctype name [options]', got {line!r}")
    off_text, ctype, name, *options = words
    offset = int(off_text, 0)
    role, count, written, bits = "", None, False, 0
    per: int | str = 1
    if ctype in _SCALARS:
        size = _SCALARS[ctype][1]
    elif ctype in _POINTER_ROLES:
        size, role = 8, _POINTER_ROLES[ctype]
    elif (m := _ARRAY.match(ctype)) is not None:
        size = int(m.group(2))
    else:
        raise ValueError(f"{where}: unknown C type {ctype!r} for {name}")
    for opt in options:
        key, _, value = opt.partition("=")
        if key == "count":
            count, _, divisor = value.partition("/")
            per = int(divisor) if divisor.isdigit() else (divisor or 1)
        elif key == "written":
            written = True
        elif key == "bits":
            bits = int(value)
        else:
            raise ValueError(f"{where}: unknown option {opt!r} for {name}")
    return Field(name, ctype, offset, size, role, count, per, written, bits)


class Layout:
    """A C struct (or one command's group of ``union bpf_attr``) as a table of fields.

    ``size`` is the struct size, or for a bpf_attr group the offset just past the last
    field the kernel defines for the command (where "unused bytes must be zero" starts).
    """

    def __init__(self, name: str, size: int, fields: tuple[Field, ...]) -> None:
        self.name = name
        self.size = size
        self.fields = fields
        self._by_name = {f.name: f for f in fields}
        if len(self._by_name) != len(fields):
            raise ValueError(f"{name}: duplicate field names")
        for f in fields:
            if f.end > size:
                raise ValueError(f"{name}.{f.name}: ends at {f.end}, past the size {size}")
            if f.count is not None and f.count not in self._by_name:
                raise ValueError(f"{name}.{f.name}: count field {f.count} is not in the layout")

    @classmethod
    def parse(cls, name: str, size: int, table: str) -> Layout:
        """Build a layout from its text table (one ``offset ctype name [options]`` a line)."""
        lines = [ln.split("#", 1)[0].strip() for ln in table.splitlines()]
        return cls(name, size, tuple(_parse_field(ln, name) for ln in lines if ln))

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @overload
    def __getitem__(self, key: int) -> Field: ...

    @overload
    def __getitem__(self, key: str) -> Field: ...

    def __getitem__(self, key: int | str) -> Field:
        """A field by name, or by position in table order (a layout is a sequence of fields)."""
        return self.fields[key] if isinstance(key, int) else self._by_name[key]

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, size={self.size}, {len(self.fields)} fields)"

    @property
    def counted(self) -> dict[str, Field]:
        """Length field name -> the buffer field whose length it carries."""
        return {f.count: f for f in self.fields if f.count is not None}

    @property
    def written(self) -> tuple[Field, ...]:
        """The scalars the kernel writes back after the call."""
        return tuple(f for f in self.fields if f.written)

    # -- lengths ---------------------------------------------------------------------------
    def buffer_count(self, buf_field: Field, values: Mapping[str, Any]) -> int:
        """The length to send for a buffer: the explicit length value if it is not None,
        else the buffer's size divided by ``per`` (0 for no buffer or a raw address)."""
        assert buf_field.count is not None
        explicit = values.get(buf_field.count)
        if explicit is not None:
            return int(explicit)
        buf = values.get(buf_field.name)
        if buf is None or isinstance(buf, int):
            return 0
        per = buf_field.per
        unit = int(values.get(per) or 0) if isinstance(per, str) else per
        return len(buf) // unit if unit else 0

    # -- packing ---------------------------------------------------------------------------
    def pack_into(self, out: bytearray, values: Mapping[str, Any], pin: Pin | None = None) -> None:
        """Write ``values`` (by field name; missing ones are zero) into ``out`` at offset 0.

        Buffers become addresses through ``pin`` (an int is taken as a raw address);
        a length field left None is derived from its buffer.
        """
        counted = self.counted
        for f in self.fields:
            value = values.get(f.name)
            if value is None and f.name in counted:
                value = self.buffer_count(counted[f.name], values)
            self.write(out, f, value, pin)

    def write(self, out: bytearray, field: Field | str, value: Any, pin: Pin | None = None) -> None:
        """Write one field (by :class:`Field` or name) into ``out``, leaving the other bytes.

        Scalars are masked to their width, arrays cut or NUL-padded to their size, buffers
        become addresses through ``pin`` (an int is a raw address; None writes zero).
        """
        f = self._by_name[field] if isinstance(field, str) else field
        if f.ctype in _SCALARS:
            mask = (1 << (8 * f.size)) - 1
            fmt = _SCALARS[f.ctype][0].upper()
            struct.pack_into(fmt, out, f.offset, int(value or 0) & mask)
        elif f.is_bytes:
            raw = value.encode() if isinstance(value, str) else bytes(value or b"")
            out[f.offset : f.end] = raw[: f.size].ljust(f.size, b"\0")
        else:
            struct.pack_into("<Q", out, f.offset, self._address(f, value, pin))

    @staticmethod
    def _address(f: Field, value: Any, pin: Pin | None) -> int:
        if value is None:
            return 0
        if isinstance(value, int):
            return value & (2**64 - 1)
        if f.role == "str":
            raw = value.encode() if isinstance(value, str) else bytes(value)
            value = raw + b"\0"
        if pin is None:
            raise TypeError(f"field {f.name} holds a buffer but no pin function was given")
        return pin(value)

    def pack(self, values: Mapping[str, Any] | None = None, pin: Pin | None = None) -> bytes:
        """``size`` bytes holding ``values`` (see :meth:`pack_into`)."""
        out = bytearray(self.size)
        self.pack_into(out, values or {}, pin)
        return bytes(out)

    # -- unpacking -------------------------------------------------------------------------
    def read(self, f: Field, raw: bytes | bytearray) -> int | bytes:
        """The value of field ``f`` in ``raw`` (short buffers read as zero)."""
        data = bytes(raw[f.offset : f.end]).ljust(f.size, b"\0")
        if f.is_bytes:
            return data
        if f.ctype in _SCALARS:
            value = int(struct.unpack(_SCALARS[f.ctype][0], data)[0])
            return value & ((1 << f.bits) - 1) if f.bits else value
        return int(struct.unpack("<Q", data)[0])

    def unpack(self, raw: bytes | bytearray) -> dict[str, int | bytes]:
        """Every field of ``raw`` by name, in table order (ints, or bytes for arrays)."""
        return {f.name: self.read(f, raw) for f in self.fields}

    def read_int(self, name: str, raw: bytes | bytearray) -> int:
        """The integer field ``name`` of ``raw``."""
        value = self.read(self._by_name[name], raw)
        assert isinstance(value, int), name
        return value

    # -- ctypes view -----------------------------------------------------------------------
    def ctypes_type(self) -> type[ctypes.LittleEndianStructure]:
        """A packed ``ctypes`` structure with every field at its offset and ``size`` bytes.

        Pointers are ``c_uint64`` (user addresses), arrays ``c_char * N`` / ``c_uint8 * N``;
        gaps are filled with private padding members.
        """
        members: list[tuple[str, Any]] = []
        pos = 0
        for f in sorted(self.fields, key=lambda f: f.offset):
            if f.offset < pos:
                continue  # a union member sharing an earlier slot
            if f.offset > pos:
                members.append((f"_pad{pos}", ctypes.c_uint8 * (f.offset - pos)))
            if (m := _ARRAY.match(f.ctype)) is not None:
                elem = ctypes.c_char if m.group(1) == "char" else ctypes.c_uint8
                members.append((f.name, elem * f.size))
            else:
                members.append((f.name, _CTYPES.get(f.ctype, ctypes.c_uint64)))
            pos = f.end
        if self.size > pos:
            members.append((f"_pad{pos}", ctypes.c_uint8 * (self.size - pos)))
        name = re.sub(r"\W", "_", self.name)
        return type(name, (ctypes.LittleEndianStructure,), {"_pack_": 1, "_fields_": members})
