"""load_collection_spec: read a BPF ELF object into a deterministic CollectionSpec.

The steps follow libbpf's ``bpf_object__open`` (``bpf_object__elf_collect`` and the
collectors after it), all without touching a kernel:

1. validate the ELF (:mod:`._elf`): ELF-64, little-endian, EM_BPF, ET_REL, sane tables;
2. license (``license`` section) and kernel version (``version`` section);
3. ``.BTF`` with DATASEC fix-ups and externs (:mod:`._btf_fixup`), ``.BTF.ext``
   (:mod:`.btf_ext`);
4. BTF-defined ``.maps``, global data maps, the ``.kconfig`` map (:mod:`._maps`);
5. programs with symbolic relocations and linked subprograms (:mod:`._programs`);
6. struct_ops maps and their member -> program bindings (:mod:`._struct_ops`).

Every problem with the input raises :class:`~structops.errors.ELFError`.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from structops.errors import BTFError, ELFError
from structops.loader._btf_fixup import fix_btf
from structops.loader._elf import SHT_NOBITS, ElfObject
from structops.loader._maps import btf_maps, data_maps, map_slot_relocs
from structops.loader._programs import build_programs
from structops.loader._struct_ops import struct_ops_maps
from structops.loader.arena import ARENA_SEC, arena_map
from structops.loader.btf_ext import BTFExt, parse_btf_ext
from structops.loader.spec import CollectionSpec, MapSpec

__all__ = ["load_collection_spec", "object_name_of"]

#: libbpf keeps at most this many bytes of the license string (``obj->license[64]``).
LICENSE_MAX = 63


def object_name_of(path: str | os.PathLike[str]) -> str:
    """libbpf's object name: the file's base name up to its first dot (``reno.bpf.o`` -> ``reno``)."""
    return Path(path).name.split(".", 1)[0]


def _license(elf: ElfObject) -> str:
    sec = elf.by_name("license")
    if sec is None:
        return ""
    text = sec.data.split(b"\0", 1)[0][:LICENSE_MAX]
    return text.decode("utf-8", "replace")


def _kversion(elf: ElfObject) -> int:
    sec = elf.by_name("version")
    if sec is None:
        return 0
    if len(sec.data) != 4:
        raise ELFError(f"invalid kver section: {len(sec.data)} bytes, expected 4")
    return int(struct.unpack("<I", sec.data)[0])


def load_collection_spec(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview, *, object_name: str | None = None
) -> CollectionSpec:
    """Parse a BPF ELF object (a path or its bytes) into a :class:`CollectionSpec`.

    ``object_name`` names the object for global data map names; by default it is
    derived from the path (``reno_legacy.bpf.o`` -> ``reno_legacy``) and empty for bytes.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        raw = bytes(source)
        name = object_name or ""
    else:
        try:
            raw = Path(source).read_bytes()
        except OSError as e:
            raise ELFError(f"cannot read {os.fspath(source)!r}: {e.strerror or e}") from e
        name = object_name if object_name is not None else object_name_of(source)
    try:
        return _load(raw, name)
    except (ELFError, BTFError) as e:
        if isinstance(e, ELFError):
            raise
        raise ELFError(f"bad BTF in object: {e}") from e
    except RecursionError as e:
        raise ELFError("object nests subprogram calls too deeply") from e


def _load(raw: bytes, name: str) -> CollectionSpec:
    elf = ElfObject(raw)
    license = _license(elf)
    kversion = _kversion(elf)
    btf_sec = elf.by_name(".BTF")
    fixed = fix_btf(btf_sec.data, elf) if btf_sec is not None else None
    btf = fixed.spec if fixed is not None else None
    externs = fixed.externs if fixed is not None else {}
    ext: BTFExt | None = None
    ext_sec = elf.by_name(".BTF.ext")
    if ext_sec is not None and btf is not None:
        ext = parse_btf_ext(ext_sec.data, btf.string)
    if elf.by_name("maps") is not None:
        raise ELFError("legacy map definitions in the 'maps' section are not supported (use .maps)")

    maps: dict[str, MapSpec] = {}
    declared, maps_by_off = btf_maps(elf, btf)
    for m in [*declared, *data_maps(elf, btf, name, externs, fixed.kconfig_size if fixed else 0)]:
        if m.real_name in maps:
            raise ELFError(f"duplicate map name {m.real_name!r}")
        maps[m.real_name] = m
    map_slot_relocs(elf, btf, maps)
    if any(e.kind.value == "kconfig" for e in externs.values()) and ".kconfig" not in maps:
        raise ELFError("kconfig externs without a .kconfig map")  # pragma: no cover - defensive

    arena_sec = elf.by_name(ARENA_SEC)
    arena_data = None
    if arena_sec is not None:
        arena_data = bytes(arena_sec.size) if arena_sec.type == SHT_NOBITS else arena_sec.data
    arena = arena_map(maps, arena_data)
    programs = build_programs(elf, externs, maps_by_off, ext, license, kversion)
    for p in programs.values():
        for r in p.relocations:
            if r.kind.value in ("map", "map_value") and r.target not in maps:
                raise ELFError(f"prog {p.name!r}: relocation against unknown map {r.target!r}")
            if r.kind.value == "arena" and arena is None:
                raise ELFError(f"prog {p.name!r}: bad arena data relocation at insn {r.insn}, no arena maps defined")
    for m in struct_ops_maps(elf, btf, programs):
        if m.real_name in maps:
            raise ELFError(f"duplicate map name {m.real_name!r}")
        maps[m.real_name] = m
    return CollectionSpec(
        object_name=name,
        programs=programs,
        maps=maps,
        btf=btf,
        btf_ext=ext,
        license=license,
        kversion=kversion,
        externs=externs,
        btf_raw=fixed.raw if fixed is not None else b"",
        arena_data=arena_data,
    )
