"""struct_ops maps from ``.struct_ops`` / ``.struct_ops.link`` and their ``?`` variants.

libbpf rules (selftests report B.1, B.3): each variable of such a section's DATASEC is
one BPF_MAP_TYPE_STRUCT_OPS map named after the variable, with key_size 4, max_entries
1, value_size the size of the local struct, BPF_F_LINK for the ``.link`` sections and
autocreate off for the ``?`` ones.  The variable's bytes are the shadow value.  Each
relocation of the section binds one function-pointer member to a struct_ops program:
the member is found at the relocation's offset, must be a function pointer, and the
symbol must be a struct_ops program of this object.  Matching against the kernel type
(member names, sizes, ``___flavour`` names) is load-time work.
"""

from __future__ import annotations

from typing import Final

from structops.abi.consts import MapFlags, MapType
from structops.btf.layout import underlying
from structops.btf.parse import Spec as BTFSpec
from structops.btf.types import Datasec, FuncProto, Member, Pointer, Struct, Var
from structops.errors import BTFError, ELFError
from structops.loader._elf import SHN_LORESERVE, SHT_PROGBITS, ElfObject, Section
from structops.loader.spec import MapKind, MapSpec, ProgramSpec, StructOpsSpec

__all__ = ["STRUCT_OPS_SECS", "is_struct_ops_section", "struct_ops_maps"]

STRUCT_OPS_SECS: Final = (".struct_ops", ".struct_ops.link", "?.struct_ops", "?.struct_ops.link")


def is_struct_ops_section(sec: Section) -> bool:
    """True for one of the four data sections libbpf reads struct_ops maps from."""
    return sec.name in STRUCT_OPS_SECS and not sec.is_exec


def _is_func_ptr(m: Member) -> bool:
    t = underlying(m.type)
    return isinstance(t, Pointer) and isinstance(underlying(t.target), FuncProto)


def _member_at(st: Struct, byte_off: int) -> Member | None:
    for m in st.members:
        if m.bitfield_size == 0 and m.bit_offset == byte_off * 8:
            return m
    return None


def struct_ops_maps(elf: ElfObject, btf: BTFSpec | None, programs: dict[str, ProgramSpec]) -> list[MapSpec]:
    """Build the struct_ops MapSpecs of ``elf`` and bind their function pointers."""
    out: list[MapSpec] = []
    for sec in elf.sections:
        if not is_struct_ops_section(sec):
            continue
        if sec.type != SHT_PROGBITS:
            raise ELFError(
                f"section {sec.name!r} (index {sec.index}, offset {sec.offset}): struct_ops data must be "
                f"SHT_PROGBITS, not section type {sec.type}"
            )
        if btf is None:
            raise ELFError(f"section {sec.name!r}: struct_ops maps need the object's BTF")
        try:
            ds = btf.find(sec.name, Datasec)
        except KeyError:
            raise ELFError(f"section {sec.name!r}: no BTF DATASEC describes it") from None
        is_link = sec.name.endswith(".link")
        spans: list[tuple[int, int, MapSpec, Struct]] = []
        for v in ds.vars:
            var = v.type
            if not isinstance(var, Var):
                raise ELFError(f"struct_ops section {sec.name!r}: entry {var!r} is not a variable")
            try:
                st = underlying(var.type)
            except BTFError as e:
                raise ELFError(f"struct_ops map {var.name!r}: {e}") from e
            if not isinstance(st, Struct):
                raise ELFError(f"struct_ops map {var.name!r}: type is not a struct")
            if not st.name:
                raise ELFError(f"struct_ops map {var.name!r}: anonymous type is not supported")
            if v.offset + st.size > sec.size:
                raise ELFError(f"struct_ops map {var.name!r}: value is outside section {sec.name!r}")
            ops = StructOpsSpec(
                type_name=st.name,
                type_id=btf.type_id(st),
                data=sec.data[v.offset : v.offset + st.size],
                is_link=is_link,
            )
            spec = MapSpec(
                name=var.name,
                real_name=var.name,
                kind=MapKind.STRUCT_OPS,
                section=sec.name,
                type=MapType.BPF_MAP_TYPE_STRUCT_OPS,
                key_size=4,
                value_size=st.size,
                max_entries=1,
                flags=int(MapFlags.BPF_F_LINK) if is_link else 0,
                btf_value_type_id=btf.type_id(st),
                autocreate=not sec.name.startswith("?"),
                struct_ops=ops,
            )
            spans.append((v.offset, v.offset + st.size, spec, st))
            out.append(spec)
        _bind(elf, sec, spans, programs)
    return out


def _bind(
    elf: ElfObject,
    sec: Section,
    spans: list[tuple[int, int, MapSpec, Struct]],
    programs: dict[str, ProgramSpec],
) -> None:
    by_loc = {(p.section, p.section_insn_offset): p for p in programs.values()}
    for rel, target in elf.rel_sections():
        if target.index != sec.index:
            continue
        for r in elf.relocations(rel):
            span = next((s for s in spans if s[0] <= r.offset < s[1]), None)
            if span is None:
                raise ELFError(f"struct_ops reloc: cannot find map at offset {r.offset} of {sec.name!r}")
            start, _end, spec, st = span
            assert spec.struct_ops is not None
            moff = r.offset - start
            member = _member_at(st, moff)
            name = f"struct_ops reloc {spec.name}"
            if member is None or not _is_func_ptr(member):
                raise ELFError(f"{name}: cannot relocate non func ptr at offset {moff}")
            sym = elf.symbol(r.sym, name)
            if sym.is_undefined or sym.shndx >= SHN_LORESERVE:
                raise ELFError(f"{name}: {sym.name!r} is an unsupported non-static function")
            code_sec = elf.section(sym.shndx, name)
            if not code_sec.is_exec or sym.value % 8:
                raise ELFError(f"{name}: {sym.name!r} is not a program")
            prog = by_loc.get((code_sec.name, sym.value // 8))
            if prog is None:
                raise ELFError(f"{name}: cannot find program at {code_sec.name!r}+{sym.value}")
            if not prog.is_struct_ops:
                raise ELFError(f"{name}: prog {prog.name} is not struct_ops BPF program")
            spec.struct_ops.funcs[member.name] = prog.name
            spec.struct_ops.func_offsets[member.name] = moff
