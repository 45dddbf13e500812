"""Global variables of an object by name, typed from BTF (what a libbpf skeleton exposes).

Every variable of a global data section (``.data``, ``.rodata``, ``.bss``, custom
``.data.*`` / ``.rodata.*``, ``.kconfig``) is described by the section's BTF DATASEC:
its offset, size and type.  :func:`global_vars` lists them; :func:`decode` and
:func:`encode` convert between the bytes and Python values:

* integers, enums, ``bool`` and pointers -> ``int`` (signedness from BTF);
* ``float`` / ``double`` -> ``float``;
* ``char`` arrays -> ``bytes`` up to the first NUL (written NUL-padded);
* anything else (structs, other arrays) -> the raw ``bytes`` (written as is).

Before load the value lives in the map's initial contents (``MapSpec.contents``), so
setting ``.rodata`` configuration works as with a skeleton; after load it is read and
written through the map (a frozen ``.rodata`` map refuses writes with EPERM).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from structops import btf as btflib
from structops.errors import ELFError
from structops.loader.spec import CollectionSpec, MapKind

__all__ = ["GlobalVar", "decode", "encode", "global_vars", "read_initial", "write_initial"]

_DATA_KINDS = (MapKind.DATA, MapKind.RODATA, MapKind.BSS, MapKind.KCONFIG)


@dataclass(frozen=True, slots=True)
class GlobalVar:
    """One global variable: the map holding it (object name), offset, size and BTF type."""

    name: str
    map_name: str
    offset: int
    size: int
    type: btflib.Type


def global_vars(spec: CollectionSpec) -> dict[str, GlobalVar]:
    """Every named variable of the global data maps, by name (first definition wins)."""
    out: dict[str, GlobalVar] = {}
    if spec.btf is None:
        return out
    for m in spec.maps.values():
        if m.kind not in _DATA_KINDS:
            continue
        try:
            ds = spec.btf.find(m.section, btflib.Datasec)
        except KeyError:
            continue
        for v in ds.vars:
            var = v.type
            if not isinstance(var, btflib.Var) or not var.name or var.name in out:
                continue
            if v.offset + v.size > m.value_size:
                raise ELFError(f"variable {var.name!r} ({v.size} bytes at {v.offset}) is outside map {m.real_name!r}")
            out[var.name] = GlobalVar(var.name, m.real_name, v.offset, v.size, var.type)
    return out


def _is_char_array(t: btflib.Type) -> bool:
    if not isinstance(t, btflib.Array):
        return False
    elem = btflib.underlying(t.type)
    return isinstance(elem, btflib.Int) and elem.size == 1 and "char" in elem.name


def decode(var: GlobalVar, raw: bytes) -> int | float | bytes:
    """The Python value of ``raw`` (``var.size`` bytes) for the variable's BTF type."""
    t = btflib.underlying(var.type)
    if isinstance(t, btflib.Int | btflib.Enum | btflib.Enum64):
        signed = bool(t.encoding & btflib.IntEncoding.SIGNED) if isinstance(t, btflib.Int) else t.signed
        if isinstance(t, btflib.Int) and t.encoding & btflib.IntEncoding.BOOL:
            signed = False
        return int.from_bytes(raw[: t.size], "little", signed=signed)
    if isinstance(t, btflib.Pointer):
        return int.from_bytes(raw[:8], "little")
    if isinstance(t, btflib.Float) and t.size in (4, 8):
        return float(struct.unpack("<f" if t.size == 4 else "<d", raw[: t.size])[0])
    if _is_char_array(t):
        return raw.split(b"\0", 1)[0]
    return bytes(raw)


def encode(var: GlobalVar, value: int | float | bytes | str) -> bytes:
    """The bytes of ``value`` for the variable (TypeError/ValueError if it does not fit)."""
    t = btflib.underlying(var.type)
    if isinstance(value, bool):
        value = int(value)
    if isinstance(t, btflib.Int | btflib.Enum | btflib.Enum64 | btflib.Pointer):
        if not isinstance(value, int):
            raise TypeError(f"global {var.name!r} is an integer, got {type(value).__name__}")
        size = 8 if isinstance(t, btflib.Pointer) else t.size
        signed = value < 0
        try:
            return value.to_bytes(size, "little", signed=signed)
        except OverflowError:
            raise ValueError(f"global {var.name!r}: {value} does not fit in {size} bytes") from None
    if isinstance(t, btflib.Float) and t.size in (4, 8):
        if not isinstance(value, int | float):
            raise TypeError(f"global {var.name!r} is a float, got {type(value).__name__}")
        return struct.pack("<f" if t.size == 4 else "<d", float(value))
    raw = value.encode() if isinstance(value, str) else value
    if not isinstance(raw, bytes | bytearray):
        raise TypeError(f"global {var.name!r} takes bytes, got {type(value).__name__}")
    if _is_char_array(t):
        if len(raw) > var.size:
            raise ValueError(f"global {var.name!r}: {len(raw)} bytes do not fit in {var.size}")
        return bytes(raw).ljust(var.size, b"\0")
    if len(raw) != var.size:
        raise ValueError(f"global {var.name!r} is {var.size} bytes, got {len(raw)}")
    return bytes(raw)


def read_initial(spec: CollectionSpec, name: str) -> int | float | bytes:
    """The value ``name`` will have when loaded (from the map's initial contents)."""
    var = _var(spec, name)
    m = spec.maps[var.map_name]
    contents = m.contents if m.contents is not None else bytes(m.value_size)
    return decode(var, contents[var.offset : var.offset + var.size])


def write_initial(spec: CollectionSpec, name: str, value: int | float | bytes | str) -> None:
    """Set the value ``name`` gets at load (like writing ``skel->rodata->x`` before load)."""
    var = _var(spec, name)
    m = spec.maps[var.map_name]
    if m.kind is MapKind.KCONFIG:
        raise ValueError(f"global {name!r} is a .kconfig extern, set by the loader from the kernel config")
    buf = bytearray(m.contents if m.contents is not None else bytes(m.value_size))
    buf[var.offset : var.offset + var.size] = encode(var, value)
    m.contents = bytes(buf)


def _var(spec: CollectionSpec, name: str) -> GlobalVar:
    found = global_vars(spec).get(name)
    if found is None:
        raise KeyError(f"no global variable {name!r} in object {spec.object_name!r}")
    return found
