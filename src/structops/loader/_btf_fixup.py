"""DATASEC fix-ups of an object's ``.BTF`` and the extern (``.kconfig``/``.ksyms``) layout.

clang leaves the size of every DATASEC and the offsets of global variables at zero;
libbpf fills them in from the ELF (``btf_fixup_datasec``: section size, symbol value of
each variable) before the BTF goes to the kernel.  Externs get their ``.kconfig`` slot
the way ``bpf_object__collect_externs`` assigns it: kconfig externs sorted by alignment
(largest first), then size (smallest first), then name, each placed at the next
multiple of its alignment.  The patched raw BTF is what the load phase sends to
BPF_BTF_LOAD (with any further kernel-specific sanitising done there).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from structops.btf.layout import alignof, sizeof, underlying
from structops.btf.parse import Spec as BTFSpec
from structops.btf.parse import parse as parse_btf
from structops.btf.types import Datasec, Func, Var, VarLinkage, Void
from structops.errors import BTFError, ELFError
from structops.loader._btf_externs import sanitize_externs
from structops.loader._elf import SHN_UNDEF, STB_GLOBAL, STB_WEAK, STT_NOTYPE, ElfObject
from structops.loader.spec import ExternKind, ExternSpec

__all__ = ["KCONFIG_SEC", "KSYMS_SEC", "FixedBTF", "fix_btf"]

KCONFIG_SEC: Final = ".kconfig"
KSYMS_SEC: Final = ".ksyms"
_KIND_DATASEC: Final = 15
_HDR = struct.Struct("<HBBIIIII")
#: Extra bytes after ``struct btf_type`` per kind: (fixed, per vlen item).
_EXTRA: Final = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8), 14: (4, 0),
                 15: (0, 12), 17: (4, 0), 19: (0, 12)}  # fmt: skip


@dataclass(slots=True)
class FixedBTF:
    """The object's BTF after fix-ups, with the externs it declares."""

    raw: bytes
    spec: BTFSpec
    externs: dict[str, ExternSpec]
    kconfig_size: int


def _datasec_records(raw: bytes) -> list[tuple[int, int, int]]:
    """Return (byte offset of the record, vlen, type id) of every DATASEC in raw BTF."""
    if len(raw) < _HDR.size:
        raise BTFError(".BTF is shorter than its header")
    magic, _ver, _flags, hdr_len, type_off, type_len, _so, _sl = _HDR.unpack_from(raw, 0)
    if magic != 0xEB9F:
        raise BTFError(f".BTF: bad magic {magic:#x} (only little-endian BTF is supported)")
    start = hdr_len + type_off
    end = start + type_len
    if hdr_len < _HDR.size or end > len(raw):
        raise BTFError(".BTF: type section outside the data")
    out = []
    pos, tid = start, 1
    while pos < end:
        if end - pos < 12:
            raise BTFError(f".BTF: truncated type record at byte {pos}")
        info = struct.unpack_from("<I", raw, pos + 4)[0]
        kind, vlen = info >> 24 & 31, info & 0xFFFF
        fixed, per = _EXTRA.get(kind, (0, 0))
        if kind == _KIND_DATASEC:
            out.append((pos, vlen, tid))
        pos += 12 + fixed + per * vlen
        tid += 1
    if pos != end:
        raise BTFError(".BTF: type records overrun the type section")
    return out


def _collect_externs(elf: ElfObject, spec: BTFSpec) -> dict[str, ExternSpec]:
    """Find every extern symbol and its BTF VAR/FUNC in ``.kconfig`` / ``.ksyms``."""
    where: dict[str, tuple[str, int]] = {}
    for t in spec.types:
        if isinstance(t, Datasec) and t.name in (KCONFIG_SEC, KSYMS_SEC):
            for v in t.vars:
                where[v.type.__dict__.get("name") or ""] = (t.name, spec.type_id(v.type))
    out: dict[str, ExternSpec] = {}
    kcfg: list[tuple[int, int, str, int, bool]] = []
    for sym in elf.symbols:
        if sym.shndx != SHN_UNDEF or sym.bind not in (STB_GLOBAL, STB_WEAK) or not sym.name:
            continue
        if sym.type != STT_NOTYPE:
            continue
        weak = sym.bind == STB_WEAK
        found = where.get(sym.name)
        if found is None:
            raise ELFError(f"extern {sym.name!r}: no BTF in {KCONFIG_SEC} or {KSYMS_SEC} describes it")
        sec, tid = found
        t = spec.type_by_id(tid)
        if sec == KCONFIG_SEC:
            if not isinstance(t, Var):
                raise ELFError(f"extern (kcfg) {sym.name!r}: not a variable")
            try:
                size, align = sizeof(t.type), alignof(t.type)
            except BTFError as e:
                raise ELFError(f"extern (kcfg) {sym.name!r}: type is unsupported: {e}") from e
            kcfg.append((align, size, sym.name, tid, weak))
        elif isinstance(t, Func):
            out[sym.name] = ExternSpec(sym.name, ExternKind.KFUNC, weak, tid)
        else:
            typeless = isinstance(t, Var) and isinstance(underlying(t.type), Void)
            out[sym.name] = ExternSpec(sym.name, ExternKind.KSYM_VAR, weak, tid, typeless=typeless)
    off = 0
    for align, size, name, tid, weak in sorted(kcfg, key=lambda e: (-e[0], e[1], e[2])):
        off = (off + align - 1) // align * align
        out[name] = ExternSpec(name, ExternKind.KCONFIG, weak, tid, offset=off, size=size)
        off += size
    return dict(sorted(out.items()))


def fix_btf(raw: bytes, elf: ElfObject) -> FixedBTF:
    """Patch DATASEC sizes and variable offsets of ``raw`` from ``elf``; parse the result."""
    try:
        loose = parse_btf(raw, validate=False)
        externs = _collect_externs(elf, loose)
        kconfig_size = max((e.offset + e.size for e in externs.values() if e.kind == ExternKind.KCONFIG),
                           default=0)  # fmt: skip
        buf = bytearray(raw)
        for pos, vlen, tid in _datasec_records(raw):
            ds = loose.type_by_id(tid)
            assert isinstance(ds, Datasec)
            _fix_one(buf, pos, vlen, ds, elf, externs, kconfig_size)
        fixed = sanitize_externs(bytes(buf), loose)
        spec = parse_btf(fixed, validate=True)
    except BTFError as e:
        raise ELFError(f"bad .BTF: {e}") from e
    return FixedBTF(fixed, spec, externs, kconfig_size)


def _fix_one(
    buf: bytearray,
    pos: int,
    vlen: int,
    ds: Datasec,
    elf: ElfObject,
    externs: dict[str, ExternSpec],
    kconfig_size: int,
) -> None:
    if ds.name == KCONFIG_SEC:
        struct.pack_into("<I", buf, pos + 8, kconfig_size)
        for i, v in enumerate(ds.vars):
            name = v.type.__dict__.get("name", "")
            ext = externs.get(name)
            if ext is not None:
                struct.pack_into("<I", buf, pos + 12 + 12 * i + 4, ext.offset)
        return
    if ds.name == KSYMS_SEC:
        return
    sec = elf.by_name(ds.name)
    if sec is None:
        raise ELFError(f".BTF DATASEC {ds.name!r} names no ELF section")
    if sec.size > 0xFFFFFFFF:
        raise ELFError(f"section {sec.name!r} (index {sec.index}): size {sec.size} does not fit a BTF DATASEC")
    struct.pack_into("<I", buf, pos + 8, sec.size)
    syms = {s.name: s for s in elf.symbols if s.shndx == sec.index and s.name}
    for i, v in enumerate(ds.vars):
        var = v.type
        name = var.__dict__.get("name", "")
        sym = syms.get(name)
        if sym is None:
            if isinstance(var, Var) and var.linkage == VarLinkage.STATIC:
                continue  # clang already wrote the offset of a static variable
            raise ELFError(f".BTF DATASEC {ds.name!r}: no symbol for variable {name!r}")
        if sym.value + v.size > sec.size:
            raise ELFError(f"variable {name!r} ({v.size} bytes at {sym.value}) is outside {ds.name!r}")
        struct.pack_into("<I", buf, pos + 12 + 12 * i + 4, sym.value)
