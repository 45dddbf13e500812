"""Abstract register and stack state of the load-time verifier (``struct bpf_reg_state``).

A :class:`Reg` is one of the kernel's register types (spec §15 V12-V15) with just the
facts this verifier tracks: an unsigned range for scalars (a constant when both ends
meet), a fixed offset plus an optional variable range for pointers, the BTF struct of
``PTR_TO_BTF_ID``, the map of map pointers, and the ``maybe_null`` / ``trusted`` /
``ref_obj_id`` flags.  A :class:`Frame` holds r0-r10 and the stack of one call frame
(per 8-byte slot: a spilled register or a byte mask of initialised bytes); a
:class:`State` is the frame stack plus the acquired references.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "MAX_BPF_STACK",
    "NOT_INIT",
    "U64_MAX",
    "Frame",
    "Reg",
    "RegType",
    "State",
    "const",
    "unknown",
]

U64_MAX = (1 << 64) - 1
#: Stack bytes per frame (``MAX_BPF_STACK``).
MAX_BPF_STACK = 512


class RegType(enum.IntEnum):
    """``enum bpf_reg_type`` subset (names as the kernel log prints them)."""

    NOT_INIT = 0
    SCALAR = 1
    PTR_TO_CTX = 2
    PTR_TO_STACK = 3
    CONST_PTR_TO_MAP = 4
    PTR_TO_MAP_VALUE = 5
    PTR_TO_BTF_ID = 6
    PTR_TO_MEM = 7
    PTR_TO_FUNC = 8
    #: A stack slot of an open-coded iterator (``STACK_ITER``; never in a register):
    #: ``umin`` its state, ``vmin`` its loop depth, ``off`` the slot's index in it.
    ITER = 9
    #: Packet pointers of tc / xdp programs (``__sk_buff``/``xdp_md`` ``data``, ``data_end``,
    #: ``data_meta``); ``rng`` is the number of bytes past ``data`` a check proved readable.
    PTR_TO_PACKET = 10
    PTR_TO_PACKET_END = 11
    PTR_TO_PACKET_META = 12
    #: ``struct bpf_sock`` returned by ``bpf_sk_lookup_*`` (a reference until released);
    #: with ``obj`` "sock_common" the kernel's PTR_TO_SOCK_COMMON (``bpf_skc_lookup_tcp``).
    PTR_TO_SOCKET = 13


@dataclass(slots=True)
class Reg:
    """One register's abstract value (``struct bpf_reg_state``, simplified).

    Immutable by convention (shared freely between states and the constant cache; change
    one with :func:`dataclasses.replace`): not a frozen dataclass only because a frozen
    one's ``__init__`` is several times slower, and the verifier makes one per ALU result.

    ``umin``/``umax``: unsigned range of a scalar.  ``off``: fixed pointer offset;
    ``vmin``/``vmax``: range of a variable part added to a pointer.  ``obj``: the
    ``btf.Struct`` (BTF pointers), the map (map pointers), the frame number (stack
    pointers) or the subprogram start (function pointers).  ``id`` links copies of a
    maybe-NULL pointer for null-check propagation and is ignored by comparisons.
    """

    type: RegType
    umin: int = 0
    umax: int = U64_MAX
    off: int = 0
    vmin: int = 0
    vmax: int = 0
    obj: Any = None
    maybe_null: bool = False
    trusted: bool = False
    ref_obj_id: int = 0
    #: ``PTR_TO_BTF_ID``: ``MEM_RCU`` (valid inside the RCU read section; verifier/trust.py).
    rcu: bool = False
    id: int = field(default=0, compare=False)
    #: Scalars: signed 64-bit range and known bits (tnum ``value``/``mask``), kept in sync
    #: with ``umin``/``umax`` by :mod:`structops.verifier.bounds` (``reg_bounds_sync``).
    smin: int = -(1 << 63)
    smax: int = (1 << 63) - 1
    tv: int = 0
    tm: int = (1 << 64) - 1
    #: Packet pointers: bytes from the packet pointer's base known to be inside the packet.
    rng: int = 0
    #: Scalars: signed and unsigned ranges of the low 32 bits (``s32_min_value`` ...
    #: ``u32_max_value``), kept in sync with the 64-bit ranges and the tnum by
    #: :mod:`structops.verifier.bounds` as the kernel's ``reg_bounds_sync`` does.
    smin32: int = -(1 << 31)
    smax32: int = (1 << 31) - 1
    umin32: int = 0
    umax32: int = (1 << 32) - 1
    #: A scalar spilled to the stack by a narrower store (1, 2 or 4 bytes at the slot's
    #: start: ``save_register_state`` with ``size < 8``); 8 otherwise.
    spill: int = 8
    #: Scalars: the value matters to an earlier decision (``reg->precise``): set on the
    #: explored states (checkpoints) by precision backtracking (:mod:`structops.verifier.precision`);
    #: an imprecise scalar of an explored state covers any scalar.  Not compared, not hashed.
    precise: bool = field(default=False, compare=False)
    #: ``PTR_TO_BTF_ID``: ``PTR_UNTRUSTED`` (a walked field neither trusted nor RCU, or an
    #: RCU pointer after its section ended): readable, refused by helpers and kfuncs.
    untrusted: bool = False
    #: Scalars linked by ``id`` with ``BPF_ADD_CONST``: the constant this one is ahead of the
    #: others (:mod:`structops.verifier.linked`).  Not compared, not hashed (as ``id``).
    delta: int = field(default=0, compare=False)
    #: The hash, computed on first use (0: not yet).
    _h: int = field(default=0, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        h = self._h
        if not h:
            # a subset of the compared fields (equal registers hash equal); ``obj`` is
            # left out because a BTF struct's hash walks its members
            h = self._h = hash((self.type, self.umin, self.umax, self.off, self.vmin, self.vmax, self.tv, self.tm)) or 1
        return h

    @property
    def is_ptr(self) -> bool:
        """Any pointer type."""
        return self.type >= RegType.PTR_TO_CTX

    @property
    def is_const(self) -> bool:
        """A scalar with one known value."""
        return self.type == RegType.SCALAR and self.umin == self.umax

    @property
    def var_off(self) -> bool:
        """A pointer with a variable offset part."""
        return self.vmin != 0 or self.vmax != 0

    def describe(self) -> str:
        """The kernel log's spelling of the register (``trusted_ptr_or_null_tcp_sock(id=1)``)."""
        t = self.type
        if t == RegType.NOT_INIT:
            return "?"
        if t == RegType.SCALAR:  # print_scalar_ranges
            from structops.verifier.bounds import fmt_scalar

            return fmt_scalar(self)
        extra = f"(off={self.off})" if self.off else "()"
        if self.id and self.maybe_null:
            extra = f"(id={self.id}{',off=' + str(self.off) if self.off else ''})"
        if t == RegType.PTR_TO_BTF_ID:
            return f"{self.type_str()}{getattr(self.obj, 'name', '?')}{extra}"
        if t == RegType.PTR_TO_STACK:
            return f"fp{self.off:+d}" if not self.var_off else "fp(var)"
        return self.type_str() + extra

    def type_str(self) -> str:
        """``reg_type_str``: the type name used in "invalid mem access '%s'"."""
        t = self.type
        if t == RegType.SCALAR:
            return "scalar"
        if t == RegType.PTR_TO_CTX:
            return "ctx"
        if t == RegType.PTR_TO_STACK:
            return "fp"
        if t == RegType.CONST_PTR_TO_MAP:  # maybe NULL: a map-in-map lookup not yet checked
            return "map_ptr_or_null" if self.maybe_null else "map_ptr"
        if t == RegType.PTR_TO_MAP_VALUE:
            return "map_value_or_null" if self.maybe_null else "map_value"
        if t == RegType.PTR_TO_BTF_ID:
            prefix = "trusted_" if self.trusted else "rcu_" if self.rcu else "untrusted_" if self.untrusted else ""
            return prefix + ("ptr_or_null_" if self.maybe_null else "ptr_")
        if t == RegType.PTR_TO_MEM:
            return "mem_or_null" if self.maybe_null else "mem"
        if t == RegType.PTR_TO_FUNC:
            return "func"
        if t == RegType.PTR_TO_SOCKET:  # obj "sock_common": PTR_TO_SOCK_COMMON (bpf_skc_lookup_tcp)
            name = "sock_common" if self.obj == "sock_common" else "sock"
            return name + "_or_null" if self.maybe_null else name
        return _PKT_NAMES.get(t, "?")


_PKT_NAMES = {
    RegType.PTR_TO_PACKET: "pkt",
    RegType.PTR_TO_PACKET_END: "pkt_end",
    RegType.PTR_TO_PACKET_META: "pkt_meta",
}


NOT_INIT = Reg(RegType.NOT_INIT, 0, 0)
_UNKNOWN = Reg(RegType.SCALAR)


def const(value: int) -> Reg:
    """A scalar with known value ``value`` (taken modulo 2**64)."""
    value &= U64_MAX
    reg = _CONSTS.get(value)
    if reg is None:  # Regs are immutable: common constants are shared (verifier hot path)
        signed = value - (1 << 64) if value >> 63 else value
        low = value & 0xFFFFFFFF
        s32 = low - (1 << 32) if low >> 31 else low
        reg = Reg(RegType.SCALAR, value, value, smin=signed, smax=signed, tv=value, tm=0)
        reg.smin32 = reg.smax32 = s32
        reg.umin32 = reg.umax32 = low
        if len(_CONSTS) < 4096:
            _CONSTS[value] = reg
    return reg


_CONSTS: dict[int, Reg] = {}


def unknown(umin: int = 0, umax: int = U64_MAX) -> Reg:
    """A scalar in ``[umin, umax]`` (signed range and known bits derived from it)."""
    if umin == 0 and umax == U64_MAX:
        return _UNKNOWN
    from structops.verifier.bounds import make_scalar

    reg = make_scalar(umin, umax)
    assert reg is not None
    return reg


#: A stack slot: a spilled register, or a mask of initialised bytes (bit i = byte i).
Slot = Reg | int


@dataclass(slots=True)
class Frame:
    """One call frame: r0-r10, the stack slots (key = slot index, slot 0 = fp-8), the call site."""

    regs: list[Reg]
    stack: dict[int, Slot]
    callsite: int = -1
    frameno: int = 0
    #: How many times this frame's pending sync callback was simulated (``callback_depth``).
    callback_depth: int = 0

    def copy(self) -> Frame:
        """An independent copy."""
        return Frame(list(self.regs), dict(self.stack), self.callsite, self.frameno, self.callback_depth)

    def key(self) -> tuple[object, ...]:
        """A hashable snapshot (ids ignored)."""
        key = (tuple(self.regs), tuple(sorted(self.stack.items())) if self.stack else (), self.callsite)
        return (*key, self.callback_depth) if self.callback_depth else key


@dataclass(slots=True)
class State:
    """The verifier state of one path: call frames (innermost last) and acquired references."""

    frames: list[Frame]
    refs: dict[int, int] = field(default_factory=dict)  # ref id -> insn that acquired it
    #: The program's ``allow_uninit_stack`` (privileged), carried for the memory checks.
    priv: bool = False
    #: How many ``may_goto`` fall-throughs this path took (the kernel's ``may_goto_depth``).
    may_goto_depth: int = 0
    #: The held ``bpf_spin_lock`` (pointer id, object identity), None when none is held.
    lock: tuple[int, int] | None = None
    #: Inside a ``bpf_rcu_read_lock`` section (``active_rcu_lock``).
    rcu: bool = False
    #: Precision backtracking (:mod:`structops.verifier.precision`): the instruction history
    #: since the last checkpoint (a linked list of ``(insn, previous insn, stack slot flags,
    #: rest)``, newest first), the first instruction of that stretch, and the last
    #: instruction processed on the slow path (the fork point of a queued branch).
    hist: Any = None
    first: int = 0
    last: int = -1
    #: Deferred precision requests of this stretch (:func:`structops.verifier.precision.defer`).
    pend: Any = None
    #: A path only a mispredicted branch takes (``speculative``, :mod:`structops.verifier.speculative`).
    spec: bool = False
    #: Sync callback bodies entered on this path (``callback_unroll_depth``).
    cb_unroll: int = 0

    @property
    def cur(self) -> Frame:
        """The innermost frame."""
        return self.frames[-1]

    def copy(self) -> State:
        """An independent copy (for a branch)."""
        return State(
            [f.copy() for f in self.frames],
            dict(self.refs),
            self.priv,
            self.may_goto_depth,
            self.lock,
            self.rcu,
            self.hist,
            self.first,
            self.last,
            self.pend,
            self.spec,
            self.cb_unroll,
        )

    def key(self) -> tuple[object, ...]:
        """A hashable snapshot for exact-equality checks (linked scalar ids up to renaming)."""
        frames = self.frames
        fkeys = (frames[0].key(),) if len(frames) == 1 else tuple(f.key() for f in frames)
        links = _links(frames)
        if links:
            fkeys = (*fkeys, links)
        if self.lock is not None or self.rcu or self.spec:  # part of the state when set
            return (fkeys, tuple(sorted(self.refs)) if self.refs else (), self.lock, self.rcu, self.spec)
        return (fkeys, tuple(sorted(self.refs)) if self.refs else ())

    def all_regs(self) -> list[tuple[Frame, int, Reg]]:
        """Every register of every frame (for id propagation)."""
        return [(f, i, r) for f in self.frames for i, r in enumerate(f.regs)]

    def map_regs(self, fn: Any) -> None:
        """Replace every register and spilled slot ``r`` with ``fn(r)``."""
        for f in self.frames:
            f.regs = [fn(r) for r in f.regs]
            for k, v in list(f.stack.items()):
                if isinstance(v, Reg):
                    f.stack[k] = fn(v)


def _links(frames: list[Frame]) -> tuple[object, ...]:
    """Where the linked scalars are, their ids renamed in order of appearance, and deltas."""
    names: dict[int, int] = {}
    out: list[object] = []
    for n, f in enumerate(frames):
        for i, r in enumerate(f.regs):
            if r.id and r.type == RegType.SCALAR:
                out.append((n, i, names.setdefault(r.id, len(names)), r.delta))
        if f.stack:
            for k, x in f.stack.items():
                if isinstance(x, Reg) and x.id and x.type == RegType.SCALAR:
                    out.append((n, -1 - k, names.setdefault(x.id, len(names)), x.delta))
    return tuple(out)


def with_off(reg: Reg, delta: int) -> Reg:
    """``reg`` with its fixed offset moved by ``delta``."""
    return replace(reg, off=reg.off + delta)


class ScalarIds:
    """``check_scalar_ids`` over one comparison: linked scalars of the old state must be
    linked the same way in the new one; an old scalar with no id links nothing, so any new
    one fits it (measured on Linux 6.18: corpus linked_ids_pair_up_when_pruning); a new
    scalar with no id gets a temporary one of its own."""

    __slots__ = ("c2o", "o2c", "tmp")

    def __init__(self) -> None:
        self.o2c: dict[int, int] = {}
        self.c2o: dict[int, int] = {}
        self.tmp = 0

    def check(self, old_id: int, cur_id: int) -> bool:
        """``check_ids`` of the two ids."""
        if not old_id:
            return True
        if not cur_id:
            self.tmp -= 1
            cur_id = self.tmp
        seen = self.o2c.get(old_id)
        if seen is not None:
            return seen == cur_id
        if cur_id in self.c2o:
            return False
        self.o2c[old_id] = cur_id
        self.c2o[cur_id] = old_id
        return True


_ADD_CONST = 3 << 30  # linked.ADD_CONST


def reg_subsumes(
    old: Reg,
    new: Reg,
    loose: bool = False,
    idmap: dict[int, int] | None = None,
    exact: bool = False,
    sids: ScalarIds | None = None,
) -> bool:
    """``regsafe``: every behaviour of ``new`` is covered by the explored ``old``.

    ``loose`` (the kernel's ``NOT_EXACT`` mode, privileged loaders): an imprecise old scalar
    covers any scalar; otherwise (``RANGE_WITHIN``) its range must hold ``new``'s.
    ``idmap``: the old state's reference ids -> the new state's (``check_ids``).
    ``exact``: scalars must be identical (``explore_alu_limits``); ``sids``: the linked
    scalar ids so far (``check_scalar_ids``)."""
    if old.type == RegType.NOT_INIT:
        return True
    if old.type == RegType.SCALAR:
        if exact:
            return old == new and old.delta == new.delta and (sids is None or sids.check(old.id, new.id))
        if loose and not old.precise:
            return new.type == RegType.SCALAR
        if sids is not None and old.id:
            if old.id & _ADD_CONST:  # linked with a delta: the same kind of link, the same delta
                if not new.id & _ADD_CONST or old.delta != new.delta:
                    return False
            elif new.id & _ADD_CONST:
                return False
            if not sids.check(old.id, new.id):
                return False
        return (
            new.type == RegType.SCALAR
            and old.umin <= new.umin
            and new.umax <= old.umax
            and old.smin <= new.smin
            and new.smax <= old.smax
            and new.tm & ~old.tm == 0  # tnum_in(old, new)
            and new.tv & ~old.tm == old.tv
            and old.smin32 <= new.smin32
            and new.smax32 <= old.smax32
            and old.umin32 <= new.umin32
            and new.umax32 <= old.umax32
        )
    if old.ref_obj_id or new.ref_obj_id:  # the same reference, under the state's id mapping
        if idmap is None or idmap.get(old.ref_obj_id) != new.ref_obj_id:
            return False
        old, new = replace(old, ref_obj_id=0), replace(new, ref_obj_id=0)
    if old.type == RegType.ITER:  # stacksafe: the iterator's depth is ignored
        if new.type != RegType.ITER or old == new:
            return new.type == RegType.ITER
        return old.vmin != new.vmin and replace(old, vmin=0) == replace(new, vmin=0)
    return old == new


def slot_subsumes(
    old: Slot | None,
    new: Slot | None,
    loose: bool = False,
    idmap: dict[int, int] | None = None,
    exact: bool = False,
    sids: ScalarIds | None = None,
) -> bool:
    """Stack-slot version of :func:`reg_subsumes` (an unread/uninitialised old slot covers anything)."""
    if old is None:
        return True
    if new is None:
        return False
    if isinstance(old, int):
        if isinstance(new, int):
            return old & new == old
        return new.type == RegType.SCALAR or old == 0
    if isinstance(new, int):
        # stacksafe's scalar_reg_for_stack: eight initialised non-zero bytes read as an
        # unknown scalar, which an imprecise 64-bit spilled scalar covers
        return loose and not exact and old.type == RegType.SCALAR and not old.precise and old.spill == 8 and new == 0xFF
    return old.spill == new.spill and reg_subsumes(old, new, loose, idmap, exact, sids)


def widen_scalars(prev: State, cur: State, all_imprecise: bool = False) -> None:
    """``widen_imprecise_scalars``: make every scalar of ``cur`` (registers and spilled slots)
    that differs from the same place in ``prev`` unknown when ``prev``'s is not precise
    (``all_imprecise``: whatever the marks), so a loop's states converge."""
    for fp, fc in zip(prev.frames, cur.frames, strict=False):
        for i, (rp, rc) in enumerate(zip(fp.regs, fc.regs, strict=True)):
            if (
                rp.type == RegType.SCALAR
                and rc.type == RegType.SCALAR
                and rp != rc
                and (all_imprecise or not rp.precise)
            ):
                fc.regs[i] = unknown()
        for k, sc in list(fc.stack.items()):
            sp = fp.stack.get(k)
            if (
                isinstance(sc, Reg)
                and isinstance(sp, Reg)
                and sc.type == sp.type == RegType.SCALAR
                and sc != sp
                and (all_imprecise or not sp.precise)
            ):
                fc.stack[k] = replace(unknown(0, (1 << 8 * sc.spill) - 1), spill=sc.spill)


def state_subsumes(
    old: State, new: State, loose: bool = False, live: tuple[int, ...] | None = None, exact: bool = False
) -> bool:
    """``states_equal``: ``old`` (explored) covers ``new``; ``loose`` is the kernel's
    ``NOT_EXACT`` (imprecise old scalars cover any scalar), else ``RANGE_WITHIN``; ``live``:
    per frame, the registers that may still be read (the others are not compared);
    ``exact``: scalars must be identical (``explore_alu_limits``)."""
    if len(old.frames) != len(new.frames) or len(old.refs) != len(new.refs):
        return False
    if old.spec and not new.spec:  # a speculative path never prunes a real one
        return False
    if old.lock != new.lock or old.rcu != new.rcu:
        return False
    # refsafe: the references, in the order they were acquired, pair up old id -> new id
    idmap = dict(zip(old.refs, new.refs, strict=True)) if old.refs else None
    sids = ScalarIds()
    # both relations are reflexive (a register or slot shared with the explored state is
    # covered, unless it holds a reference the mapping moves) and an uninitialised old
    # register covers anything
    for i, (fo, fn) in enumerate(zip(old.frames, new.frames, strict=True)):
        if fo.callsite != fn.callsite or fo.callback_depth > fn.callback_depth:  # more iterations left
            return False
        mask = live[i] if live is not None else 0x7FF
        for ro, rn in zip(fo.regs, fn.regs, strict=True):
            if (
                mask & 1
                and (ro is not rn or ro.ref_obj_id or (ro.id and ro.type == RegType.SCALAR))
                and ro.type != RegType.NOT_INIT
                and not reg_subsumes(ro, rn, loose, idmap, exact, sids)
            ):
                return False
            mask >>= 1
        stack = fn.stack
        for k, so in fo.stack.items():
            sn = stack.get(k)
            if (so is not sn or (isinstance(so, Reg) and (so.ref_obj_id or so.id))) and not slot_subsumes(
                so, sn, loose, idmap, exact, sids
            ):
                return False
    return True
