"""Maps declared by an object: BTF-defined ``.maps`` and global data (libbpf rules).

BTF-defined maps (libbpf ``parse_btf_map_def``): each variable of the ``.maps`` DATASEC
is a struct whose members encode attributes in their *types*, not their values::

    int (*type)[BPF_MAP_TYPE_ARRAY];   PTR -> ARRAY with nelems = the value
    T *key;  T *value;                 PTR -> T: key_size / value_size = sizeof(T)
    struct inner *values[];            map-in-map inner definition (or prog-array slots)

Global data (``.data``, ``.rodata``, ``.bss``, their ``.xxx.<suffix>`` variants and the
``.kconfig`` externs) becomes one single-entry ARRAY map per section, named
``<first 8 chars of the object name><section>`` (at most 15 characters; sections with a
second dot such as ``.rodata.str1.1`` keep only their own name), as libbpf's
``internal_map_name`` does (kernel-6.18-observed.md §3 shows ``feas_ren.bss``).
"""

from __future__ import annotations

import re
from typing import Final

from structops.abi.consts import BPF_OBJ_NAME_LEN, MapFlags, MapType
from structops.btf.layout import sizeof, underlying
from structops.btf.parse import Spec as BTFSpec
from structops.btf.types import Array, Datasec, Enum, Enum64, FuncProto, Pointer, Struct, Type, Var, VarLinkage
from structops.errors import BTFError, ELFError
from structops.loader._elf import SHF_ALLOC, SHT_NOBITS, SHT_PROGBITS, ElfObject, Section
from structops.loader.spec import ExternKind, ExternSpec, MapKind, MapSpec

__all__ = ["MAPS_SEC", "data_map_kind", "data_maps", "internal_map_name", "btf_maps", "map_slot_relocs"]

MAPS_SEC: Final = ".maps"
_INT_ATTRS: Final = ("type", "max_entries", "map_flags", "numa_node", "key_size", "value_size",
                     "pinning", "map_extra")  # fmt: skip
_SANITIZE = re.compile(r"[^A-Za-z0-9_.]")
_PIN_NONE, _PIN_BY_NAME = 0, 1


def internal_map_name(obj_name: str, real_name: str) -> str:
    """The kernel name libbpf gives a global data map (``reno_leg.bss``, ``cubic_l.kconfig``)."""
    sfx_len = max(7, len(real_name))
    if "." in real_name[1:]:
        pfx_len = 0
    else:
        pfx_len = max(0, min(BPF_OBJ_NAME_LEN - sfx_len - 1, len(obj_name)))
    name = (obj_name[:pfx_len] + real_name[:sfx_len])[: BPF_OBJ_NAME_LEN - 1]
    return _SANITIZE.sub("_", name)


def data_map_kind(sec: Section) -> MapKind | None:
    """Classify a section as global data (DATA / RODATA / BSS) or None."""
    name = sec.name
    if sec.is_exec or not sec.flags & SHF_ALLOC:
        return None
    if sec.type == SHT_NOBITS and (name == ".bss" or name.startswith(".bss.")):
        return MapKind.BSS
    if sec.type != SHT_PROGBITS:
        return None
    if name == ".data" or name.startswith(".data."):
        return MapKind.DATA
    if name == ".rodata" or name.startswith(".rodata."):
        return MapKind.RODATA
    return None


def _datasec(btf: BTFSpec | None, name: str) -> tuple[int, Datasec] | None:
    if btf is None:
        return None
    try:
        ds = btf.find(name, Datasec)
    except KeyError:
        return None
    return btf.type_id(ds), ds


def _mmapable(ds: Datasec | None) -> bool:
    """libbpf maps global data mmapable only when some variable in it is not static."""
    if ds is None:
        return False
    return any(isinstance(v.type, Var) and v.type.linkage != VarLinkage.STATIC for v in ds.vars)


def data_maps(
    elf: ElfObject, btf: BTFSpec | None, obj_name: str, externs: dict[str, ExternSpec], kconfig_size: int
) -> list[MapSpec]:
    """One ARRAY map per non-empty global data section, plus ``.kconfig`` when used."""
    out = []
    for sec in elf.sections:
        kind = data_map_kind(sec)
        if kind is None or sec.size == 0:
            continue
        found = _datasec(btf, sec.name)
        flags = MapFlags.BPF_F_RDONLY_PROG if kind == MapKind.RODATA else 0
        if _mmapable(found[1] if found else None):
            flags |= MapFlags.BPF_F_MMAPABLE
        out.append(
            MapSpec(
                name=internal_map_name(obj_name, sec.name),
                real_name=sec.name,
                kind=kind,
                section=sec.name,
                type=MapType.BPF_MAP_TYPE_ARRAY,
                key_size=4,
                value_size=sec.size,
                max_entries=1,
                flags=int(flags),
                btf_value_type_id=found[0] if found else 0,
                contents=bytes(sec.size) if kind == MapKind.BSS else sec.data,
            )
        )
    if any(e.kind == ExternKind.KCONFIG for e in externs.values()):
        found = _datasec(btf, ".kconfig")
        out.append(
            MapSpec(
                name=internal_map_name(obj_name, ".kconfig"),
                real_name=".kconfig",
                kind=MapKind.KCONFIG,
                section=".kconfig",
                type=MapType.BPF_MAP_TYPE_ARRAY,
                key_size=4,
                value_size=kconfig_size,
                max_entries=1,
                flags=int(MapFlags.BPF_F_RDONLY_PROG | MapFlags.BPF_F_MMAPABLE),
                btf_value_type_id=found[0] if found else 0,
                contents=bytes(kconfig_size),
            )
        )
    return out


def _int_attr(m_type: Type, map_name: str, attr: str) -> int:
    t = underlying(m_type)
    if attr == "map_extra" and isinstance(t, Enum | Enum64):
        # __ulong(map_extra, v): a one-value enum carries a 64-bit value (libbpf >= 1.4)
        if len(t.values) != 1:
            raise ELFError(f"map {map_name!r}: attr {attr!r}: invalid __ulong (an enum of exactly one value)")
        return t.values[0].value & 0xFFFF_FFFF_FFFF_FFFF
    if not isinstance(t, Pointer):
        raise ELFError(f"map {map_name!r}: attr {attr!r}: expected PTR, got {type(t).__name__}")
    arr = underlying(t.target)
    if not isinstance(arr, Array):
        raise ELFError(f"map {map_name!r}: attr {attr!r}: expected ARRAY, got {type(arr).__name__}")
    return arr.nelems


def _pointee(m_type: Type, map_name: str, attr: str) -> Type:
    t = underlying(m_type)
    if not isinstance(t, Pointer):
        raise ELFError(f"map {map_name!r}: {attr!r} must be a pointer to the {attr} type")
    return t.target


def parse_map_def(btf: BTFSpec, name: str, def_type: Type, *, inner: bool = False) -> MapSpec:
    """Build a MapSpec from one BTF map definition struct (``inner`` for map-in-map)."""
    st = underlying(def_type)
    if not isinstance(st, Struct):
        raise ELFError(f"map {name!r}: definition is {type(st).__name__}, expected a struct")
    attrs: dict[str, int] = {}
    key_id = value_id = 0
    inner_spec: MapSpec | None = None
    has_values = False
    for m in st.members:
        try:
            if m.name in _INT_ATTRS:
                attrs[m.name] = _int_attr(m.type, name, m.name)
            elif m.name in ("key", "value"):
                target = _pointee(m.type, name, m.name)
                size = sizeof(target)
                prev = attrs.get(f"{m.name}_size")
                if prev is not None and prev != size:
                    raise ELFError(f"map {name!r}: conflicting {m.name} size {prev} != {size}")
                attrs[f"{m.name}_size"] = size
                tid = btf.type_id(target)
                if m.name == "key":
                    key_id = tid
                else:
                    value_id = tid
            elif m.name == "values":
                has_values = True
                arr = underlying(m.type)
                if not isinstance(arr, Array) or arr.nelems != 0:
                    raise ELFError(f"map {name!r}: 'values' must be a zero-sized array of pointers")
                elem = underlying(arr.type)
                if not isinstance(elem, Pointer):
                    raise ELFError(f"map {name!r}: 'values' elements must be pointers")
                target = underlying(elem.target)
                if isinstance(target, Struct):
                    if inner:
                        raise ELFError(f"map {name!r}: nested map-in-map is not supported")
                    inner_spec = parse_map_def(btf, f"{name}.inner", target, inner=True)
                elif not isinstance(target, FuncProto):
                    raise ELFError(f"map {name!r}: 'values' must point to a map definition or a function")
                prev = attrs.get("value_size")
                if prev is not None and prev != 4:
                    raise ELFError(f"map {name!r}: conflicting value size {prev} != 4 for 'values'")
                attrs["value_size"] = 4
            else:
                raise ELFError(f"map {name!r}: unknown attribute {m.name!r}")
        except BTFError as e:
            raise ELFError(f"map {name!r}: attribute {m.name!r}: {e}") from e
    if "type" not in attrs:
        raise ELFError(f"map {name!r}: missing the 'type' attribute")
    try:
        mtype = MapType(attrs["type"])
    except ValueError:
        raise ELFError(f"map {name!r}: unknown map type {attrs['type']}") from None
    if has_values and mtype not in (
        MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS,
        MapType.BPF_MAP_TYPE_HASH_OF_MAPS,
        MapType.BPF_MAP_TYPE_PROG_ARRAY,
    ):
        raise ELFError(f"map {name!r}: 'values' is only valid for map-in-map and prog-array maps")
    pinning = attrs.get("pinning", _PIN_NONE)
    if pinning not in (_PIN_NONE, _PIN_BY_NAME):
        raise ELFError(f"map {name!r}: invalid pinning value {pinning}")
    return MapSpec(
        name=name,
        real_name=name,
        kind=MapKind.BTF_DEFINED,
        section=MAPS_SEC,
        type=mtype,
        key_size=attrs.get("key_size", 0),
        value_size=attrs.get("value_size", 0),
        max_entries=attrs.get("max_entries", 0),
        flags=attrs.get("map_flags", 0),
        numa_node=attrs.get("numa_node", 0),
        map_extra=attrs.get("map_extra", 0),
        pinning=pinning,
        btf_key_type_id=key_id,
        btf_value_type_id=value_id,
        inner=inner_spec,
    )


def btf_maps(elf: ElfObject, btf: BTFSpec | None) -> tuple[list[MapSpec], dict[int, str]]:
    """Parse the ``.maps`` section; also return {symbol offset in .maps: map name}."""
    sec = elf.by_name(MAPS_SEC)
    if sec is None:
        return [], {}
    found = _datasec(btf, MAPS_SEC)
    if btf is None or found is None:
        raise ELFError("a .maps section needs BTF with a DATASEC '.maps' (BTF-defined maps)")
    ds = found[1]
    syms = {s.name: s for s in elf.symbols if s.shndx == sec.index and s.name}
    maps, by_off = [], {}
    for v in ds.vars:
        var = v.type
        if not isinstance(var, Var):
            raise ELFError(f".maps: DATASEC entry {var!r} is not a variable")
        sym = syms.get(var.name)
        if sym is None:
            raise ELFError(f"map {var.name!r}: no symbol in section .maps")
        maps.append(parse_map_def(btf, var.name, var.type))
        by_off[sym.value] = var.name
    return maps, by_off


def map_slot_relocs(elf: ElfObject, btf: BTFSpec | None, maps: dict[str, MapSpec]) -> None:
    """Fill ``init_slots`` of map-in-map / prog-array maps from ``.rel.maps``."""
    sec = elf.by_name(MAPS_SEC)
    if sec is None or btf is None:
        return
    found = _datasec(btf, MAPS_SEC)
    if found is None:
        return
    spans = []
    for v in found[1].vars:
        var = v.type
        assert isinstance(var, Var)
        st = underlying(var.type)
        values_off = None
        if isinstance(st, Struct):
            for m in st.members:
                if m.name == "values":
                    values_off = m.offset
        spans.append((v.offset, v.offset + v.size, var.name, values_off))
    for rel, target in elf.rel_sections():
        if target.index != sec.index:
            continue
        for r in elf.relocations(rel):
            span = next((s for s in spans if s[0] <= r.offset < s[1]), None)
            if span is None or span[3] is None:
                raise ELFError(f".rel.maps: relocation at {r.offset} is not inside a map's 'values'")
            slot_off = r.offset - span[0] - span[3]
            if slot_off < 0 or slot_off % 8:
                raise ELFError(f".rel.maps: relocation at {r.offset} is not on a 'values' slot")
            sym = elf.symbol(r.sym, ".rel.maps")
            maps[span[2]].init_slots[slot_off // 8] = sym.name
