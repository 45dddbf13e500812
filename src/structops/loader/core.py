"""CO-RE: compute the value a ``bpf_core_relo`` record asks for, against a target BTF.

Semantics follow libbpf's ``relo_core.c`` (and kernel ``Documentation/bpf/llvm_reloc.rst``
section "CO-RE Relocations"), implemented here from those rules:

* the *local spec* is the record's root type (local BTF) plus its access string:
  ``"0:3:1"`` = element 0 of the root, member #3, then member #1 (array steps index
  elements); type relocations use ``"0"``, enum relocations the enumerator index.
  Anonymous members on the local path are walked for the offset but are not looked
  up by name in the target (``sk->__sk_common.skc_dport`` goes through two of them);
* *candidates* are target types of the same BTF kind (``enum``/``enum64`` count as
  one) whose essential name (``___flavour`` dropped, on both sides) equals the local
  one; a local type without a name has no candidates and is an error;
* a field candidate matches when each named member on the path is found by exact
  name in the target (searching anonymous members in member order, depth first) and
  every found member is field-compatible (composite/composite, same kind otherwise,
  enum names, integers that are not "offset" integers, arrays by element);
* all matching candidates must agree on the field's bit offset and on the result,
  else the relocation is ambiguous (an error);
* with no match, ``FIELD_EXISTS``/``ENUMVAL_EXISTS`` give 0, type-based kinds give 0
  (``TYPE_SIZE``/``TYPE_ID_TARGET`` included), and only the remaining field kinds and
  ``ENUMVAL_VALUE`` are *poisoned*: the instruction becomes a call to helper
  ``0xbad2310`` (both slots of an ``ld_imm64``), which the verifier reports as
  ``invalid func unknown#195896080`` if the instruction is reachable;
* bitfield results are not checked against the value the compiler wrote (clang picks
  its own access unit), except ``FIELD_SIGNED`` and ``FIELD_RSHIFT_U64``;
* a ``FIELD_BYTE_OFFSET`` on a load/store whose field changed size adjusts the access
  size when that is safe (pointers, unsigned integers) and poisons it otherwise.

:func:`relocate` returns a :class:`CoreResult`; :func:`patch_insn` applies it to an
instruction the way ``bpf_core_patch_insn`` does.  Errors are :class:`CoreError` and
name the program, the relocation, the instruction, the kind and the access path.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from structops.btf.layout import sizeof, underlying
from structops.btf.parse import Spec as BTFSpec
from structops.btf.types import Array, Enum, Enum64, Int, IntEncoding, Member, Pointer, Struct, Type, Union
from structops.errors import BTFError, ELFError
from structops.loader._core_match import candidates, fields_compatible, types_compatible, types_match
from structops.loader.btf_ext import CoreRelo, CoreReloKind
from structops.loader.spec import essential_name

__all__ = ["POISON_HELPER_ID", "CoreError", "CoreResult", "access_path", "apply_core", "patch_insn", "relocate"]

K = CoreReloKind
#: libbpf's marker for poisoned instructions (a call to this "helper" id, ``0xbad2310``).
POISON_HELPER_ID: Final = 0xBAD2310
#: libbpf's BPF_CORE_SPEC_MAX_LEN: longest access path.
MAX_SPEC_LEN: Final = 64

#: libbpf's short names of the relocation kinds (as its log prints them).
KIND_NAMES: Final = {
    K.FIELD_BYTE_OFFSET: "byte_off",
    K.FIELD_BYTE_SIZE: "byte_sz",
    K.FIELD_EXISTS: "field_exists",
    K.FIELD_SIGNED: "signed",
    K.FIELD_LSHIFT_U64: "lshift_u64",
    K.FIELD_RSHIFT_U64: "rshift_u64",
    K.TYPE_ID_LOCAL: "local_type_id",
    K.TYPE_ID_TARGET: "target_type_id",
    K.TYPE_EXISTS: "type_exists",
    K.TYPE_SIZE: "type_size",
    K.ENUMVAL_EXISTS: "enumval_exists",
    K.ENUMVAL_VALUE: "enumval_value",
    K.TYPE_MATCHES: "type_matches",
}


class CoreError(ELFError):
    """A CO-RE relocation that cannot be applied (libbpf fails the load with -EINVAL/-ERANGE)."""


@dataclass(frozen=True, slots=True)
class CoreResult:
    """Local (as compiled) and target values of one relocation; ``poison`` if unresolvable."""

    kind: CoreReloKind
    local: int
    target: int
    poison: bool = False
    #: Target type id the relocation matched (0 if none).
    target_type_id: int = 0
    #: Whether the instruction must hold ``local`` (false for most bitfield kinds).
    validate: bool = True
    #: Field sizes for a FIELD_BYTE_OFFSET on a non-bitfield (load/store size adjustment).
    local_size: int = 0
    target_size: int = 0
    #: The size changed in a way a load/store cannot follow (the instruction is poisoned).
    fail_memsz_adjust: bool = False
    #: Human access path (``tcp_sock.is_cwnd_limited``).
    path: str = ""


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    """Where an access path ends (libbpf ``bpf_core_spec`` of a field relocation)."""

    bit_offset: int
    #: The last accessor: a member (its composite and index) or an array element type.
    parent: Struct | Union | None
    index: int
    elem_type: Type | None


@dataclass(frozen=True, slots=True)
class _Acc:
    """One local accessor: a named member (``name``) or an array index (``name`` None)."""

    name: str | None
    index: int
    member_type: Type | None


@dataclass(slots=True)
class _Ctx:
    prog: str
    number: int
    relo: CoreRelo
    path: str = ""

    def error(self, problem: str) -> CoreError:
        where = f"prog '{self.prog}': " if self.prog else ""
        path = self.path or self.relo.access_str
        return CoreError(
            f"{where}CO-RE relocation #{self.number} at insn {self.relo.insn_off} "
            f"({KIND_NAMES.get(self.relo.kind, str(self.relo.kind))} {path}): {problem}"
        )


def _name(t: Type) -> str:
    return str(getattr(t, "name", "") or "")


def access_path(relo: CoreRelo, local: BTFSpec) -> str:
    """The relocation's access as C-like text: ``tcp_sock.is_cwnd_limited``, ``arr[2]``."""
    try:
        root = local.type_by_id(relo.type_id)
        spec = relo.access_spec
    except (BTFError, ELFError):
        return relo.access_str
    name = _name(root) or _name(underlying(root)) or f"[{relo.type_id}]"
    if relo.kind.is_enumval:
        t = underlying(root)
        if isinstance(t, Enum | Enum64) and 0 <= spec[0] < len(t.values):
            return f"{name}::{t.values[spec[0]].name}"
        return name
    if not relo.kind.is_field:
        return name
    out = name + (f"[{spec[0]}]" if spec[0] else "")
    t = underlying(root)
    for idx in spec[1:]:
        if isinstance(t, Struct | Union) and 0 <= idx < len(t.members):
            m = t.members[idx]
            if m.name:
                out += "." + m.name
            t = underlying(m.type)
        elif isinstance(t, Array):
            out += f"[{idx}]"
            t = underlying(t.type)
        else:
            break
    return out


def relocate(
    relo: CoreRelo,
    local: BTFSpec,
    target: BTFSpec,
    *,
    prog: str = "",
    number: int = 0,
    modules: Sequence[BTFSpec] = (),
) -> CoreResult:
    """Compute the local and target values of ``relo`` (local BTF = the object's).

    ``prog`` and ``number`` (the relocation's index in the program) only name the
    relocation in errors.  ``modules`` are split BTFs searched, in order, when ``target``
    (vmlinux) has no candidate, as libbpf does; only a module's own types count.
    """
    ctx = _Ctx(prog, number, relo)
    ctx.path = access_path(relo, local)
    try:
        res = _relocate(ctx, local, target, modules)
    except (BTFError, RecursionError) as e:
        raise ctx.error(str(e) or "type nesting too deep") from e
    return res


def _parse_local(ctx: _Ctx, local: BTFSpec) -> tuple[Type, list[_Acc], int, Type]:
    """libbpf ``bpf_core_parse_spec`` for a field relocation: root, accessors, bit offset, end type."""
    root = local.type_by_id(ctx.relo.type_id)
    access = ctx.relo.access_spec
    if len(access) > MAX_SPEC_LEN:
        raise ctx.error(f"access string has {len(access)} steps (limit {MAX_SPEC_LEN})")
    t = underlying(root)
    bits = access[0] * sizeof(t) * 8
    accs = [_Acc(None, access[0], t)]
    for idx in access[1:]:
        if isinstance(t, Struct | Union):
            if not 0 <= idx < len(t.members):
                raise ctx.error(f"member index {idx} out of range for {_name(t) or 'anonymous type'}")
            m = t.members[idx]
            bits += m.bit_offset
            if m.name:
                accs.append(_Acc(m.name, idx, m.type))
            t = underlying(m.type)
        elif isinstance(t, Array):
            t = underlying(t.type)
            bits += idx * sizeof(t) * 8
            accs.append(_Acc(None, idx, t))
        else:
            raise ctx.error(f"access step {idx} goes into a {type(t).__name__.lower()}, not a struct or array")
    return root, accs, bits, t


def _local_field(ctx: _Ctx, local: BTFSpec) -> tuple[Type, list[_Acc], _FieldSpec]:
    root, accs, bits, _end = _parse_local(ctx, local)
    # Re-walk for the last accessor's parent (the composite holding the final member).
    access = ctx.relo.access_spec
    t = underlying(root)
    parent: Struct | Union | None = None
    pidx = 0
    elem: Type | None = t
    for idx in access[1:]:
        if isinstance(t, Struct | Union):
            m = t.members[idx]
            if m.name:
                parent, pidx, elem = t, idx, None
            t = underlying(m.type)
        elif isinstance(t, Array):
            t = underlying(t.type)
            parent, elem = None, t
    return root, accs, _FieldSpec(bits, parent, pidx, elem)


def _match_member(
    name: str, ltype: Type | None, t: Type, base: int, depth: int
) -> tuple[int, Struct | Union, int, Type] | bool | None:
    """libbpf ``bpf_core_match_member``: (bit offset, parent, index, member type), False, or None."""
    t = underlying(t)
    if not isinstance(t, Struct | Union) or depth > MAX_SPEC_LEN:
        return None
    for i, m in enumerate(t.members):
        if not m.name:
            found = _match_member(name, ltype, m.type, base + m.bit_offset, depth + 1)
            if found is not None:
                return found
        elif m.name == name:
            if ltype is None or not fields_compatible(ltype, m.type):
                return False
            return base + m.bit_offset, t, i, m.type
    return None


def _match_field(root: Type, cand: Type, accs: list[_Acc]) -> _FieldSpec | None:
    """libbpf ``bpf_core_spec_match`` for field relocations: the target spec, or None."""
    t: Type = underlying(cand)
    bits = accs[0].index * sizeof(t) * 8
    parent: Struct | Union | None = None
    pidx = 0
    elem: Type | None = t
    for i, acc in enumerate(accs):
        if acc.name is not None:
            found = _match_member(acc.name, acc.member_type, t, 0, 0)
            if not isinstance(found, tuple):
                return None
            off, parent, pidx, mtype = found
            bits += off
            elem = None
            t = underlying(mtype)
        elif i > 0:
            if not isinstance(t, Array):
                return None
            flexible = t.nelems == 0
            if not flexible and acc.index >= t.nelems:
                return None
            t = underlying(t.type)
            bits += acc.index * sizeof(t) * 8
            parent, elem = None, t
    return _FieldSpec(bits, parent, pidx, elem)


@dataclass(frozen=True, slots=True)
class _FieldValue:
    value: int
    size: int  # memory size for BYTE_OFFSET of a non-bitfield (0 otherwise)
    type: Type | None
    validate: bool


def _field_value(ctx: _Ctx, kind: CoreReloKind, f: _FieldSpec) -> _FieldValue:
    """libbpf ``bpf_core_calc_field_relo`` on one spec (local or target)."""
    if kind == K.FIELD_EXISTS:
        return _FieldValue(1, 0, None, True)
    if f.parent is None:  # array element (or root) access
        assert f.elem_type is not None
        size = sizeof(f.elem_type)
        if kind == K.FIELD_BYTE_OFFSET:
            return _FieldValue(f.bit_offset // 8, size, f.elem_type, True)
        if kind == K.FIELD_BYTE_SIZE:
            return _FieldValue(size, 0, None, True)
        raise ctx.error("this relocation kind cannot be applied to an array element access")
    m: Member = f.parent.members[f.index]
    mt = underlying(m.type)
    bit_off = f.bit_offset
    bit_sz = m.bitfield_size
    bitfield = bit_sz > 0
    if bitfield:
        byte_sz = sizeof(mt)
        byte_off = bit_off // 8 // byte_sz * byte_sz
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8:
            if byte_sz >= 8:
                raise ctx.error(f"bitfield at bit {bit_off} ({bit_sz} bits) cannot be read with a 64-bit load")
            byte_sz *= 2
            byte_off = bit_off // 8 // byte_sz * byte_sz
    else:
        byte_sz = sizeof(mt)
        byte_off = bit_off // 8
        bit_sz = byte_sz * 8
    validate = not bitfield
    if kind == K.FIELD_BYTE_OFFSET:
        return _FieldValue(byte_off, 0 if bitfield else byte_sz, None if bitfield else mt, validate)
    if kind == K.FIELD_BYTE_SIZE:
        return _FieldValue(byte_sz, 0, None, validate)
    if kind == K.FIELD_SIGNED:
        signed = (isinstance(mt, Enum | Enum64) and mt.signed) or (
            isinstance(mt, Int) and bool(mt.encoding & IntEncoding.SIGNED)
        )
        return _FieldValue(int(signed), 0, None, True)
    if kind == K.FIELD_LSHIFT_U64:
        return _FieldValue(64 - (bit_off + bit_sz - byte_off * 8), 0, None, validate)
    if kind == K.FIELD_RSHIFT_U64:
        return _FieldValue(64 - bit_sz, 0, None, True)
    raise ctx.error(f"{kind.name} is not a field relocation")


def _memsz_ok(lt: Type | None, tt: Type | None) -> bool:
    """A load/store may change size when both are pointers or both unsigned integers."""
    if isinstance(lt, Pointer) and isinstance(tt, Pointer):
        return True
    return (
        isinstance(lt, Int)
        and isinstance(tt, Int)
        and not lt.encoding & IntEncoding.SIGNED
        and not tt.encoding & IntEncoding.SIGNED
    )


def _relocate(ctx: _Ctx, local: BTFSpec, target: BTFSpec, modules: Sequence[BTFSpec] = ()) -> CoreResult:
    relo = ctx.relo
    kind = relo.kind
    root = local.type_by_id(relo.type_id)
    access = relo.access_spec
    if kind == K.TYPE_ID_LOCAL:
        return CoreResult(kind, relo.type_id, relo.type_id, path=ctx.path)
    if not _name(root):
        raise ctx.error(f"local type [{relo.type_id}] has no name, so it has no candidates in the target")
    if (kind.is_type or kind.is_enumval) and len(access) != 1:
        raise ctx.error(f"bad access string {relo.access_str!r} for a {KIND_NAMES[kind]} relocation")
    cands = candidates(target, root)
    if not cands:
        for module in modules:
            own = [i for i in candidates(module, root) if i >= module.first_id]
            if own:
                target, cands = module, own
                break
    if kind.is_field:
        return _relocate_field(ctx, root, cands, local, target)
    if kind.is_type:
        if access[0] != 0:
            raise ctx.error(f"bad access string {relo.access_str!r} for a type relocation")
        local_val = {K.TYPE_EXISTS: 1, K.TYPE_MATCHES: 1, K.TYPE_SIZE: _size_or_zero(root)}.get(kind, relo.type_id)
        found: list[tuple[int, int]] = []
        for cid in cands:
            cand = target.type_by_id(cid)
            ok = types_match(root, cand) if kind == K.TYPE_MATCHES else types_compatible(root, cand)
            if ok:
                val = {K.TYPE_EXISTS: 1, K.TYPE_MATCHES: 1, K.TYPE_SIZE: _size_or_zero(cand)}.get(kind, cid)
                found.append((val, cid))
        return _decide(ctx, local_val, [(v, 0, c) for v, c in found], poison_if_none=False)
    # enum value kinds
    lt = underlying(root)
    if not isinstance(lt, Enum | Enum64) or not 0 <= access[0] < len(lt.values):
        raise ctx.error(f"enumerator index {access[0]} is not valid for {_name(root)}")
    lv = lt.values[access[0]]
    local_val = 1 if kind == K.ENUMVAL_EXISTS else lv.value
    want = essential_name(lv.name)
    found = []
    for cid in cands:
        cand = underlying(target.type_by_id(cid))
        if not isinstance(cand, Enum | Enum64):
            continue
        for v in cand.values:
            if essential_name(v.name) == want:
                found.append((1 if kind == K.ENUMVAL_EXISTS else v.value, cid))
                break
    if not found and kind == K.ENUMVAL_EXISTS:
        return CoreResult(kind, local_val, 0, path=ctx.path)
    return _decide(ctx, local_val, [(v, 0, c) for v, c in found], poison_if_none=True)


def _relocate_field(ctx: _Ctx, root: Type, cands: list[int], local: BTFSpec, target: BTFSpec) -> CoreResult:
    kind = ctx.relo.kind
    _root, accs, lspec = _local_field(ctx, local)
    lval = _field_value(ctx, kind, lspec)
    found: list[tuple[int, int, int]] = []
    sizes: dict[int, _FieldValue] = {}
    for cid in cands:
        tspec = _match_field(root, target.type_by_id(cid), accs)
        if tspec is None:
            continue
        tval = _field_value(ctx, kind, tspec)
        found.append((tval.value, tspec.bit_offset, cid))
        sizes.setdefault(tval.value, tval)
    if not found:
        if kind == K.FIELD_EXISTS:
            return CoreResult(kind, 1, 0, path=ctx.path)
        return CoreResult(kind, lval.value, 0, poison=True, validate=lval.validate, path=ctx.path)
    res = _decide(ctx, lval.value, found, poison_if_none=True)
    tval = sizes[res.target]
    fail = False
    if kind == K.FIELD_BYTE_OFFSET and lval.size != tval.size and not _memsz_ok(lval.type, tval.type):
        fail = True
    return CoreResult(
        kind,
        lval.value,
        res.target,
        target_type_id=res.target_type_id,
        validate=lval.validate,
        local_size=lval.size,
        target_size=tval.size,
        fail_memsz_adjust=fail,
        path=ctx.path,
    )


def _size_or_zero(t: Type) -> int:
    try:
        return sizeof(t)
    except BTFError:
        return 0


def _decide(ctx: _Ctx, local_val: int, found: list[tuple[int, int, int]], *, poison_if_none: bool) -> CoreResult:
    """Pick the single result all matching candidates agree on (libbpf's ambiguity rules)."""
    kind = ctx.relo.kind
    if not found:
        return CoreResult(kind, local_val, 0, poison=poison_if_none, path=ctx.path)
    value, bit_off, tid = found[0]
    for v, b, c in found[1:]:
        if b != bit_off:
            raise ctx.error(f"field offset ambiguity: candidates disagree: [{tid}] at bit {bit_off}, [{c}] at bit {b}")
        if v != value:
            raise ctx.error(f"relocation decision ambiguity: candidates disagree: [{tid}] {value} != [{c}] {v}")
    return CoreResult(kind, local_val, value, target_type_id=tid, path=ctx.path)


_SIZE_BITS: Final = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}
_BITS_SIZE: Final = {v: k for k, v in _SIZE_BITS.items()}


def patch_insn(code: bytearray, index: int, res: CoreResult, *, prog: str = "", relo: CoreRelo | None = None) -> None:
    """Write ``res.target`` into instruction slot ``index`` of ``code`` (libbpf rules).

    ALU/ALU64 with an immediate take the value in ``imm``, LDX/ST/STX in ``off`` (with
    the access size adjusted when the field's size changed), ``ld_imm64`` in its 64-bit
    immediate.  Unless ``res.validate`` is off, the instruction must hold ``res.local``.
    A poisoned result becomes a call to helper ``0xbad2310`` (both ``ld_imm64`` slots).
    """
    ctx = _Ctx(prog, 0, relo or CoreRelo(index, 0, 0, res.kind, res.path), res.path)
    if not 0 <= index < len(code) // 8:
        raise ctx.error(f"instruction {index} is outside the program ({len(code) // 8} instructions)")
    op, regs, off, imm = struct.unpack_from("<BBhi", code, index * 8)
    cls = op & 7
    if res.poison:
        _poison(code, index)
        return
    if cls in (0x04, 0x07):  # ALU, ALU64
        if op & 0x08:
            raise ctx.error(f"insn {index} (ALU) uses a register source and cannot take a relocated value")
        if res.validate and imm != res.local and imm & 0xFFFFFFFF != res.local & 0xFFFFFFFF:
            raise ctx.error(f"unexpected insn {index} (ALU) value: got {imm}, expected {res.local}")
        struct.pack_into("<i", code, index * 8 + 4, _s32(res.target))
        return
    if cls in (0x01, 0x02, 0x03):  # LDX, ST, STX
        if res.validate and off != res.local:
            raise ctx.error(f"unexpected insn {index} (LDX/ST/STX) value: got offset {off}, expected {res.local}")
        if res.target > 0x7FFF or res.target < 0:
            raise ctx.error(f"insn {index} (LDX/ST/STX) value too big: {res.target}")
        if res.fail_memsz_adjust:
            _poison(code, index)  # libbpf: "accesses field incorrectly" -> poisoned
            return
        struct.pack_into("<h", code, index * 8 + 2, res.target)
        if res.local_size != res.target_size and res.local_size:
            got = _BITS_SIZE.get(op & 0x18, 0)
            if got != res.local_size:
                raise ctx.error(f"insn {index} (LDX/ST/STX) unexpected mem size: got {got}, expected {res.local_size}")
            if res.target_size not in _SIZE_BITS:
                raise ctx.error(f"insn {index} (LDX/ST/STX) cannot access {res.target_size} bytes")
            struct.pack_into("<B", code, index * 8, (op & ~0x18) | _SIZE_BITS[res.target_size])
        return
    if op == 0x18:  # ld_imm64
        if index + 1 >= len(code) // 8:
            raise ctx.error(f"insn {index} (LDIMM64) is missing its second slot")
        op2, regs2, off2, hi_s = struct.unpack_from("<BBhi", code, index * 8 + 8)
        if regs >> 4 or off or op2 or regs2 or off2:
            raise ctx.error(f"insn {index} (LDIMM64) has unexpected form")
        value = (imm & 0xFFFFFFFF) | (hi_s & 0xFFFFFFFF) << 32
        if res.validate and value != res.local & 0xFFFFFFFFFFFFFFFF:
            raise ctx.error(f"unexpected insn {index} (LDIMM64) value: got {value}, expected {res.local}")
        struct.pack_into("<I", code, index * 8 + 4, res.target & 0xFFFFFFFF)
        struct.pack_into("<I", code, index * 8 + 12, res.target >> 32 & 0xFFFFFFFF)
        return
    raise ctx.error(f"cannot relocate instruction {index} (code {op:#04x}, regs {regs:#04x})")


def apply_core(
    name: str,
    code: bytes,
    relos: Sequence[CoreRelo],
    local: BTFSpec,
    target: BTFSpec,
    modules: Sequence[BTFSpec] = (),
) -> bytes:
    """Program ``name``'s instructions with every CO-RE relocation applied against ``target``."""
    out = bytearray(code)
    for number, relo in enumerate(relos):
        res = relocate(relo, local, target, prog=name, number=number, modules=modules)
        patch_insn(out, relo.insn_off, res, prog=name, relo=relo)
    return bytes(out)


def _poison(code: bytearray, index: int) -> None:
    """libbpf ``bpf_core_poison_insn``: ``call 0xbad2310`` (both slots of an ``ld_imm64``)."""
    is_ld64 = code[index * 8] == 0x18 and index + 1 < len(code) // 8
    struct.pack_into("<BBhi", code, index * 8, 0x85, 0, 0, POISON_HELPER_ID)
    if is_ld64:
        struct.pack_into("<BBhi", code, index * 8 + 8, 0x85, 0, 0, POISON_HELPER_ID)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v
