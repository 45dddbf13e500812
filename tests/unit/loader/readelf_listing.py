"""Parser of the ``llvm-readelf --sections --relocations --symbols`` listings captured by
``make -C testdata progs`` into ``data/*.readelf.txt``.

The tests compare the loader against these listings: they come from LLVM's own ELF
reader at build time, not from the code under test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).parent / "data"
TESTDATA = Path(__file__).resolve().parents[3] / "testdata"

_SEC = re.compile(
    r"^\s*\[\s*(\d+)\]\s+(\S*)\s+(\S+)\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s*([A-Za-z]*)\s+(\d+)\s+(\d+)\s+(\d+)$"
)
_RELHDR = re.compile(r"^Relocation section '(.*)' at offset 0x[0-9a-f]+ contains (\d+) entries:")
_REL = re.compile(r"^([0-9a-f]{16})\s+([0-9a-f]{16})\s+(\S+)\s+([0-9a-f]{16})\s+(\S+)$")
_SYM = re.compile(r"^\s*(\d+):\s+([0-9a-f]{16})\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(\S*)$")


@dataclass
class LSection:
    index: int
    name: str
    type: str
    offset: int
    size: int
    flags: str
    link: int
    info: int


@dataclass
class LRel:
    offset: int
    type: str
    symbol: str


@dataclass
class LSymbol:
    index: int
    value: int
    size: int
    type: str
    bind: str
    ndx: str
    name: str


@dataclass
class Listing:
    sections: list[LSection] = field(default_factory=list)
    relocs: dict[str, list[LRel]] = field(default_factory=dict)
    symbols: list[LSymbol] = field(default_factory=list)

    def section(self, name: str) -> LSection:
        return next(s for s in self.sections if s.name == name)

    def funcs_in(self, sec_name: str) -> list[LSymbol]:
        idx = str(self.section(sec_name).index)
        return sorted((s for s in self.symbols if s.type == "FUNC" and s.ndx == idx), key=lambda s: s.value)

    def exec_sections(self) -> list[LSection]:
        return [s for s in self.sections if s.type == "PROGBITS" and "X" in s.flags and s.size > 0]


def load_listing(obj: str) -> Listing:
    text = (DATA / f"{obj}.readelf.txt").read_text()
    out = Listing()
    current: list[LRel] | None = None
    for line in text.splitlines():
        m = _SEC.match(line)
        if m:
            out.sections.append(
                LSection(int(m[1]), m[2], m[3], int(m[5], 16), int(m[6], 16), m[8], int(m[9]), int(m[10]))
            )
            continue
        m = _RELHDR.match(line)
        if m:
            current = out.relocs.setdefault(m[1], [])
            continue
        m = _REL.match(line)
        if m and current is not None:
            current.append(LRel(int(m[1], 16), m[3], m[5]))
            continue
        m = _SYM.match(line)
        if m:
            out.symbols.append(LSymbol(int(m[1]), int(m[2], 16), int(m[3]), m[4], m[5], m[7], m[8]))
    return out
