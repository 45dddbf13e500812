"""Memory access checks: ctx (V12-V14), stack, map values, BTF pointers (V13, V17, T8, DM4).

``check_access`` is ``check_mem_access``: given the base register, the offset and size
of a load or store, it either rejects with the kernel's errno and wording or returns
the loaded value (for loads).  Stack contents are tracked per 8-byte slot (a spilled
register or a mask of initialised bytes); BTF reads walk the struct's members and a
pointer member read whole yields a new ``PTR_TO_BTF_ID``.
"""

from __future__ import annotations

import contextlib
import errno
from dataclasses import replace
from typing import TYPE_CHECKING

from structops import btf as btflib
from structops.verifier.access import note_access
from structops.verifier.ctx import prog_ctx_access
from structops.verifier.env import Reject
from structops.verifier.locks import check_lock_field
from structops.verifier.sockets import sock_access
from structops.verifier.state import MAX_BPF_STACK, NOT_INIT, Frame, Reg, RegType, State, const, unknown
from structops.verifier.trust import walked

if TYPE_CHECKING:
    from structops.verifier.core import Verifier

__all__ = ["RDONLY_MEM", "check_access", "check_helper_mem", "constant_key_hits", "sized_unknown", "struct_embeds"]

#: Map flag that makes a map read-only for programs (``BPF_F_RDONLY_PROG``).
BPF_F_RDONLY_PROG = 1 << 7
#: ``obj`` of a ``PTR_TO_MEM`` register that is ``MEM_RDONLY`` (e.g. ``bpf_iter_num_next``'s int).
RDONLY_MEM = "rdonly"
#: Variable offsets beyond this are "unbounded" (``BPF_MAX_VAR_OFF``).
MAX_VAR_OFF = 1 << 29
#: The largest offset into a packet (``MAX_PACKET_OFF``).
MAX_PACKET_OFF = 0xFFFF


def sized_unknown(size: int, signed: bool = False) -> Reg:
    """An unknown scalar as loaded by a ``size``-byte zero- (or sign-) extending load."""
    if signed or size >= 8:
        return unknown()
    return unknown(0, (1 << (8 * size)) - 1)


def _eacces(msg: str) -> Reject:
    return Reject(errno.EACCES, msg)


def struct_embeds(actual: btflib.Type | None, wanted: btflib.Type | None) -> bool:
    """``btf_struct_ids_match`` (non-strict): ``actual`` is ``wanted`` or starts with it at offset 0."""
    cur = btflib.underlying(actual) if actual is not None else None
    want = btflib.underlying(wanted) if wanted is not None else None
    for _ in range(16):
        if cur is None or want is None:
            return False
        if cur is want or (
            isinstance(cur, btflib.Struct) and isinstance(want, btflib.Struct) and cur.name == want.name and cur.name
        ):
            return True
        if not isinstance(cur, btflib.Struct) or not cur.members or cur.members[0].bit_offset:
            return False
        cur = btflib.underlying(cur.members[0].type)
    return False


def check_access(
    v: Verifier, st: State, regno: int, off: int, size: int, *, write: bool, value: Reg | None, signed: bool = False
) -> Reg | None:
    """``check_mem_access`` for ``[R<regno> + off]`` of ``size`` bytes; returns the loaded value."""
    reg = st.cur.regs[regno]
    t = reg.type
    if t == RegType.NOT_INIT:
        raise _eacces(f"R{regno} !read_ok")
    if t == RegType.PTR_TO_CTX:
        if v.env.prog_ops is not None:  # a program type other than struct_ops
            return prog_ctx_access(v.env.prog_ops, regno, reg, off, size, write, v.new_id)
        return _ctx_access(v, st, regno, reg, off, size, write)
    if t == RegType.PTR_TO_STACK:
        frame = _stack_frame(st, regno, reg)
        if reg.var_off:
            if reg.vmax >= MAX_VAR_OFF or reg.vmin <= -MAX_VAR_OFF:
                kind = "write to" if write else "read from"
                raise _eacces(f"invalid unbounded variable-offset {kind} stack R{regno}")
            lo, hi = reg.off + reg.vmin + off, reg.off + reg.vmax + off
            _stack_bounds(regno, lo, hi, size, write, frame, st.priv)
            if write:
                for o in range(lo, hi + size):
                    _mark_byte(frame, o)
                return None
            for o in range(lo, hi + 1):
                _stack_read(frame, regno, o, size, signed, st.priv)
            return sized_unknown(size, signed)
        o = reg.off + off
        if o % size:  # check_ptr_alignment: stack accesses are always strictly aligned
            raise _eacces(f"misaligned stack access off 0+{reg.off}+{off} size {size}")
        _stack_bounds(regno, o, o, size, write, frame, st.priv)
        if write:
            stack_write(frame, o, size, value, st.priv)
            return None
        return _stack_read(frame, regno, o, size, signed, st.priv)
    if t == RegType.PTR_TO_MAP_VALUE:
        if reg.maybe_null:
            raise _eacces(f"R{regno} invalid mem access '{reg.type_str()}'")
        m = reg.obj
        vsize = int(getattr(m, "value_size", 0))
        lo = map_value_region_check(regno, reg, off, size, vsize)
        from structops.verifier.kptr import map_kptr_access

        kptr = map_kptr_access(v, m, reg, lo, size, write=write)
        if kptr is not None:
            return kptr
        check_lock_field(m, lo, reg.vmax + reg.off + off + size)
        toff = getattr(m, "timer_off", None)
        if toff is not None and lo < toff + 16 and toff < reg.vmax + reg.off + off + size:
            raise _eacces("bpf_timer cannot be accessed directly by load/store")
        if write and int(getattr(m, "map_flags", 0)) & BPF_F_RDONLY_PROG:
            raise _eacces(f"write into map forbidden, value_size={vsize} off={lo} size={size}")
        if not write and not reg.var_off:
            known = _rdonly_map_read(m, lo, size, signed)
            if known is not None:
                return known
        return None if write else sized_unknown(size, signed)
    if t == RegType.PTR_TO_BTF_ID:
        from structops.verifier.graph import alloc_access, is_alloc

        if is_alloc(v, reg):  # an object of bpf_obj_new (MEM_ALLOC)
            return alloc_access(regno, reg, off, size, write)
        return _btf_access(v, regno, reg, off, size, write, signed)
    if t in (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META):
        _packet_access(regno, reg, off, size)
        return None if write else sized_unknown(size, signed)
    if t == RegType.PTR_TO_MEM and not reg.maybe_null:
        if write and reg.obj == RDONLY_MEM:
            raise _eacces(f"R{regno} cannot write into rdonly_mem")
        return None if write else sized_unknown(size, signed)
    if t == RegType.PTR_TO_SOCKET and not reg.maybe_null:
        return sock_access(regno, reg, off, size, write)
    raise _eacces(f"R{regno} invalid mem access '{reg.type_str()}'")


def _rdonly_map_read(m: object, off: int, size: int, signed: bool) -> Reg | None:
    """``bpf_map_direct_read``: a load at a constant offset of a frozen ``BPF_F_RDONLY_PROG``
    array (``.rodata``, e.g. scx's ``const volatile`` settings) is the value stored there."""
    if not int(getattr(m, "map_flags", 0)) & BPF_F_RDONLY_PROG or not getattr(m, "frozen", False):
        return None
    if int(getattr(m, "map_type", -1)) != 2 or size not in (1, 2, 4, 8):
        return None
    try:
        raw = m.lookup(b"\0\0\0\0")[off : off + size]  # type: ignore[attr-defined]
    except Exception:
        return None
    if len(raw) != size:
        return None
    val = int.from_bytes(raw, "little", signed=signed)
    return const(val)


def map_value_region_check(regno: int, reg: Reg, off: int, size: int, vsize: int) -> int:
    """``check_mem_region_access`` on a map value: the lowest then the highest offset the
    variable part allows, each reported with the kernel's two lines (issue 12 item 3:
    ``off=24 size=8`` and "R0 max value is outside of the allowed memory range" for
    ``v[acked & 3] = 1`` on an 8-byte value).  Returns the lowest offset."""
    fixed = reg.off + off
    if reg.vmin < 0 and (reg.vmin <= -MAX_VAR_OFF or reg.vmin + fixed < 0):
        raise _eacces(f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.")
    lo = reg.vmin + fixed
    if lo < 0 or lo + size > vsize:
        raise _eacces(
            f"invalid access to map value, value_size={vsize} off={lo} size={size}\n"
            f"R{regno} min value is outside of the allowed memory range"
        )
    if reg.vmax >= MAX_VAR_OFF:
        raise _eacces(f"R{regno} unbounded memory access, make sure to bounds check any such access")
    hi = reg.vmax + fixed
    if hi + size > vsize:
        raise _eacces(
            f"invalid access to map value, value_size={vsize} off={hi} size={size}\n"
            f"R{regno} max value is outside of the allowed memory range"
        )
    return lo


def _packet_access(regno: int, reg: Reg, off: int, size: int) -> None:
    """``check_packet_access``: the bytes must lie inside the range a ``data_end`` check proved
    (``reg.rng``; 0 until one does, so an unchecked access is refused as on Linux 6.18)."""
    if reg.vmin < 0:
        raise _eacces(f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.")
    total = reg.off + off  # a variable part comes before the proven range: only the fixed offset
    if total < 0 or total + size > reg.rng:
        raise _eacces(
            f"invalid access to packet, off={total} size={size}, R{regno}(id={reg.id},off={reg.off},r={reg.rng})\n"
            f"R{regno} offset is outside of the packet"
        )


_PKT_TYPES = (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META)
#: ``try_match_pkt_pointers``: for ``pkt' OP pkt_end`` (pointer on the left) the branch that
#: proves the bytes below ``pkt'`` are in the packet (True: taken, False: fall-through) and
#: whether the bound is right-open (``<``); with the operands swapped the sides swap too.
_PKT_CMP = {0x20: (False, False), 0xA0: (True, True), 0x30: (False, True), 0xB0: (True, False)}


def packet_compare(op: int, dst: Reg, src: Reg) -> tuple[bool, Reg, bool] | None:
    """For a 64-bit ``dst OP src`` comparing a packet pointer with its end (``pkt`` vs
    ``pkt_end``, or ``pkt_meta`` vs ``pkt``): (which branch gains a range, the pointer, whether
    the bound is right-open); None when the jump proves nothing about the packet."""
    swapped = False
    if dst.type in _PKT_TYPES and src.type == _packet_end_of(dst.type):
        ptr = dst
    elif src.type in _PKT_TYPES and dst.type == _packet_end_of(src.type):
        ptr, swapped = src, True
    else:
        return None
    if op not in _PKT_CMP:
        return None
    taken, open_ = _PKT_CMP[op]
    if swapped:  # pkt_end > pkt' is pkt' < pkt_end
        taken, open_ = _PKT_CMP[{0x20: 0xA0, 0xA0: 0x20, 0x30: 0xB0, 0xB0: 0x30}[op]]
    return taken, ptr, open_


def _packet_end_of(t: RegType) -> RegType:
    return RegType.PTR_TO_PACKET_END if t == RegType.PTR_TO_PACKET else RegType.PTR_TO_PACKET


def mark_packet_range(st: State, ptr: Reg, right_open: bool) -> None:
    """``find_good_pkt_pointers``: every pointer of ``ptr``'s kind and id (the fixed-offset ones,
    or the copies of one variable offset) now has ``ptr.off`` (right-open: one more) bytes
    proven inside the packet past its variable part."""
    if ptr.off < 0 or (ptr.off == 0 and right_open) or ptr.vmax + ptr.off > MAX_PACKET_OFF:
        return
    new_range = ptr.off + 1 if right_open else ptr.off

    def widen(r: Reg) -> Reg:  # the same id: the same base (a variable offset gets its own id)
        same = r.id == ptr.id and (ptr.var_off or not r.var_off)
        if r.type == ptr.type and same and r.rng < new_range:
            return replace(r, rng=new_range)
        return r

    st.map_regs(widen)


# -- ctx (V12-V14) ------------------------------------------------------------------------


def _ctx_access(v: Verifier, st: State, regno: int, reg: Reg, off: int, size: int, write: bool) -> Reg:
    """``btf_ctx_access`` for a struct_ops program (read-only array of u64 args)."""
    if reg.off or reg.var_off:
        raise _eacces(f"dereference of modified ctx ptr R{regno} off={reg.off} disallowed")
    if write:
        raise _eacces(f"invalid bpf_context access off={off} size={size}")
    if off < 0 or off % 8 or off % size or off >= 8 * 12:
        raise _eacces(f"invalid bpf_context access off={off} size={size}")
    env = v.env
    arg = off // 8
    if arg >= len(env.params):
        raise _eacces(
            f"func '{env.member_name}' doesn't have {arg + 1}-th argument\n"
            f"invalid bpf_context access off={off} size={size}"
        )
    param = env.params[arg]
    t = btflib.underlying(param.type)
    if not isinstance(t, btflib.Pointer):
        try:
            psize = btflib.sizeof(t)
        except Exception:
            psize = 8
        return sized_unknown(min(size, psize))
    if size != 8:
        raise _eacces(f"invalid bpf_context access off={off} size={size}")
    target = btflib.underlying(t.target)
    if not isinstance(target, btflib.Struct):
        return unknown()
    info = next((a for a in env.ctx_args if a.offset == off), None)
    nullable = param.name.endswith("__nullable") and len(param.name) > len("__nullable")
    ref_id = 0
    if info is not None:
        try:
            looked = env.spec.type_by_id(info.btf_id)
        except Exception:
            looked = target
        if isinstance(btflib.underlying(looked), btflib.Struct):
            target = btflib.underlying(looked)
        nullable = bool(info.nullable)
        if info.refcounted:
            ref_id = v.ctx_ref_ids.get(off, 0)
            if not ref_id or ref_id not in st.refs:
                raise _eacces(f"invalid bpf_context access off={off}. Reference may already be released")
    try:
        tid = env.spec.type_id(target)
    except Exception:
        tid = 0
    assert isinstance(target, btflib.Struct)
    v.log.add(f"func '{env.member_name}' arg{arg} has btf_id {tid} type STRUCT '{target.name}'")
    promoted = env.promote.get(target.name)
    if promoted and not nullable:
        with contextlib.suppress(KeyError):
            target = env.spec.find(promoted, btflib.Struct)
    return Reg(
        RegType.PTR_TO_BTF_ID,
        0,
        0,
        obj=target,
        maybe_null=nullable,
        trusted=not ref_id,
        ref_obj_id=ref_id,
        id=v.new_id() if nullable else 0,
    )


# -- stack ----------------------------------------------------------------------------------


def _stack_frame(st: State, regno: int, reg: Reg) -> Frame:
    frameno = int(reg.obj or 0)
    if frameno >= len(st.frames):
        raise _eacces(f"R{regno} invalid stack pointer to a returned frame")
    return st.frames[frameno]


def allocated_stack(frame: Frame) -> int:
    """``state->allocated_stack``: bytes of the frame's stack touched so far (8-byte slots)."""
    return 8 * (max(frame.stack) + 1) if frame.stack else 0


def _stack_bounds(regno: int, lo: int, hi: int, size: int, write: bool, frame: Frame, priv: bool) -> None:
    """``check_stack_access_within_bounds``: EACCES when the lowest byte is outside the stack
    (below ``allocated_stack`` for a read without ``allow_uninit_stack``, as Linux 6.18),
    EINVAL when the access runs past the frame pointer."""
    kind = "write to" if write else "read from"
    min_valid = -MAX_BPF_STACK if write or priv else -allocated_stack(frame)
    if lo < min_valid or lo > -1 or size <= 0:
        raise _eacces(f"invalid {kind} stack R{regno} off={lo} size={size}")
    if hi + size > 0:
        raise Reject(errno.EINVAL, f"invalid {kind} stack R{regno} off={lo} size={size}")


def _slot_of(o: int) -> tuple[int, int]:
    """(slot index, byte in slot) of frame offset ``o`` (negative)."""
    slot = (-o - 1) // 8
    return slot, o + 8 * (slot + 1)


def _mark_byte(frame: Frame, o: int, zero: bool = False) -> None:
    """Byte ``o`` is initialised (bit b of the slot mask); bit 8+b: it is known zero (STACK_ZERO)."""
    slot, b = _slot_of(o)
    cur = frame.stack.get(slot, 0)
    mask = 0xFF if isinstance(cur, Reg) else cur
    mask |= 1 << b
    frame.stack[slot] = mask | (1 << (8 + b)) if zero else mask & ~(1 << (8 + b))


def stack_write(frame: Frame, o: int, size: int, value: Reg | None, priv: bool = True) -> None:
    """Store ``size`` bytes at frame offset ``o``: a whole aligned 8-byte store spills ``value``;
    a partial store of a known zero leaves zero bytes (a constant map key, issue 12 item 3).

    Without privileges (``priv`` false: no CAP_BPF/CAP_PERFMON) Linux spills only pointers,
    a scalar store leaves initialised bytes, and a partial store over a spilled pointer is
    "attempt to corrupt spilled pointer on stack"."""
    cur = frame.stack.get(_slot_of(o)[0])
    if not priv and isinstance(cur, Reg) and cur.type != RegType.SCALAR and (size != 8 or o % 8):
        raise _eacces("attempt to corrupt spilled pointer on stack")
    spill = value is not None and value.type != RegType.NOT_INIT and (priv or value.type != RegType.SCALAR)
    if size == 8 and o % 8 == 0 and spill:
        assert value is not None
        frame.stack[_slot_of(o)[0]] = value
        return
    if spill and priv and o % 8 == 0 and value is not None and value.type == RegType.SCALAR:
        # a narrow scalar spill (32-bit counters spilled with a 4-byte store) keeps its value
        # when it fits in the stored bytes; the rest of the slot becomes initialised misc
        kept = value if value.umax < 1 << (8 * size) else sized_unknown(size)
        frame.stack[_slot_of(o)[0]] = replace(kept, spill=size)
        return
    zero = value is not None and value.is_const and value.umin == 0
    for x in range(o, o + size):
        _mark_byte(frame, x, zero)


#: Map types whose lookup with a constant in-range key cannot fail (``can_elide_value_nullness``).
_ELIDE_NULL_MAP_TYPES = (2, 6)  # BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY
_BPF_F_INNER_MAP = 1 << 12


def constant_key_hits(st: State, regno: int, m: object) -> bool:
    """``get_constant_map_key`` + ``can_elide_value_nullness``: R<regno> points to a key that is
    a known constant (zero bytes, or a spilled constant scalar of the key's size) below the
    array map's ``max_entries``, so ``bpf_map_lookup_elem`` returns a non-NULL value."""
    if int(getattr(m, "map_type", -1)) not in _ELIDE_NULL_MAP_TYPES:
        return False
    if int(getattr(m, "map_flags", 0)) & _BPF_F_INNER_MAP:  # its size may differ at run time
        return False
    reg = st.cur.regs[regno]
    key_size = int(getattr(m, "key_size", 0))
    if reg.type != RegType.PTR_TO_STACK or reg.var_off or not 0 < key_size <= 8:
        return False
    frame = _stack_frame(st, regno, reg)
    o = reg.off
    slot, b = _slot_of(o)
    if b + key_size > 8:
        return False
    cur = frame.stack.get(slot)
    key: int | None = None
    if isinstance(cur, int):
        zeros = (cur >> 8) & 0xFF
        if all(zeros >> (b + i) & 1 for i in range(key_size)):
            key = 0
    elif isinstance(cur, Reg) and cur.is_const and b == 0 and key_size == cur.spill:
        key = cur.umin
    return key is not None and key < int(getattr(m, "max_entries", 0))


def constant_key_slot(st: State, regno: int, m: object) -> tuple[int, int] | None:
    """``get_constant_map_key``'s precision need: ``(frame, slot)`` of the spilled constant
    scalar R<regno> points to as the key of an array map lookup, else None."""
    if int(getattr(m, "map_type", -1)) not in _ELIDE_NULL_MAP_TYPES:
        return None
    reg = st.cur.regs[regno]
    if reg.type != RegType.PTR_TO_STACK or reg.var_off or int(reg.obj or 0) >= len(st.frames):
        return None
    slot, b = _slot_of(reg.off)
    frameno = int(reg.obj or 0)
    cur = st.frames[frameno].stack.get(slot)
    if b or not isinstance(cur, Reg) or cur.type != RegType.SCALAR or not cur.is_const:
        return None
    return frameno, slot


def _stack_read(frame: Frame, regno: int, o: int, size: int, signed: bool, priv: bool = False) -> Reg:
    slot, b = _slot_of(o)
    cur = frame.stack.get(slot)
    if isinstance(cur, Reg) and cur.type == RegType.ITER:  # STACK_ITER bytes are not readable
        raise _eacces(f"invalid read from stack off {o}+0 size {size}")
    if isinstance(cur, Reg) and o % 8 == 0 and size == 8 and cur.spill == 8:
        return cur
    if isinstance(cur, Reg) and cur.spill < 8 and cur.type == RegType.SCALAR:
        if b == 0 and size == cur.spill:  # fill of a narrow spill: the spilled scalar
            return replace(cur, spill=8)
        if b == 0 and size < cur.spill and cur.is_const and not signed:
            return const(cur.umin & ((1 << (8 * size)) - 1))
        return sized_unknown(size, signed)
    if isinstance(cur, Reg) and b + size <= 8:
        if cur.type != RegType.SCALAR:
            raise _eacces("invalid size of register fill")
        if cur.is_const and not signed:
            return const((cur.umin >> (8 * b)) & ((1 << (8 * size)) - 1))
        return sized_unknown(size, signed)
    for x in range(o, o + size):
        s, bb = _slot_of(x)
        c = frame.stack.get(s)
        if c is None or (isinstance(c, int) and not c & (1 << bb)):
            if priv:  # allow_uninit_stack: the bytes read as an unknown scalar
                continue
            raise _eacces(f"invalid read from stack off {o}+{x - o} size {size}")
        if isinstance(c, Reg) and c.type != RegType.SCALAR:
            raise _eacces("invalid size of register fill")
    return sized_unknown(size, signed)


def check_helper_mem(st: State, regno: int, size: int, *, write: bool, what: str) -> None:
    """``check_helper_mem_access``: R<regno> points to ``size`` readable (or writable) bytes."""
    reg = st.cur.regs[regno]
    if reg.type == RegType.NOT_INIT:
        raise _eacces(f"R{regno} !read_ok")
    if reg.type == RegType.PTR_TO_STACK:
        frame = _stack_frame(st, regno, reg)
        if reg.var_off:
            raise _eacces(f"R{regno} variable offset stack access prohibited for {what}")
        o = reg.off
        _stack_bounds(regno, o, o, size, write, frame, st.priv)
        if write:
            for x in range(o, o + size):
                _mark_byte(frame, x)
            return
        for x in range(o, o + size):
            s, bb = _slot_of(x)
            c = frame.stack.get(s)
            if (c is None or (isinstance(c, int) and not c & (1 << bb))) and not st.priv:
                raise _eacces(f"invalid read from stack R{regno} off {o}+{x - o} size {size}")
            if isinstance(c, Reg) and c.type == RegType.ITER:
                raise _eacces(f"invalid read from stack R{regno} off {o}+{x - o} size {size}")
        return
    if reg.type == RegType.PTR_TO_MAP_VALUE and not reg.maybe_null:
        lo = map_value_region_check(regno, reg, 0, size, int(getattr(reg.obj, "value_size", 0)))
        check_lock_field(reg.obj, lo, reg.vmax + reg.off + size)  # check_map_access(ACCESS_HELPER)
        return
    if reg.type == RegType.PTR_TO_MEM and not reg.maybe_null:
        return
    if reg.type in _PKT_TYPES:  # check_packet_access(ACCESS_HELPER): inside the proven range
        _packet_access(regno, reg, 0, size)
        return
    raise _eacces(f"R{regno} type={reg.type_str()} expected={MEM_EXPECTED}")


#: The register types an ``ARG_PTR_TO_MEM``-like argument (map key or value, helper memory)
#: accepts, as Linux 6.18 lists them when refusing another.
MEM_EXPECTED = "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"


# -- BTF pointers (V13, V17) -------------------------------------------------------------------


def _btf_access(v: Verifier, regno: int, reg: Reg, off: int, size: int, write: bool, signed: bool) -> Reg | None:
    tstr = reg.type_str()
    if reg.maybe_null:
        raise _eacces(f"R{regno} invalid mem access '{tstr}'")
    if reg.var_off:
        raise _eacces(f"R{regno} is ptr_{getattr(reg.obj, 'name', '')} invalid variable offset: off={reg.off + off}")
    total = reg.off + off
    st_t = reg.obj
    name = getattr(st_t, "name", "")
    if total < 0:
        raise _eacces(f"R{regno} is ptr_{name} invalid negative access: off={total}")
    if write:
        check = v.env.write_check
        if check is None:
            raise _eacces("only read is supported")
        err = check(name, total, size)
        if err:
            raise Reject(-err if err < 0 else err, v.write_denied(name, total, size))
        note_access(v.env.access, st_t, total, size, True)
        return None
    ssize = getattr(st_t, "size", 0)
    if total + size > ssize:
        raise _eacces(f"access beyond struct {name} at off {total} size {size}")
    note_access(v.env.access, st_t, total, size, False)
    member = _member_at(st_t, total, size)
    if member is not None and size == 8:
        mt = btflib.underlying(member.type)
        if isinstance(mt, btflib.Pointer):
            target = btflib.underlying(mt.target)
            if isinstance(target, btflib.Struct):
                ptr = replace(NOT_INIT, type=RegType.PTR_TO_BTF_ID, obj=target, umin=0, umax=0)
                return walked(reg, name, member.name or "", ptr)
    return sized_unknown(size, signed)


def _member_at(t: btflib.Type, off: int, size: int, depth: int = 0) -> btflib.Member | None:
    """The innermost member starting exactly at ``off`` whose type is a pointer, if any."""
    u = btflib.underlying(t)
    if depth > 16 or not isinstance(u, btflib.Struct | btflib.Union):
        return None
    for m in u.members:
        if m.bitfield_size or m.bit_offset % 8:
            continue
        moff = m.bit_offset // 8
        mt = btflib.underlying(m.type)
        if isinstance(mt, btflib.Pointer) and moff == off:
            return m
        if isinstance(mt, btflib.Struct | btflib.Union):
            try:
                msize = btflib.sizeof(mt)
            except Exception:
                continue
            if moff <= off < moff + msize:
                inner = _member_at(mt, off - moff, size, depth + 1)
                if inner is not None:
                    return inner
    return None
