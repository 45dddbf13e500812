"""A bounds-checked view of a BPF ELF relocatable object (ELF-64, little-endian, EM_BPF).

pyelftools decodes the ELF header and the section header table; the object is checked
before pyelftools sees it (class, byte order, machine, type, every section inside the
file, table sizes), so a malformed file raises :class:`~structops.errors.ELFError` and
never an exception from deep inside the parser, a hang or a huge allocation.  Symbols and
relocations are decoded here with :mod:`struct` from the section bytes::

    typedef struct { Elf64_Word st_name; unsigned char st_info, st_other;
                     Elf64_Half st_shndx; Elf64_Addr st_value; Elf64_Xword st_size; } Elf64_Sym;
    typedef struct { Elf64_Addr r_offset; Elf64_Xword r_info; } Elf64_Rel;

This mirrors what libbpf's ``bpf_object__elf_init`` / ``bpf_object__elf_collect`` accept
(libbpf ``src/libbpf.c``): a relocatable BPF object with one symbol table.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from elftools.elf.elffile import ELFFile
from elftools.elf.enums import ENUM_SH_TYPE_BASE

from structops.errors import ELFError

__all__ = ["EM_BPF", "ElfObject", "Rel", "Section", "Symbol"]

EM_BPF: Final = 247
ET_REL: Final = 1
SHT_PROGBITS: Final = 1
SHT_SYMTAB: Final = 2
SHT_STRTAB: Final = 3
SHT_NOBITS: Final = 8
SHT_REL: Final = 9
SHF_WRITE: Final = 0x1
SHF_ALLOC: Final = 0x2
SHF_EXECINSTR: Final = 0x4
SHN_UNDEF: Final = 0
SHN_LORESERVE: Final = 0xFF00
SHN_ABS: Final = 0xFFF1
SHN_COMMON: Final = 0xFFF2
STB_LOCAL: Final = 0
STB_GLOBAL: Final = 1
STB_WEAK: Final = 2
STT_NOTYPE: Final = 0
STT_OBJECT: Final = 1
STT_FUNC: Final = 2
STT_SECTION: Final = 3

_EHDR_SIZE: Final = 64
_SHDR_SIZE: Final = 64
_SYM = struct.Struct("<IBBHQQ")
_REL = struct.Struct("<QQ")
#: Upper bound on symbols / relocations of one table (libbpf has none; this keeps a
#: crafted file from costing minutes; real objects have a few thousand at most).
MAX_TABLE_ENTRIES: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class Section:
    """One ELF section header plus its name (``data`` is empty for SHT_NOBITS)."""

    index: int
    name: str
    type: int
    flags: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int
    data: bytes

    @property
    def is_exec(self) -> bool:
        """True for an executable PROGBITS section (program code)."""
        return self.type == SHT_PROGBITS and bool(self.flags & SHF_EXECINSTR)


#: The :class:`Section` fields that are ``Elf64_Shdr`` members (``sh_`` + the name).
_SHDR_FIELDS: Final = ("type", "flags", "offset", "size", "link", "info", "entsize")


@dataclass(frozen=True, slots=True)
class Symbol:
    """One ``Elf64_Sym`` with its name resolved."""

    index: int
    name: str
    bind: int
    type: int
    shndx: int
    value: int
    size: int

    @property
    def is_undefined(self) -> bool:
        """True for an extern (``SHN_UNDEF``) symbol."""
        return self.shndx == SHN_UNDEF


@dataclass(frozen=True, slots=True)
class Rel:
    """One ``Elf64_Rel`` entry: ``offset`` in the target section, symbol index and type."""

    offset: int
    sym: int
    type: int


def _cstr(table: bytes, off: int, what: str) -> str:
    if not 0 <= off < len(table):
        raise ELFError(f"{what}: string offset {off} outside the string table ({len(table)} bytes)")
    end = table.find(b"\0", off)
    if end < 0:
        raise ELFError(f"{what}: string at offset {off} is not NUL-terminated")
    return table[off:end].decode("utf-8", "surrogateescape")


def _check_header(raw: bytes) -> tuple[int, int, int]:
    """Validate the ELF identification and header; return (shoff, shnum, shstrndx)."""
    if len(raw) < _EHDR_SIZE:
        raise ELFError(f"not an ELF object: {len(raw)} bytes is shorter than an ELF header")
    if raw[:4] != b"\x7fELF":
        raise ELFError("not an ELF object: bad magic")
    if raw[4] != 2:
        raise ELFError("not a 64-bit ELF object (EI_CLASS is not ELFCLASS64)")
    if raw[5] != 1:
        raise ELFError("not a little-endian ELF object (big-endian BPF is not supported)")
    e_type, e_machine = struct.unpack_from("<HH", raw, 16)
    if e_machine != EM_BPF:
        raise ELFError(f"not a BPF object: e_machine is {e_machine}, expected EM_BPF ({EM_BPF})")
    if e_type != ET_REL:
        raise ELFError(f"not a relocatable object: e_type is {e_type}, expected ET_REL")
    shoff = struct.unpack_from("<Q", raw, 40)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", raw, 58)
    if shnum == 0 or shoff == 0:
        raise ELFError("ELF object has no section header table (or uses extended numbering)")
    if shentsize != _SHDR_SIZE:
        raise ELFError(f"bad ELF section header size {shentsize}, expected {_SHDR_SIZE}")
    if shoff + shnum * _SHDR_SIZE > len(raw):
        raise ELFError(f"section header table ({shnum} entries at {shoff}) runs past the end of the file")
    if shstrndx >= shnum:
        raise ELFError(f"section name table index {shstrndx} out of range ({shnum} sections)")
    return shoff, shnum, shstrndx


class ElfObject:
    """The sections, symbols and relocations of one BPF ELF object (all bounds-checked)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        shoff, shnum, shstrndx = _check_header(raw)
        headers = self._section_headers(raw, shoff, shnum)
        names_hdr = headers[shstrndx]
        if names_hdr["sh_type"] != SHT_STRTAB:
            raise ELFError(f"section name table (section {shstrndx}) is not a string table")
        names = self._bytes(names_hdr, shstrndx)
        self.sections: list[Section] = []
        for i, h in enumerate(headers):
            name = _cstr(names, h["sh_name"], f"section {i} name") if i else ""
            data = b"" if h["sh_type"] == SHT_NOBITS else self._bytes(h, i)
            header = {f: h[f"sh_{f}"] for f in _SHDR_FIELDS}
            self.sections.append(Section(index=i, name=name, data=data, **header))
        symtabs = [s for s in self.sections if s.type == SHT_SYMTAB]
        if len(symtabs) != 1:
            raise ELFError(f"expected exactly one symbol table, found {len(symtabs)}")
        self.symtab = symtabs[0]
        self.symbols = self._symbols(self.symtab)

    # -- construction helpers ------------------------------------------------------------
    @staticmethod
    def _section_headers(raw: bytes, shoff: int, shnum: int) -> list[dict[str, Any]]:
        """Decode the section header table with pyelftools, converting its exceptions."""
        try:
            elf = ELFFile(io.BytesIO(raw))
            headers = [dict(elf._get_section_header(i)) for i in range(shnum)]
        except Exception as e:  # pyelftools raises ELFError/ELFParseError/construct errors
            raise ELFError(f"bad ELF section header table: {e}") from e
        for h in headers:
            # pyelftools spells known section types by name; we compare numbers.
            if isinstance(h["sh_type"], str):
                h["sh_type"] = ENUM_SH_TYPE_BASE.get(h["sh_type"], -1)
        return headers

    def _bytes(self, h: dict[str, Any], index: int) -> bytes:
        off, size = h["sh_offset"], h["sh_size"]
        if off > len(self.raw) or size > len(self.raw) - off:
            raise ELFError(
                f"section {index} (offset {off}, size {size}) runs past the end of the file ({len(self.raw)} bytes)"
            )
        return self.raw[off : off + size]

    def _symbols(self, symtab: Section) -> list[Symbol]:
        if symtab.entsize not in (0, _SYM.size) or symtab.size % _SYM.size:
            raise ELFError(f"symbol table size {symtab.size} is not a multiple of {_SYM.size}")
        count = symtab.size // _SYM.size
        if count > MAX_TABLE_ENTRIES:
            raise ELFError(f"symbol table has {count} entries (limit {MAX_TABLE_ENTRIES})")
        strtab = self.section(symtab.link, "symbol table string section")
        if strtab.type != SHT_STRTAB:
            raise ELFError(f"symbol table links to section {symtab.link}, which is not a string table")
        out = []
        for i, (name, info, _other, shndx, value, size) in enumerate(_SYM.iter_unpack(symtab.data)):
            if shndx < SHN_LORESERVE and shndx >= len(self.sections):
                raise ELFError(f"symbol {i} refers to section {shndx}, which does not exist")
            out.append(
                Symbol(
                    index=i,
                    name=_cstr(strtab.data, name, f"symbol {i} name") if name else "",
                    bind=info >> 4,
                    type=info & 0xF,
                    shndx=shndx,
                    value=value,
                    size=size,
                )
            )
        return out

    # -- queries -------------------------------------------------------------------------
    def section(self, index: int, what: str = "section") -> Section:
        """Return section ``index``; ELFError naming ``what`` if it does not exist."""
        if not 0 <= index < len(self.sections):
            raise ELFError(f"{what}: section index {index} out of range ({len(self.sections)} sections)")
        return self.sections[index]

    def by_name(self, name: str) -> Section | None:
        """Return the first section called ``name``, or None."""
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def symbol(self, index: int, what: str) -> Symbol:
        """Return symbol ``index``; ELFError naming ``what`` if it does not exist."""
        if not 0 <= index < len(self.symbols):
            raise ELFError(f"{what}: symbol index {index} out of range ({len(self.symbols)} symbols)")
        return self.symbols[index]

    def rel_sections(self) -> Iterator[tuple[Section, Section]]:
        """Yield ``(rel_section, target_section)`` for each SHT_REL section."""
        for s in self.sections:
            if s.type != SHT_REL:
                continue
            if s.link != self.symtab.index:
                raise ELFError(f"relocation section {s.name!r} does not use the symbol table")
            yield s, self.section(s.info, f"relocation section {s.name!r} target")

    def relocations(self, rel: Section) -> list[Rel]:
        """Decode the entries of relocation section ``rel`` (symbol indices checked)."""
        if rel.size % _REL.size:
            raise ELFError(f"relocation section {rel.name!r} size {rel.size} is not a multiple of 16")
        count = rel.size // _REL.size
        if count > MAX_TABLE_ENTRIES:
            raise ELFError(f"relocation section {rel.name!r} has {count} entries (limit {MAX_TABLE_ENTRIES})")
        out = []
        for i, (offset, info) in enumerate(_REL.iter_unpack(rel.data)):
            sym = info >> 32
            if sym >= len(self.symbols):
                raise ELFError(
                    f"relocation {i} of {rel.name!r}: symbol index {sym} out of range ({len(self.symbols)} symbols)"
                )
            out.append(Rel(offset=offset, sym=sym, type=info & 0xFFFFFFFF))
        return out
