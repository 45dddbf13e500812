"""Scalar precision tracking and backtracking (``mark_chain_precision``, ``backtrack_insn``).

As Linux 6.18 does it for a loader with CAP_BPF (``env->bpf_capable``): a scalar of an
explored state (a :class:`~structops.verifier.core._Checkpoint`) starts imprecise, and an
imprecise scalar of an explored state covers any scalar when pruning (``regsafe`` in
``NOT_EXACT`` mode).  When the verifier relies on a scalar's value (a pointer moved by it,
a helper's size or constant argument, a constant map key, a branch whose outcome it
decides, a callback's return value), :func:`mark` walks the path back instruction by
instruction, from the current one to the state's first, then through the parent
checkpoints: each instruction turns "this register/stack slot must be precise after me"
into what must be precise before it (``r1 = r2`` moves the need to r2, ``r1 += r2`` adds
r2, ``r1 = 5`` ends it, a fill from the stack moves it to the slot and the spill back to
the stored register, calls and exits move it between frames).  Each checkpoint passed on
the way gets the still-needed registers and slots marked precise.  When the walk cannot
follow (an instruction it does not model), every scalar of every parent checkpoint is
marked precise instead (``mark_all_scalars_precise``).

The path's history (:attr:`State.hist`) records only what the walk cannot recompute:
non-sequential steps (``(insn, previous insn, 0)``) and register spills/fills of a stack
slot at a constant offset (``(insn, previous insn, frame/slot flags)``, which frame and
slot the instruction touched).  A pruned path hands the explored state's precise marks
back along its own chain (:func:`propagate`).  Without CAP_BPF every scalar counts as
precise and nothing here runs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from structops.verifier.linked import bt_sync
from structops.verifier.state import Frame, Reg, RegType, State

if TYPE_CHECKING:
    from structops.verifier.core import Verifier, _Checkpoint

__all__ = [
    "defer",
    "fill_slot",
    "flush",
    "mark",
    "mark_all",
    "propagate",
    "record_stack_access",
    "spill_slot",
    "stack_flags",
]

_ARGS = 0b111110  # r1-r5
_HELPER_CALLBACKS = frozenset({164, 181})  # bpf_for_each_map_elem, bpf_loop (verifier.subprogs)


#: Cached walks (``Verifier.bt_cache``) are dropped past this many entries.
_CACHE_MAX = 1 << 18
_EMPTY = ("empty",)


class _Unsupported(Exception):
    """``-ENOTSUPP`` from ``backtrack_insn``: fall back to marking every scalar precise."""


class _BT:
    """``struct backtrack_state``: per frame, the registers and stack slots still wanted."""

    __slots__ = ("frame", "regs", "slots")

    def __init__(self, frame: int) -> None:
        self.frame = frame
        self.regs = [0] * (frame + 1)
        self.slots = [0] * (frame + 1)

    def empty(self) -> bool:
        return not any(self.regs) and not any(self.slots)

    def enter(self) -> None:  # bt_subprog_enter: one frame deeper (backwards over an exit)
        self.frame += 1
        if self.frame >= len(self.regs):
            self.regs.append(0)
            self.slots.append(0)

    def leave(self) -> None:  # bt_subprog_exit: back to the caller (backwards over the call)
        if self.frame == 0:
            raise _Unsupported
        self.regs[self.frame] = self.slots[self.frame] = 0
        self.frame -= 1


def stack_flags(frameno: int, slot: int) -> int:
    """History flags of a register spill/fill of ``slot`` of frame ``frameno`` (``INSN_F_STACK_ACCESS``)."""
    return ((frameno + 1) << 8) | slot


def record_stack_access(st: State, pc: int, frameno: int, slot: int) -> None:
    """Note in ``st``'s history that insn ``pc`` spilled to / filled from ``slot`` of ``frameno``."""
    flags = stack_flags(frameno, slot)
    h = st.hist
    if h is not None and h[0] == pc:  # this visit's arrival entry: add the flags to it
        st.hist = (pc, h[1], flags, h[3], h[4])
    else:
        st.hist = (pc, pc - 1, flags, h, h[4] + 1 if h is not None else 1)


def _backtrack_insn(v: Verifier, i: int, subseq: int, flags: int, bt: _BT) -> None:
    """What must be precise before insn ``i`` for ``bt`` to be precise after it."""
    c, d, s, _o, imm = v.code[i]
    cls = c & 7
    fr = bt.frame
    regs = bt.regs
    if cls in (4, 7):  # ALU, ALU64
        if not regs[fr] >> d & 1:
            return
        op = c & 0xF0
        if op in (0x80, 0xD0):  # neg, endianness: dst still wanted before
            return
        if op == 0xB0:  # mov
            regs[fr] &= ~(1 << d)
            if c & 8 and s != 10:
                regs[fr] |= 1 << s
        elif c & 8 and s != 10:
            regs[fr] |= 1 << s
        return
    if cls == 1 or (cls == 3 and c & 0xE0 == 0xC0 and imm == 0x100):  # LDX, load-acquire
        if not regs[fr] >> d & 1:
            return
        regs[fr] &= ~(1 << d)
        if flags:  # a fill: the slot's spilled scalar is wanted
            bt.slots[(flags >> 8) - 1] |= 1 << (flags & 0xFF)
        return
    if cls in (2, 3):  # ST, STX
        if regs[fr] >> d & 1:
            raise _Unsupported  # a scalar used as the address: pointer subtraction
        if not flags:
            return
        sfr, slot = (flags >> 8) - 1, flags & 0xFF
        if sfr >= len(bt.slots) or not bt.slots[sfr] >> slot & 1:
            return
        bt.slots[sfr] &= ~(1 << slot)
        if cls == 3:
            regs[fr] |= 1 << s
        return
    if cls in (5, 6):  # JMP, JMP32
        op = c & 0xF0
        if c == 0x85:
            _backtrack_call(v, i, subseq, s, imm, bt)
            return
        if c == 0x95:
            _backtrack_exit(v, subseq, bt)
            return
        if flags & 1:  # scalars linked at this jump: wanted as one (bt_sync_linked_regs)
            bt_sync(flags, regs, bt.slots)
        if op in (0x00, 0xE0) or not c & 8:  # ja, may_goto, compare with an immediate
            return
        if regs[fr] >> d & 1 or regs[fr] >> s & 1:  # both sides of a compare
            regs[fr] |= (1 << d) | (1 << s)
            if flags & 1:
                bt_sync(flags, regs, bt.slots)
        return
    if c == 0x18 and regs[fr] >> d & 1:  # ld_imm64: a constant (or a pointer)
        regs[fr] &= ~(1 << d)
    elif cls == 0 and c != 0 and c != 0x18 and regs[fr] & 1:  # ld_abs / ld_ind defining a wanted R0
        raise _Unsupported


def _backtrack_call(v: Verifier, i: int, subseq: int, s: int, imm: int, bt: _BT) -> None:
    fr = bt.frame
    regs = bt.regs
    if s == 1:  # bpf-to-bpf call
        if subseq == i + 1:  # a global function (verified on its own): it sets R0
            if regs[fr] & _ARGS:
                raise _Unsupported
            regs[fr] &= ~1
            return
        # backwards out of the callee: only its arguments can still be wanted
        if regs[fr] & ~_ARGS or bt.slots[fr]:
            raise _Unsupported
        args = regs[fr]
        bt.leave()
        bt.regs[bt.frame] |= args
        return
    if subseq != i + 1:  # backwards out of a callback entered by this helper/kfunc call
        if regs[fr] & ~_ARGS or bt.slots[fr]:
            raise _Unsupported
        bt.leave()
        return
    if s == 2 and imm == 0:
        raise _Unsupported
    regs[fr] &= ~1  # the helper sets R0
    if regs[fr] & _ARGS:
        raise _Unsupported


def _backtrack_exit(v: Verifier, subseq: int, bt: _BT) -> None:
    fr = bt.frame
    regs = bt.regs
    call = v.code[subseq - 1] if subseq >= 1 else None
    if subseq in v.cb_calls:  # a helper's callback returned to the call itself (the next iteration)
        call = v.code[subseq]
    to_callee = call is not None and call[0] == 0x85 and call[2] == 1
    if call is not None and call[0] == 0x85 and not to_callee:  # a callback's exit: R1-R5 are the helper's
        regs[fr] &= ~_ARGS
    if regs[fr] & _ARGS:
        raise _Unsupported
    r0 = to_callee and regs[fr] & 1
    regs[fr] &= ~1
    bt.enter()
    if r0:
        bt.regs[bt.frame] |= 1


def _noops(code: list[tuple[int, int, int, int, int]]) -> bytes:
    """Per insn, 1 when backtracking over it never changes what is wanted: ALU with an
    immediate (not a move), neg/endianness, jumps comparing with an immediate, ``ja`` and
    ``may_goto`` (never calls, exits, loads or stores)."""
    out = bytearray(len(code))
    for pc, (c, _d, _s, _o, _i) in enumerate(code):
        cls = c & 7
        op = c & 0xF0
        if cls in (4, 7):
            out[pc] = op in (0x80, 0xD0) or (not c & 8 and op != 0xB0)
        elif cls in (5, 6):
            out[pc] = c not in (0x85, 0x95) and (op in (0x00, 0xE0) or not c & 8)
    return bytes(out)


def _mark_frames(state: State, bt: _BT) -> bool:
    """Mark the wanted scalars of a parent checkpoint precise; drop those already precise."""
    changed = False
    for fr in range(bt.frame, -1, -1):
        frame = state.frames[fr]
        mask = bt.regs[fr]
        r = 0
        while mask:
            if mask & 1:
                reg = frame.regs[r]
                if reg.type != RegType.SCALAR or reg.precise:
                    bt.regs[fr] &= ~(1 << r)
                else:
                    frame.regs[r] = replace(reg, precise=True)
                    changed = True
            mask >>= 1
            r += 1
        mask = bt.slots[fr]
        k = 0
        while mask:
            if mask & 1:
                slot = frame.stack.get(k)
                if not isinstance(slot, Reg) or slot.type != RegType.SCALAR or slot.precise:
                    bt.slots[fr] &= ~(1 << k)
                else:
                    frame.stack[k] = replace(slot, precise=True)
                    changed = True
            mask >>= 1
            k += 1
    return changed


def _walk(
    v: Verifier,
    st: State,
    cp: _Checkpoint | None,
    pc: int,
    bt: _BT,
    at: object = False,
    pending: list[tuple[int, object, int, int]] | None = None,
    first_at: int = -1,
) -> bool:
    """``__mark_chain_precision`` from insn ``pc`` of ``st`` (whose parent checkpoint is ``cp``,
    history ``at``, by default ``st.hist``); True when some checkpoint got a new mark.

    ``pending``: more requests of the same stretch, newest first, as ``(insn, history,
    frame, registers)``: each joins the walk when it passes that point (the union of
    separate walks: backtracking is per register)."""
    if bt.empty() and not pending:
        return False
    changed = False
    root = st.frames[0].callsite
    start = cp
    node: Any = st.hist if at is False else at
    first, last = (st.first if first_at < 0 else first_at), pc
    todo = pending or []
    nxt = 0
    ntodo = len(todo)
    want = todo[0][0] if todo else -2  # the insn of the next request to join
    subseq = -1
    skip = True
    cache = v.bt_cache
    if len(cache) > _CACHE_MAX:
        cache.clear()
    noop = v.bt_noop
    if not noop:
        noop = v.bt_noop = _noops(v.code)
    try:
        while True:
            i = last
            seen: list[tuple[tuple[int, ...], object]] = []  # positions walked through, for the cache
            while True:
                ent = node if node is not None and node[0] == i else None
                if skip:
                    skip = False
                else:
                    if not noop[i]:
                        _backtrack_insn(v, i, subseq, ent[2] if ent is not None else 0, bt)
                    if i == want and todo[nxt][1] is node:
                        _join(bt, todo[nxt])
                        nxt += 1
                        want = todo[nxt][0] if nxt < ntodo else -2
                        seen.clear()
                    if nxt == ntodo and not any(bt.regs) and not any(bt.slots):
                        for key, held in seen:
                            cache[key] = (_EMPTY, held)
                        return changed
                subseq = i
                if i == first and (node is None or (node[3] is None and node[0] == i)):
                    break
                if ent is not None and nxt == ntodo:
                    # the rest of this stretch only depends on where we are in its history
                    # and on what is wanted: a loop's earlier walks give the answer
                    key = (id(ent), bt.frame, *bt.regs, -1, *bt.slots)
                    done = cache.get(key)
                    if done is not None:
                        result: Any = done[0]
                        if result is _EMPTY:
                            for k, held in seen:
                                cache[k] = (_EMPTY, held)
                            return changed
                        bt.frame, bt.regs, bt.slots = result[0], list(result[1]), list(result[2])
                        break
                    seen.append((key, ent))
                    i, node = ent[1], ent[3]
                elif ent is not None:
                    i, node = ent[1], ent[3]
                else:
                    i -= 1
                if i < 0:
                    raise _Unsupported
            if seen:
                walked = (bt.frame, tuple(bt.regs), tuple(bt.slots))
                for key, held in seen:  # the entry is kept alive with its key (ids stay unique)
                    cache[key] = (walked, held)
            if cp is None:
                break
            state = cp.state
            if bt.frame >= len(state.frames) or state.frames[0].callsite != root:
                break
            changed |= _mark_frames(state, bt)
            if nxt == ntodo and bt.empty():
                return changed
            subseq = first
            node, first, last = cp.hist, cp.first, cp.last
            cp = cp.parent
    except _Unsupported:
        return mark_all(start) or changed
    if not bt.empty() or nxt < ntodo:  # something was missed (e.g. a spill through another register)
        changed |= mark_all(start)
    return changed


def mark_all(cp: _Checkpoint | None) -> bool:
    """``mark_all_scalars_precise``: every scalar of ``cp`` and of its parents."""
    changed = False
    while cp is not None:
        for f in cp.state.frames:
            changed |= _all_precise(f)
        cp = cp.parent
    return changed


def _all_precise(f: Frame) -> bool:
    changed = False
    for i, r in enumerate(f.regs):
        if r.type == RegType.SCALAR and not r.precise:
            f.regs[i] = replace(r, precise=True)
            changed = True
    for k, slot in list(f.stack.items()):
        if isinstance(slot, Reg) and slot.type == RegType.SCALAR and not slot.precise:
            f.stack[k] = replace(slot, precise=True)
            changed = True
    return changed


def _join(bt: _BT, req: tuple[int, object, int, int]) -> None:
    fr = req[2]
    while len(bt.regs) <= fr:
        bt.regs.append(0)
        bt.slots.append(0)
    bt.regs[fr] |= req[3]


#: Deferred requests a path may hold before they are walked anyway.
MAX_PENDING = 512


def defer(v: Verifier, st: State, pc: int, mask: int) -> None:
    """A precision request for registers ``mask`` (current frame) at insn ``pc``, walked with
    the path's other requests at the next :func:`flush` (a decided branch on the fast path):
    ``(insn, history, frame, registers, parent checkpoint, first insn of the stretch, older
    requests, count)``."""
    pend = st.pend
    n = pend[7] + 1 if pend is not None else 1
    st.pend = (pc, st.hist, len(st.frames) - 1, mask, v.cur_cp, st.first, pend, n)
    if n >= MAX_PENDING:
        flush(v, st)


def flush(v: Verifier, st: State) -> None:
    """Walk the path's deferred requests, newest first, across the checkpoints recorded since
    (before their marks are read: a widening, a pruned path's propagation, another request,
    a fork, the path's end)."""
    pend = st.pend
    if pend is None:
        return
    st.pend = None
    if not v.env.bpf_capable:
        return
    newest = pend
    reqs: list[tuple[int, object, int, int]] = []
    while pend is not None:
        reqs.append(pend[:4])
        pend = pend[6]
    pc, node, fr, mask = reqs[0]
    bt = _BT(fr)
    bt.regs[fr] = mask
    _walk(v, st, newest[4], pc, bt, node, reqs[1:], newest[5])


def mark(v: Verifier, st: State, *regnos: int, slots: tuple[tuple[int, int], ...] = ()) -> None:
    """``mark_chain_precision`` of registers ``regnos`` of the current frame (and stack
    ``slots`` as ``(frame, slot)``) at the instruction being verified."""
    if not v.env.bpf_capable:
        return
    flush(v, st)
    bt = _BT(len(st.frames) - 1)
    regs = st.cur.regs
    for r in regnos:
        if regs[r].type == RegType.SCALAR:
            bt.regs[bt.frame] |= 1 << r
    for fr, k in slots:
        bt.slots[fr] |= 1 << k
    _walk(v, st, v.cur_cp, v._last_pc, bt)


def propagate(
    v: Verifier, old: State, st: State, cp: _Checkpoint | None, pc: int, live: tuple[int, ...] | None = None
) -> bool:
    """``propagate_precision``: ``st`` (at ``pc``, parent ``cp``) was pruned by ``old``; what
    ``old`` needed precise, ``st``'s chain needs too.  True when a mark was added."""
    if not v.env.bpf_capable:
        return False
    flush(v, st)
    bt = _BT(len(old.frames) - 1)
    for fr, f in enumerate(old.frames):
        m = 0
        for r, reg in enumerate(f.regs[:10]):
            if reg.precise and reg.type == RegType.SCALAR:
                m |= 1 << r
        bt.regs[fr] = m & (live[fr] if live is not None else 0x3FF)  # dead registers were cleaned
        s = 0
        for k, slot in f.stack.items():
            if isinstance(slot, Reg) and slot.precise and slot.type == RegType.SCALAR:
                s |= 1 << k
        bt.slots[fr] = s
    return _walk(v, st, cp, pc, bt)


def _fixed_slot(st: State, base: Reg, off: int) -> tuple[int, int, int] | None:
    """(frame, slot, byte in slot) of ``[base + off]`` for a stack pointer at a constant offset."""
    if base.type != RegType.PTR_TO_STACK or base.var_off:
        return None
    frameno = int(base.obj or 0)
    if frameno >= len(st.frames):
        return None
    o = base.off + off
    if o >= 0:
        return None
    slot = (-o - 1) // 8
    return frameno, slot, o + 8 * (slot + 1)


def fill_slot(st: State, base: Reg, off: int, size: int) -> tuple[int, int] | None:
    """Before a load: ``(frame, slot)`` when it restores the register spilled there (a full
    fill, or a narrow one from the slot's start within the spilled width), else None."""
    at = _fixed_slot(st, base, off)
    if at is None:
        return None
    frameno, slot, b = at
    cur = st.frames[frameno].stack.get(slot)
    if not isinstance(cur, Reg) or cur.type == RegType.ITER or b:
        return None
    if size == 8 and cur.spill == 8:
        return frameno, slot
    if cur.type == RegType.SCALAR and size <= cur.spill:
        return frameno, slot
    return None


def spill_slot(st: State, base: Reg, off: int) -> tuple[int, int] | None:
    """After a store: ``(frame, slot)`` when it spilled a register (or an immediate) there."""
    at = _fixed_slot(st, base, off)
    if at is None or at[2]:
        return None
    frameno, slot, _ = at
    cur = st.frames[frameno].stack.get(slot)
    if not isinstance(cur, Reg) or cur.type == RegType.ITER:
        return None
    return frameno, slot
