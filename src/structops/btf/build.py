"""The BTF encoder: turns a graph of :mod:`structops.btf.types` objects into raw BTF.

:class:`Builder` assigns ids in the order types are added; types reached only through
references get the next free ids when :meth:`Builder.build` meets them, so adding every
type of a parsed spec in id order reproduces the original ids.  The output is a version 1
blob with a 24-byte header (btf.rst section 2.1) in either byte order.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING

from structops.btf import types as bt
from structops.btf._wire import HEADER_LEN, MAGIC, MAX_TYPE_ID, VERSION, ByteOrder, Kind
from structops.errors import BTFError

if TYPE_CHECKING:
    from structops.btf.parse import Spec

__all__ = ["Builder", "encode"]

_REF_KINDS: dict[type[bt.Type], int] = {
    bt.Typedef: Kind.TYPEDEF,
    bt.Volatile: Kind.VOLATILE,
    bt.Const: Kind.CONST,
    bt.Restrict: Kind.RESTRICT,
    bt.TypeTag: Kind.TYPE_TAG,
}


def _info(kind: int, vlen: int = 0, kind_flag: bool = False) -> int:
    if vlen > 0xFFFF:
        raise BTFError(f"vlen {vlen} does not fit in 16 bits")
    return (int(kind_flag) << 31) | (kind << 24) | vlen


class Builder:
    """Incrementally build a BTF blob: ``add`` types, ``add_string`` names, then ``build``.

    With ``base`` (a parsed vmlinux spec), the result is split BTF: ids start after the
    base and references to base types use the base ids.
    """

    def __init__(self, base: Spec | None = None) -> None:
        self._base = base
        self._first = len(base) if base is not None else 1
        self._str_base = base._str_total if base is not None else 0
        self._types: list[bt.Type] = []
        self._ids: dict[int, int] = {}
        self._strings = bytearray(b"\0")
        self._str_offs: dict[str, int] = {"": 0}

    def __len__(self) -> int:
        """Number of ids assigned so far (Void and base included)."""
        return self._first + len(self._types)

    def add(self, t: bt.Type) -> int:
        """Assign ``t`` an id (or return the one it has) and return it."""
        if isinstance(t, bt.Void):
            return 0
        tid = self._ids.get(id(t))
        if tid is not None:
            return tid
        if self._base is not None:
            try:
                return self._base.type_id(t)
            except KeyError:
                pass
        if not isinstance(t, bt.Type):
            raise BTFError(f"cannot encode {t!r}: not a BTF type")
        tid = self._first + len(self._types)
        if tid > MAX_TYPE_ID:
            raise BTFError(f"too many BTF types (more than {MAX_TYPE_ID})")
        self._ids[id(t)] = tid
        self._types.append(t)
        return tid

    def add_string(self, s: str) -> int:
        """Add ``s`` to the string section (deduplicated) and return its offset."""
        off = self._str_offs.get(s)
        if off is None:
            raw = s.encode("utf-8", "surrogateescape")
            if b"\0" in raw:
                raise BTFError(f"BTF string {s!r} contains a NUL byte")
            off = self._str_base + len(self._strings)
            self._strings += raw + b"\0"
            self._str_offs[s] = off
        return off

    def build(self, byte_order: ByteOrder = "little") -> bytes:
        """Encode every added type (and everything they reference) into a raw BTF blob."""
        words: list[int] = []
        i = 0
        while i < len(self._types):  # grows while references get ids
            self._encode(self._types[i], words)
            i += 1
        end = "<" if byte_order == "little" else ">"
        try:
            type_sec = struct.pack(f"{end}{len(words)}I", *words)
        except struct.error as exc:
            raise BTFError(f"value out of range in a BTF record: {exc}") from None
        strings = bytes(self._strings)
        header = struct.pack(
            f"{end}HBBIIIII", MAGIC, VERSION, 0, HEADER_LEN, 0, len(type_sec), len(type_sec), len(strings)
        )
        return header + type_sec + strings

    def _encode(self, t: bt.Type, out: list[int]) -> None:
        ref = self.add
        name = self.add_string(getattr(t, "name", ""))
        if isinstance(t, bt.Int):
            if not 0 <= t.offset < 256 or not 0 < t.bits < 256:
                raise BTFError(f"{bt.describe(t)}: bits/offset out of range")
            out += (name, _info(Kind.INT), t.size, int(t.encoding) << 24 | t.offset << 16 | t.bits)
        elif isinstance(t, bt.Pointer):
            out += (0, _info(Kind.PTR), ref(t.target))
        elif isinstance(t, bt.Array):
            out += (0, _info(Kind.ARRAY), 0, ref(t.type), ref(t.index_type), t.nelems)
        elif isinstance(t, bt.Struct | bt.Union):
            kflag = any(m.bitfield_size for m in t.members)
            out += (name, _info(t.kind, len(t.members), kflag), t.size)
            for m in t.members:
                if kflag:
                    if m.bit_offset >= 1 << 24 or m.bitfield_size >= 256:
                        raise BTFError(f"{bt.describe(t)}: bitfield member {m.name!r} out of range")
                    off = m.bitfield_size << 24 | m.bit_offset
                else:
                    off = m.bit_offset
                out += (self.add_string(m.name), ref(m.type), off)
        elif isinstance(t, bt.Enum):
            out += (name, _info(Kind.ENUM, len(t.values), t.signed), t.size)
            for v in t.values:
                if not -(1 << 31) <= v.value < 1 << 32:
                    raise BTFError(f"{bt.describe(t)}: enumerator {v.name!r} does not fit 32 bits")
                out += (self.add_string(v.name), v.value & 0xFFFFFFFF)
        elif isinstance(t, bt.Enum64):
            out += (name, _info(Kind.ENUM64, len(t.values), t.signed), t.size)
            for v in t.values:
                if not -(1 << 63) <= v.value < 1 << 64:
                    raise BTFError(f"{bt.describe(t)}: enumerator {v.name!r} does not fit 64 bits")
                u = v.value & 0xFFFFFFFFFFFFFFFF
                out += (self.add_string(v.name), u & 0xFFFFFFFF, u >> 32)
        elif isinstance(t, bt.Fwd):
            out += (name, _info(Kind.FWD, 0, t.is_union), 0)
        elif type(t) in _REF_KINDS:
            out += (name, _info(_REF_KINDS[type(t)]), ref(t.type))  # type: ignore[attr-defined]
        elif isinstance(t, bt.Func):
            out += (name, _info(Kind.FUNC, int(t.linkage)), ref(t.type))
        elif isinstance(t, bt.FuncProto):
            out += (0, _info(Kind.FUNC_PROTO, len(t.params) + t.variadic), ref(t.return_type))
            for p in t.params:
                out += (self.add_string(p.name), ref(p.type))
            if t.variadic:
                out += (0, 0)
        elif isinstance(t, bt.Var):
            out += (name, _info(Kind.VAR), ref(t.type), int(t.linkage))
        elif isinstance(t, bt.Datasec):
            out += (name, _info(Kind.DATASEC, len(t.vars)), t.size)
            for s in t.vars:
                out += (ref(s.type), s.offset, s.size)
        elif isinstance(t, bt.Float):
            out += (name, _info(Kind.FLOAT), t.size)
        elif isinstance(t, bt.DeclTag):
            out += (name, _info(Kind.DECL_TAG), ref(t.type), t.component_idx & 0xFFFFFFFF)
        else:
            raise BTFError(f"cannot encode {t!r}")


def encode(spec_or_types: Spec | Iterable[bt.Type], byte_order: ByteOrder | None = None) -> bytes:
    """Encode a parsed spec (keeping its ids, split on its base) or a list of types to raw BTF."""
    from structops.btf.parse import Spec

    if isinstance(spec_or_types, Spec):
        spec = spec_or_types
        builder = Builder(spec.split_base)
        for tid in range(spec.first_id, len(spec)):
            builder.add(spec.type_by_id(tid))
        return builder.build(byte_order or spec.byte_order)
    builder = Builder()
    for t in spec_or_types:
        builder.add(t)
    return builder.build(byte_order or "little")
