"""Programs of an object: code extraction, symbolic relocations, subprogram linking.

Follows libbpf (``bpf_object__add_programs``, ``bpf_program__record_reloc``,
``bpf_object__reloc_code``):

* every STT_FUNC symbol of an executable section is a function; those in ``.text`` are
  subprograms, the others are programs (a ``static`` one is rejected);
* a relocation must sit on an instruction: ``call`` (extern -> kfunc, ``.text`` symbol
  -> bpf-to-bpf call at ``st_value/8 + imm + 1``) or ``ld_imm64`` (``.maps`` map,
  global data at ``st_value + imm``, extern variable, or a ``.text`` function address);
* linking walks a program's instructions; each subprogram reached through a call or a
  function address is appended once (depth first, in order of first use) and the
  instruction's ``imm`` becomes ``callee_start - (insn_index + 1)``;
* ``.BTF.ext`` records move with the code they describe.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from typing import Final

from structops.abi.consts import BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC
from structops.errors import ELFError
from structops.loader._elf import STB_LOCAL, STT_FUNC, ElfObject, Section, Symbol
from structops.loader._maps import MAPS_SEC, data_map_kind
from structops.loader.arena import ARENA_SEC
from structops.loader.btf_ext import BTFExt, CoreRelo, FuncInfo, LineInfo
from structops.loader.sections import parse_section
from structops.loader.spec import ExternKind, ExternSpec, ProgramSpec, Reloc, RelocKind

__all__ = ["TEXT_SEC", "build_programs"]

TEXT_SEC: Final = ".text"
INSN: Final = 8
OP_CALL: Final = 0x85  # BPF_JMP | BPF_CALL
OP_LD_IMM64: Final = 0x18  # BPF_LD | BPF_IMM | BPF_DW
#: A program this long (in slots) is far past the kernel's 1M-instruction limit.
MAX_LINKED_INSNS: Final = 1 << 21


@dataclass(slots=True)
class _Func:
    """One function of an executable section (program or subprogram) before linking."""

    name: str
    sec: Section
    start: int  # instruction index in the section
    code: bytes
    is_sub: bool
    # (local insn index, kind, target) where kind CALL/SUBPROG_ADDR target is a _Func key
    relocs: list[tuple[int, RelocKind, str, int, bool]] = field(default_factory=list)
    calls: list[tuple[int, tuple[int, int]]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.code) // INSN

    @property
    def key(self) -> tuple[int, int]:
        return (self.sec.index, self.start)


def _insn(code: bytes | bytearray, i: int) -> tuple[int, int, int, int, int]:
    op, regs, off, imm = struct.unpack_from("<BBhi", code, i * INSN)
    return op, regs & 0xF, regs >> 4, off, imm


def _functions(elf: ElfObject) -> dict[tuple[int, int], _Func]:
    funcs: dict[tuple[int, int], _Func] = {}
    for sec in elf.sections:
        if not sec.is_exec or sec.size == 0:
            continue
        if sec.size % INSN:
            raise ELFError(f"section {sec.name!r}: size {sec.size} is not a multiple of {INSN}")
        syms = sorted(
            (s for s in elf.symbols if s.shndx == sec.index and s.type == STT_FUNC),
            key=lambda s: s.value,
        )
        for s in syms:
            if s.value % INSN or s.size % INSN or s.size == 0 or s.value + s.size > sec.size:
                raise ELFError(
                    f"sec {sec.name!r}: function {s.name!r} at {s.value} size {s.size} is misaligned "
                    f"or outside the section ({sec.size} bytes)"
                )
            is_sub = sec.name == TEXT_SEC
            if not is_sub and s.bind == STB_LOCAL:
                raise ELFError(f"sec {sec.name!r}: program {s.name!r} is static and not supported")
            key = (sec.index, s.value // INSN)
            if key in funcs:
                raise ELFError(f"sec {sec.name!r}: functions {funcs[key].name!r} and {s.name!r} overlap")
            funcs[key] = _Func(s.name, sec, s.value // INSN, sec.data[s.value : s.value + s.size], is_sub)
    return funcs


def _owner(funcs_by_sec: dict[int, list[_Func]], sec: Section, idx: int) -> _Func | None:
    for f in funcs_by_sec.get(sec.index, []):
        if f.start <= idx < f.start + f.count:
            return f
    return None


def _sub_target(elf: ElfObject, sym: Symbol, insn_idx: int, what: str) -> tuple[int, int]:
    """Key of the subprogram a call / function-address relocation points at."""
    sec = elf.section(sym.shndx, what)
    if sec.name != TEXT_SEC:
        raise ELFError(f"{what}: bad call relocation against {sym.name!r} in section {sec.name!r}")
    return (sec.index, insn_idx)


def _record(
    elf: ElfObject,
    f: _Func,
    local: int,
    sym: Symbol,
    externs: dict[str, ExternSpec],
    maps_by_off: dict[int, str],
) -> None:
    """Classify one relocation of function ``f`` at its instruction ``local``."""
    op, _dst, _src, _off, imm = _insn(f.code, local)
    where = f"prog {f.name!r}: relocation at insn {local}"
    if op == OP_CALL:
        if sym.is_undefined:
            ext = externs.get(sym.name)
            if ext is None or ext.kind != ExternKind.KFUNC:
                raise ELFError(f"{where}: call to extern {sym.name!r} which is not a kfunc")
            f.relocs.append((local, RelocKind.KFUNC, sym.name, 0, ext.weak))
            return
        if sym.value % INSN:
            raise ELFError(f"{where}: call target {sym.name!r} is not instruction aligned")
        f.calls.append((local, _sub_target(elf, sym, sym.value // INSN + imm + 1, where)))
        return
    if op != OP_LD_IMM64:
        raise ELFError(f"{where}: invalid relocation for instruction code {op:#04x}")
    if local + 1 >= f.count:
        raise ELFError(f"{where}: ld_imm64 is missing its second slot")
    if sym.is_undefined:
        ext = externs.get(sym.name)
        if ext is None:
            raise ELFError(f"{where}: reference to unknown extern {sym.name!r}")
        if ext.kind == ExternKind.KCONFIG:
            f.relocs.append((local, RelocKind.MAP_VALUE, ".kconfig", ext.offset, ext.weak))
        else:
            f.relocs.append((local, RelocKind.KSYM, sym.name, 0, ext.weak))
        return
    sec = elf.section(sym.shndx, where)
    if sec.is_exec:
        target = sym.value + imm
        if target % INSN:
            raise ELFError(f"{where}: function address {target} is not instruction aligned")
        f.calls.append((local, _sub_target(elf, sym, target // INSN, where)))
        return
    if sec.name == MAPS_SEC:
        name = maps_by_off.get(sym.value)
        if name is None:
            raise ELFError(f"{where}: no map at offset {sym.value} of .maps")
        f.relocs.append((local, RelocKind.MAP, name, 0, False))
        return
    if sec.name == ARENA_SEC:  # an __arena global: inside the object's arena map
        f.relocs.append((local, RelocKind.ARENA, ARENA_SEC, sym.value + imm, False))
        return
    if data_map_kind(sec) is not None:
        offset = sym.value + imm
        if not 0 <= offset <= sec.size:
            raise ELFError(f"{where}: offset {offset} is outside {sec.name!r} ({sec.size} bytes)")
        f.relocs.append((local, RelocKind.MAP_VALUE, sec.name, offset, False))
        return
    raise ELFError(f"{where}: relocation against unsupported section {sec.name!r}")


def _collect(
    elf: ElfObject, funcs: dict[tuple[int, int], _Func], externs: dict[str, ExternSpec],
    maps_by_off: dict[int, str],
) -> None:  # fmt: skip
    by_sec: dict[int, list[_Func]] = {}
    for f in funcs.values():
        by_sec.setdefault(f.sec.index, []).append(f)
    relocated: set[tuple[int, int]] = set()
    for rel, target in elf.rel_sections():
        if not target.is_exec:
            continue
        for r in elf.relocations(rel):
            if r.offset % INSN or r.offset >= target.size:
                raise ELFError(f"{rel.name!r}: relocation offset {r.offset} is invalid for {target.name!r}")
            idx = r.offset // INSN
            owner = _owner(by_sec, target, idx)
            if owner is None:  # code no function symbol covers: an overridden __weak copy (libbpf skips it)
                continue
            sym = elf.symbol(r.sym, rel.name)
            _record(elf, owner, idx - owner.start, sym, externs, maps_by_off)
            relocated.add((target.index, idx))
    # pc-relative bpf-to-bpf calls and function addresses that carry no relocation
    for f in funcs.values():
        i = 0
        while i < f.count:
            op, _dst, src, _off, imm = _insn(f.code, i)
            is_call = op == OP_CALL and src == BPF_PSEUDO_CALL
            is_addr = op == OP_LD_IMM64 and src == BPF_PSEUDO_FUNC
            if (is_call or is_addr) and (f.sec.index, f.start + i) not in relocated:
                f.calls.append((i, (f.sec.index, f.start + i + imm + 1)))
            i += 2 if op == OP_LD_IMM64 else 1


@dataclass(slots=True)
class _Linked:
    code: bytearray
    pieces: list[tuple[_Func, int]]
    relocs: list[Reloc]


def _link(main: _Func, funcs: dict[tuple[int, int], _Func]) -> _Linked:
    out = _Linked(bytearray(main.code), [(main, 0)], [])
    placed: dict[tuple[int, int], int] = {main.key: 0}

    def visit(f: _Func, base: int) -> None:
        for local, kind, target, offset, weak in f.relocs:
            out.relocs.append(Reloc(base + local, kind, target, offset, weak))
        for local, key in sorted(f.calls):
            callee = funcs.get(key)
            if callee is None:
                raise ELFError(f"prog {main.name!r}: call from {f.name!r} at insn {local} to no function start")
            if key not in placed:
                if len(out.code) // INSN + callee.count > MAX_LINKED_INSNS:
                    raise ELFError(f"prog {main.name!r}: linked program is too large")
                placed[key] = len(out.code) // INSN
                out.code += callee.code
                out.pieces.append((callee, placed[key]))
                visit(callee, placed[key])
            at = base + local
            op, dst, _src, off, _imm = _insn(out.code, at)
            src = BPF_PSEUDO_CALL if op == OP_CALL else BPF_PSEUDO_FUNC
            struct.pack_into("<BBhi", out.code, at * INSN, op, dst | src << 4, off, placed[key] - at - 1)
            kind = RelocKind.CALL if op == OP_CALL else RelocKind.SUBPROG_ADDR
            out.relocs.append(Reloc(at, kind, callee.name))

    try:
        visit(main, 0)
    except RecursionError:
        raise ELFError(f"prog {main.name!r}: subprogram calls nest too deeply") from None
    out.relocs.sort(key=lambda r: (r.insn, r.kind.value))
    return out


def _infos(linked: _Linked, ext: BTFExt | None) -> tuple[list[FuncInfo], list[LineInfo], list[CoreRelo]]:
    fi: list[FuncInfo] = []
    li: list[LineInfo] = []
    cr: list[CoreRelo] = []
    if ext is None:
        return fi, li, cr
    for f, base in linked.pieces:
        lo, hi, delta = f.start, f.start + f.count, base - f.start
        sec = f.sec.name
        fi += [replace(r, insn_off=r.insn_off + delta) for r in ext.func_info.get(sec, []) if lo <= r.insn_off < hi]
        li += [replace(r, insn_off=r.insn_off + delta) for r in ext.line_info.get(sec, []) if lo <= r.insn_off < hi]
        cr += [replace(r, insn_off=r.insn_off + delta) for r in ext.core_relos.get(sec, []) if lo <= r.insn_off < hi]
    return fi, li, cr


def build_programs(
    elf: ElfObject,
    externs: dict[str, ExternSpec],
    maps_by_off: dict[int, str],
    ext: BTFExt | None,
    license: str,
    kversion: int,
) -> dict[str, ProgramSpec]:
    """Extract, relocate (symbolically) and link every program of ``elf``."""
    funcs = _functions(elf)
    _collect(elf, funcs, externs, maps_by_off)
    progs: dict[str, ProgramSpec] = {}
    for f in sorted(funcs.values(), key=lambda f: f.key):
        if f.is_sub:
            continue
        if f.name in progs:
            raise ELFError(f"duplicate program name {f.name!r}")
        info = parse_section(f.sec.name)
        linked = _link(f, funcs)
        fi, li, cr = _infos(linked, ext)
        progs[f.name] = ProgramSpec(
            name=f.name,
            section=f.sec.name,
            prog_type=info.prog_type,
            expected_attach_type=info.expected_attach_type,
            attach_to=info.attach_to,
            sleepable=info.sleepable,
            autoload=info.autoload,
            instructions=bytes(linked.code),
            license=license,
            kernel_version=kversion,
            section_insn_offset=f.start,
            relocations=tuple(linked.relocs),
            func_infos=tuple(fi),
            line_infos=tuple(li),
            core_relos=tuple(cr),
            subprograms=tuple(p.name for p, _ in linked.pieces[1:]),
            known_section=info.known,
            xdp_frags=info.xdp_frags,
        )
    return progs
