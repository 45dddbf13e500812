"""State pruning at a pruning point (``is_state_visited``), as Linux 6.18 does it.

At a pruning point the path's state is compared with the states recorded there, newest
first.  A fully explored state that covers it prunes the path (``NOT_EXACT``: its
imprecise scalars cover any scalar, unless its loop's precision marks are not final yet,
then ``RANGE_WITHIN``).  A state still being explored prunes only as a converged loop: at
an iterator's ``_next`` call with the iterator active, or at a ``may_goto`` one level
deeper (``RANGE_WITHIN``, the path is kept as a backedge of the loop).  A pruned path
hands the marks of the state that covered it back along its own chain
(:func:`~structops.verifier.precision.propagate`).  A state that keeps missing is
dropped (``miss_cnt > hit_cnt * n + n``).  A new state is recorded when the path went
through 2 jumps and 8 instructions since the last one (20 and 100 while a state here is
still being explored), at forced checkpoints (iterator ``_next``, ``may_goto``) and when
the path's history grew past 40 entries.
"""

from __future__ import annotations

import errno
from operator import attrgetter
from typing import TYPE_CHECKING

from structops.verifier import fastpath, iters, liveness, loops, precision, unpriv
from structops.verifier.env import Reject
from structops.verifier.state import State, state_subsumes
from structops.verifier.timer import ASYNC_CALLSITE

if TYPE_CHECKING:
    from structops.verifier.core import Verifier, _Checkpoint

__all__ = ["checkpoint", "live_masks", "state_visited"]

_UMIN = attrgetter("umin")
_NEW_STATE = (2, 8)
_NEW_STATE_LOOP = (20, 100)
_MAX_HIST = 40
#: ``BPF_COMPLEXITY_LIMIT_STATES``: without CAP_BPF no new state where this many are kept.
_UNPRIV_MAX_STATES = 64


def _nargs(v: Verifier) -> object:
    def nargs(c: int, s: int, imm: int, off: int) -> int:
        try:
            if s == 0 and v.env.helper_proto is not None:
                proto = v.env.helper_proto(imm)
                if proto is not None and proto.args is not None:
                    return len(proto.args)
            elif s == 2 and v.env.kfunc is not None:
                k = v.env.kfunc(imm, off)
                if k is not None:
                    return min(5, len(k.func.type.params))
        except Exception:  # an unknown id: the call is refused when reached
            pass
        return 5

    return nargs


def live_masks(v: Verifier, pc: int, st: State) -> tuple[int, ...]:
    """Per frame of a state at ``pc``, the registers still to be read (r10 always)."""
    live = v._live
    if live is None:
        code = v.code
        live = v._live = liveness.live_regs(code, lambda x: unpriv.successors(code, x), _nargs(v))  # type: ignore[arg-type]
    frames = st.frames
    out = []
    for i in range(len(frames) - 1):
        cs = frames[i + 1].callsite
        insn = cs if cs >= 0 else -cs - 2
        out.append((live[insn] & ~0x3F) | 0x400 if 0 <= insn < len(live) else 0x7FF)
    out.append(live[pc] | 0x400)
    return tuple(out)


def _loose(v: Verifier, old: _Checkpoint) -> bool:
    if not v.env.bpf_capable:
        return False
    visit = old.scc
    return visit is None or not visit.backedges


def state_visited(v: Verifier, pc: int, st: State, cp: _Checkpoint | None, prev: int) -> _Checkpoint | bool | None:
    """``is_state_visited`` at pruning point ``pc``: True when the path is pruned (the
    caller stops it), else the path's parent checkpoint (a new one when recorded here).

    ``max_states_per_insn`` is the most states a visit that did not prune found in its
    instruction's list (before recording its own), as Linux counts them: Linux keeps the
    lists in a hash table with one bucket per instruction, keyed by the instruction and the
    current frame's call site, so a subprogram's states can share a bucket with another
    instruction's and are counted there too."""
    olds = v._visited.get(pc)
    found = v._bucket_n.get(bucket(v, pc, st), 0) if v._bucket_n else 0
    out = _state_visited(v, pc, st, cp, prev, olds)
    if out is not True and found > v.stats.max_states_per_insn:
        v.stats.max_states_per_insn = found
    return out


def bucket(v: Verifier, pc: int, st: State) -> int:
    """``explored_state()``'s bucket: ``(insn ^ callsite) % prog_len`` in C's unsigned
    arithmetic, the main program's call site being -1 (a callback frame's is its call)."""
    cs = st.frames[-1].callsite
    if cs < -1:
        cs = -1 if cs == ASYNC_CALLSITE else -cs - 2
    return ((pc ^ cs) & 0xFFFFFFFF) % len(v.code)


def _state_visited(
    v: Verifier, pc: int, st: State, cp: _Checkpoint | None, prev: int, olds: list[_Checkpoint] | None
) -> _Checkpoint | bool | None:
    hist = st.hist
    if olds and (hist is None or hist[4] <= _MAX_HIST) and v._busy.get(pc, 0) == len(olds):
        # the common case inside a loop: only states still being explored here, and too
        # little done since the last checkpoint for a new one; only an infinite loop to find
        insns = v.stats.insns_processed - v._prev_insns
        if v._jmps - v._prev_jmps < _NEW_STATE_LOOP[0] and insns < _NEW_STATE_LOOP[1] and pc not in v._forced:
            prints = v._exact_fp.get(pc)
            if prints is None or sum(map(_UMIN, st.cur.regs)) not in prints:
                return cp
    if olds is None:
        olds = v._visited[pc] = []
    is_iter = pc in v.iter_next
    is_may_goto = pc in v._may_goto_pcs
    is_cb = pc in v.cb_calls
    hist = st.hist
    forced = is_iter or is_may_goto or is_cb or (hist is not None and hist[4] > _MAX_HIST)
    jmps = v._jmps - v._prev_jmps
    insns = v.stats.insns_processed - v._prev_insns
    add = forced or (jmps >= _NEW_STATE[0] and insns >= _NEW_STATE[1])
    if not olds and not add:  # nothing to compare with, nothing to record
        return cp
    key = None
    prints = v._exact_fp.get(pc)
    fp = sum(map(_UMIN, st.cur.regs)) if not forced else 0
    if prints is not None and fp in prints and not forced:  # a state with these registers was recorded here
        key = fastpath.StateKey((pc, st.key()))
        for old in v._exact.get(key, ()):
            if old.evicted:
                continue
            if old.branches == 0:
                _hit(v, pc, st, cp, old, prev, False)
                return True
            if not v._has_may_goto and old.state.cb_unroll == st.cb_unroll and _is_ancestor(old, cp):
                v._reject_at(pc, st, Reject(errno.EINVAL, f"infinite loop detected at insn {pc}"))
    if not forced and olds and v._busy.get(pc, 0) == len(olds):
        # only states still being explored here (a loop's head): none can prune this path
        if jmps < _NEW_STATE_LOOP[0] and insns < _NEW_STATE_LOOP[1]:
            return cp
        return _miss_all(v, pc, st, cp, prev, olds, key, fp)
    active = False
    if is_iter:
        found = iters._head(st, v.iter_next[pc])
        active = found is not None and found[2].umin == iters.ITER_ACTIVE
    evict = False
    live = live_masks(v, pc, st) if olds else None
    exact = v.explore_alu_limits
    seen = len(olds)
    for old in reversed(olds):
        if old.branches:
            loop = False
            if is_iter:
                loop = active and state_subsumes(old.state, st, False, live, exact)
            elif is_may_goto:
                loop = old.state.may_goto_depth != st.may_goto_depth and state_subsumes(
                    old.state, st, False, live, exact
                )
            elif is_cb:  # a callback iteration converged (RANGE_WITHIN)
                loop = state_subsumes(old.state, st, False, live, exact)
            if loop:
                _hit(v, pc, st, cp, old, prev, True)
                return True
            if not forced and jmps < _NEW_STATE_LOOP[0] and insns < _NEW_STATE_LOOP[1]:
                add = False
        elif state_subsumes(old.state, st, _loose(v, old), live, exact):
            _hit(v, pc, st, cp, old, prev, False)
            return True
        if add:
            old.miss += 1
            n = 64 if forced and old.branches else 3
            if old.miss > old.hit * n + n:
                evict = _evict(v, pc, old)
    if evict:
        olds[:] = [o for o in olds if not o.evicted]
    if not add or (seen > _UNPRIV_MAX_STATES and not v.env.bpf_capable):
        return cp
    return _record(v, pc, st, cp, prev, olds, forced, key, fp)


def _evict(v: Verifier, pc: int, old: _Checkpoint) -> bool:
    old.evicted = True
    v._bucket_n[old.bucket] -= 1
    if old.branches:
        v._busy[pc] -= 1
    else:  # freed at once; else when its last path ends (Verifier._finish)
        v._live_n -= 1
    return True


def update_peak(v: Verifier) -> None:
    """``update_peak_states``: states alive (recorded and not freed, evicted ones included
    until freed) plus the loop backedge states kept for mark propagation."""
    cur = v._live_n + v._nback
    if cur > v.stats.peak_states:
        v.stats.peak_states = cur


def _miss_all(
    v: Verifier,
    pc: int,
    st: State,
    cp: _Checkpoint | None,
    prev: int,
    olds: list[_Checkpoint],
    key: fastpath.StateKey | None,
    fp: int,
) -> _Checkpoint:
    """No state here matched and a new one is recorded: each old one missed once more."""
    evict = False
    for old in olds:
        old.miss += 1
        if old.miss > old.hit * 3 + 3:
            evict = _evict(v, pc, old)
    if evict:
        olds[:] = [o for o in olds if not o.evicted]
    return _record(v, pc, st, cp, prev, olds, False, key, fp)


def _record(
    v: Verifier,
    pc: int,
    st: State,
    cp: _Checkpoint | None,
    prev: int,
    olds: list[_Checkpoint],
    forced: bool,
    key: fastpath.StateKey | None,
    fp: int,
) -> _Checkpoint:
    new = checkpoint(v, pc, st, cp, olds, prev)
    if not forced:
        if key is None:
            key = fastpath.StateKey((pc, st.key()))
        v._exact.setdefault(key, []).append(new)
        v._exact_fp.setdefault(pc, set()).add(fp)
    return new


def _hit(v: Verifier, pc: int, st: State, cp: _Checkpoint | None, old: _Checkpoint, prev: int, loop: bool) -> None:
    """A pruned path: its marks come from ``old`` (``propagate_precision``); a loop-head
    ``old`` still being explored keeps the path as a backedge of its loop."""
    old.hit += 1
    if pc != prev + 1:
        h = st.hist
        st.hist = (pc, prev, 0, h, h[4] + 1 if h is not None else 1)
    precision.propagate(v, old.state, st, cp, pc, live_masks(v, pc, st))
    if loop and v._scc is not None:
        key = loops.callchain(v._scc, st, pc)
        visit = v._visits.get(key) if key is not None else None
        if visit is not None:
            visit.backedges.append((st.copy(), cp, pc, old))
            v._nback += 1
            update_peak(v)


def _is_ancestor(old: _Checkpoint, cp: _Checkpoint | None) -> bool:
    while cp is not None:
        if cp is old:
            return True
        cp = cp.parent
    return False


def checkpoint(
    v: Verifier, pc: int, st: State, parent: _Checkpoint | None, olds: list[_Checkpoint], prev: int
) -> _Checkpoint:
    """Record ``st`` at ``pc`` (a new explored state below ``parent``); the path's history
    starts again there."""
    from structops.verifier.core import _Checkpoint

    new = _Checkpoint(pc, st.copy(), parent, 1, st.hist, st.first, prev)
    b = new.bucket = bucket(v, pc, st)
    v._bucket_n[b] = v._bucket_n.get(b, 0) + 1
    st.hist = None
    st.first = pc
    v.cur_cp = new
    v._prev_jmps = v._jmps
    v._prev_insns = v.stats.insns_processed
    if v._scc is not None:  # maybe_enter_scc
        key = loops.callchain(v._scc, st, pc)
        if key is not None:
            visit = v._visits.get(key)
            if visit is None:
                visit = v._visits[key] = loops.Visit()
            if visit.entry is None:
                visit.entry = new
                new.visit = visit
            new.scc = visit
    olds.append(new)
    v._busy[pc] = v._busy.get(pc, 0) + 1
    v.stats.total_states += 1
    v._live_n += 1
    update_peak(v)
    return new
