"""CO-RE: compute the value a ``bpf_core_relo`` record asks for, against a target BTF.

Semantics follow libbpf's ``relo_core.c`` (and kernel ``Documentation/bpf/llvm_reloc.rst``
section "CO-RE Relocations"), implemented here from those rules:

* the *local spec* is the record's root type (local BTF) plus its access string:
  ``"0:3:1"`` = element 0 of the root, member #3, then member #1 (array steps index
  elements); type relocations use ``"0"``, enum relocations the enumerator index;
* *candidates* are target types with the same essential name (``___flavour`` dropped)
  and a compatible kind;
* a field candidate matches when every named member on the path exists in it (found
  by name, also inside anonymous members) and the final field is compatible (both
  composite, both integer/enum, both pointers, arrays of compatible elements);
* all matching candidates must agree on the result, else the relocation is ambiguous;
* with no match, ``*_EXISTS`` kinds give 0 and every other kind is *poisoned* (libbpf
  then replaces the instruction so that the program fails verification if it is reached).

:func:`relocate` returns a :class:`CoreResult`; :func:`patch_insn` applies it to an
instruction the way ``bpf_core_patch_insn`` does (checking the compiler's local value).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from structops.btf.layout import sizeof, underlying
from structops.btf.parse import Spec as BTFSpec
from structops.btf.types import (
    Array,
    Enum,
    Enum64,
    Float,
    FuncProto,
    Fwd,
    Int,
    Pointer,
    Struct,
    Type,
    Union,
    Void,
)
from structops.errors import BTFError, ELFError
from structops.loader.btf_ext import CoreRelo, CoreReloKind
from structops.loader.spec import essential_name

__all__ = ["CoreResult", "patch_insn", "relocate"]

K = CoreReloKind
#: libbpf's marker for poisoned instructions (a call to this "helper" id).
POISON_HELPER_ID: Final = 0xBAD2310
_MAX_DEPTH: Final = 64


@dataclass(frozen=True, slots=True)
class CoreResult:
    """Local (as compiled) and target values of one relocation; ``poison`` if unresolvable."""

    kind: CoreReloKind
    local: int
    target: int
    poison: bool = False
    #: Target type id the relocation matched (0 if none).
    target_type_id: int = 0


@dataclass(frozen=True, slots=True)
class _Field:
    """Where an access path ends: bit offset, the member's type, bitfield size (0 = none)."""

    bit_offset: int
    type: Type
    bitfield_size: int


def _is_composite(t: Type) -> bool:
    return isinstance(t, Struct | Union)


def _walk_local(btf: BTFSpec, root: Type, access: tuple[int, ...]) -> tuple[_Field, list[str | int]]:
    """Follow the access spec on the local BTF; return the field and the path as names/indices."""
    t = underlying(root)
    elem_size = sizeof(t) if not isinstance(t, Void) else 0
    bits = access[0] * elem_size * 8
    path: list[str | int] = []
    bf = 0
    for idx in access[1:]:
        if isinstance(t, Struct | Union):
            if not 0 <= idx < len(t.members):
                raise ELFError(f"CO-RE: member index {idx} out of range for {t!r}")
            m = t.members[idx]
            bits += m.bit_offset
            bf = m.bitfield_size
            path.append(m.name)
            t = underlying(m.type)
        elif isinstance(t, Array):
            bits += idx * sizeof(t.type) * 8
            bf = 0
            path.append(idx)
            t = underlying(t.type)
        else:
            raise ELFError(f"CO-RE: cannot index into {t!r}")
    return _Field(bits, t, bf), path


def _find_named(t: Type, name: str, depth: int = 0) -> tuple[int, Type, int] | None:
    """Find member ``name`` in composite ``t`` (descending into anonymous members)."""
    if depth > _MAX_DEPTH or not isinstance(t, Struct | Union):
        return None
    for m in t.members:
        if m.name == name:
            return m.bit_offset, m.type, m.bitfield_size
    for m in t.members:
        if not m.name:
            inner = _find_named(underlying(m.type), name, depth + 1)
            if inner is not None:
                return m.bit_offset + inner[0], inner[1], inner[2]
    return None


def _compatible(local: Type, target: Type, depth: int = 0) -> bool:
    """libbpf's field compatibility: same broad kind, recursing into array elements."""
    a, b = underlying(local), underlying(target)
    if depth > _MAX_DEPTH:
        return False
    if _is_composite(a) or isinstance(a, Fwd):
        return _is_composite(b) or isinstance(b, Fwd)
    if isinstance(a, Int | Enum | Enum64):
        return isinstance(b, Int | Enum | Enum64)
    if isinstance(a, Float):
        return isinstance(b, Float)
    if isinstance(a, Pointer):
        return isinstance(b, Pointer)
    if isinstance(a, Array):
        return isinstance(b, Array) and _compatible(a.type, b.type, depth + 1)
    return type(a) is type(b)


def _walk_target(root: Type, access: tuple[int, ...], path: list[str | int], local_end: Type) -> _Field | None:
    t = underlying(root)
    bits = access[0] * sizeof(t) * 8
    bf = 0
    for step in path:
        if isinstance(step, str):
            found = _find_named(t, step)
            if found is None:
                return None
            off, mtype, bf = found
            bits += off
            t = underlying(mtype)
        else:
            if not isinstance(t, Array):
                return None
            if t.nelems and step >= t.nelems:
                return None
            bits += step * sizeof(t.type) * 8
            bf = 0
            t = underlying(t.type)
    if not _compatible(local_end, t):
        return None
    return _Field(bits, t, bf)


def _field_value(kind: CoreReloKind, f: _Field) -> int:
    if kind == K.FIELD_EXISTS:
        return 1
    if f.bitfield_size == 0:
        size = sizeof(f.type)
        byte_off, bit_sz = f.bit_offset // 8, size * 8
    else:
        size = sizeof(f.type)
        byte_off = f.bit_offset // 8 // size * size
        bit_sz = f.bitfield_size
        while f.bit_offset + bit_sz - byte_off * 8 > size * 8:
            if size >= 8:
                raise ELFError("CO-RE: bitfield does not fit in 8 bytes")
            size *= 2
            byte_off = f.bit_offset // 8 // size * size
    if kind == K.FIELD_BYTE_OFFSET:
        return byte_off
    if kind == K.FIELD_BYTE_SIZE:
        return size
    if kind == K.FIELD_SIGNED:
        t = f.type
        if isinstance(t, Int):
            return int(t.signed)
        return int(isinstance(t, Enum | Enum64) and t.signed)
    if kind == K.FIELD_LSHIFT_U64:
        return 64 - (f.bit_offset + bit_sz - byte_off * 8)
    if kind == K.FIELD_RSHIFT_U64:
        return 64 - bit_sz
    raise ELFError(f"CO-RE: {kind.name} is not a field relocation")


def _candidates(target: BTFSpec, local: Type) -> list[Type]:
    name = getattr(local, "name", "")
    if not name:
        return []
    want = essential_name(name)
    out = []
    for t in target.find_all(want):
        both_composite = isinstance(local, Struct | Union) and isinstance(t, Struct | Union)
        both_enum = isinstance(local, Enum | Enum64) and isinstance(t, Enum | Enum64)
        if both_composite or both_enum or type(t) is type(local):
            out.append(t)
    return out


def _type_matches(a: Type, b: Type, depth: int = 0) -> bool:
    """A simplified ``bpf_core_types_match``: same shape by kind, names and member names."""
    a, b = underlying(a), underlying(b)
    if depth > 8:
        return True
    if isinstance(a, Struct | Union):
        if type(a) is not type(b):
            return False
        assert isinstance(b, Struct | Union)
        names = {m.name: m for m in b.members}
        return all(m.name in names and _type_matches(m.type, names[m.name].type, depth + 1) for m in a.members)
    if isinstance(a, Enum | Enum64):
        if not isinstance(b, Enum | Enum64):
            return False
        return {v.name for v in a.values} <= {v.name for v in b.values}
    if isinstance(a, Int):
        return isinstance(b, Int) and a.size == b.size and a.signed == b.signed
    if isinstance(a, Pointer):
        return isinstance(b, Pointer)
    if isinstance(a, Array):
        return isinstance(b, Array) and _type_matches(a.type, b.type, depth + 1)
    if isinstance(a, FuncProto):
        return isinstance(b, FuncProto) and len(a.params) == len(b.params)
    return type(a) is type(b)


def relocate(relo: CoreRelo, local: BTFSpec, target: BTFSpec) -> CoreResult:
    """Compute the local and target values of ``relo`` (local BTF = the object's)."""
    try:
        return _relocate(relo, local, target)
    except BTFError as e:
        raise ELFError(f"CO-RE relocation at insn {relo.insn_off}: {e}") from e


def _relocate(relo: CoreRelo, local: BTFSpec, target: BTFSpec) -> CoreResult:
    kind = relo.kind
    root = local.type_by_id(relo.type_id)
    access = relo.access_spec
    if kind == K.TYPE_ID_LOCAL:
        return CoreResult(kind, relo.type_id, relo.type_id)
    if kind.is_field:
        lf, path = _walk_local(local, root, access)
        local_val = _field_value(kind, lf)
        results = set()
        tid = 0
        for cand in _candidates(target, underlying(root)):
            tf = _walk_target(cand, access, path, lf.type)
            if tf is not None:
                results.add(_field_value(kind, tf))
                tid = tid or target.type_id(cand)
        return _decide(kind, local_val, results, tid, relo)
    if kind.is_type:
        lt = underlying(root) if kind != K.TYPE_ID_TARGET else root
        local_val = {K.TYPE_EXISTS: 1, K.TYPE_MATCHES: 1, K.TYPE_SIZE: _size_or_zero(root)}.get(kind, relo.type_id)
        results = set()
        tid = 0
        for cand in _candidates(target, underlying(lt)):
            if kind == K.TYPE_MATCHES and not _type_matches(root, cand):
                continue
            value = {K.TYPE_EXISTS: 1, K.TYPE_MATCHES: 1, K.TYPE_SIZE: _size_or_zero(cand)}.get(
                kind, target.type_id(cand)
            )
            results.add(value)
            tid = tid or target.type_id(cand)
        return _decide(kind, local_val, results, tid, relo)
    # enum value kinds
    lt = underlying(root)
    if not isinstance(lt, Enum | Enum64) or not 0 <= access[0] < len(lt.values):
        raise ELFError(f"CO-RE: bad enumerator index {access[0]} for {lt!r}")
    lv = lt.values[access[0]]
    local_val = 1 if kind == K.ENUMVAL_EXISTS else lv.value
    results = set()
    tid = 0
    for cand in _candidates(target, lt):
        assert isinstance(cand, Enum | Enum64)
        for v in cand.values:
            if essential_name(v.name) == essential_name(lv.name):
                results.add(1 if kind == K.ENUMVAL_EXISTS else v.value)
                tid = tid or target.type_id(cand)
    return _decide(kind, local_val, results, tid, relo)


def _size_or_zero(t: Type) -> int:
    try:
        return sizeof(t)
    except BTFError:
        return 0


_EXISTS = (K.FIELD_EXISTS, K.TYPE_EXISTS, K.TYPE_MATCHES, K.ENUMVAL_EXISTS)


def _decide(kind: CoreReloKind, local_val: int, results: set[int], tid: int, relo: CoreRelo) -> CoreResult:
    if len(results) > 1:
        raise ELFError(
            f"CO-RE relocation at insn {relo.insn_off} ({kind.name} {relo.access_str}): "
            f"candidates disagree: {sorted(results)}"
        )
    if not results:
        if kind in _EXISTS:
            return CoreResult(kind, local_val, 0)
        return CoreResult(kind, local_val, 0, poison=True)
    return CoreResult(kind, local_val, results.pop(), target_type_id=tid)


def patch_insn(code: bytearray, index: int, res: CoreResult) -> None:
    """Write ``res.target`` into instruction slot ``index`` of ``code`` (libbpf rules).

    LDX/ST/STX take the value in ``off`` (and a BYTE_SIZE change rewrites the access
    size), ALU/MOV take ``imm``, ld_imm64 takes the 64-bit immediate.  The instruction
    must hold ``res.local`` (what the compiler emitted).  Poisoned results become a call
    to helper 0xbad2310.
    """
    op, regs, off, imm = struct.unpack_from("<BBhi", code, index * 8)
    cls = op & 7
    if res.poison:
        struct.pack_into("<BBhi", code, index * 8, 0x85, 0, 0, POISON_HELPER_ID)
        return
    if cls in (0x01, 0x02, 0x03):  # LDX, ST, STX
        if res.kind == K.FIELD_BYTE_SIZE:
            sizes = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}
            if res.target not in sizes:
                raise ELFError(f"CO-RE: unsupported access size {res.target}")
            struct.pack_into("<B", code, index * 8, (op & ~0x18) | sizes[res.target])
            return
        if off != res.local:
            raise ELFError(f"CO-RE: insn {index} has offset {off}, expected {res.local}")
        if not -(1 << 15) <= res.target < 1 << 15:
            raise ELFError(f"CO-RE: offset {res.target} does not fit insn {index}")
        struct.pack_into("<h", code, index * 8 + 2, res.target)
        return
    if cls in (0x04, 0x07):  # ALU, ALU64
        if imm != res.local & 0xFFFFFFFF and imm != res.local:
            raise ELFError(f"CO-RE: insn {index} has imm {imm}, expected {res.local}")
        struct.pack_into("<i", code, index * 8 + 4, _s32(res.target))
        return
    if op == 0x18:  # ld_imm64
        lo = imm & 0xFFFFFFFF
        hi = struct.unpack_from("<i", code, index * 8 + 12)[0] & 0xFFFFFFFF
        if (hi << 32 | lo) != res.local & 0xFFFFFFFFFFFFFFFF:
            raise ELFError(f"CO-RE: insn {index} has imm64 {hi << 32 | lo}, expected {res.local}")
        struct.pack_into("<I", code, index * 8 + 4, res.target & 0xFFFFFFFF)
        struct.pack_into("<I", code, index * 8 + 12, res.target >> 32 & 0xFFFFFFFF)
        return
    raise ELFError(f"CO-RE: cannot patch instruction {index} (code {op:#04x}, regs {regs:#04x})")


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v
