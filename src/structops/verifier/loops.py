"""Loops of the instruction graph and the precision marks that are final only when a loop's
exploration ends (the kernel's ``compute_scc``, ``struct bpf_scc_visit`` and
``propagate_backedges``, Linux 6.18).

A loop-head state whose exploration is not finished may prune a path; its precise marks
can still grow, so the pruned path is remembered as a backedge of the loop pass
(:class:`Visit`) and gets the marks handed back (:func:`propagate_backedges`) when the
pass's first checkpoint is done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from structops.uapi import BPF_PSEUDO_KFUNC_CALL
from structops.verifier.env import Reject
from structops.verifier.precision import mark_all, propagate
from structops.verifier.state import State

if TYPE_CHECKING:
    from structops.verifier.core import Verifier, _Checkpoint

__all__ = ["SYNC_CALLBACK_HELPERS", "Visit", "callchain", "calls_sync_callback", "propagate_backedges", "sccs"]

#: Helpers that call a sync callback an unknown number of times: bpf_loop, bpf_for_each_map_elem.
SYNC_CALLBACK_HELPERS = frozenset({181, 164})


class Visit:
    """``struct bpf_scc_visit``: one pass of the paths through a loop (a strongly connected
    component of the instruction graph, per chain of call sites).  ``entry`` is the first
    checkpoint made inside it; ``backedges`` the states pruned there by a loop-head state
    whose exploration was not finished (their marks are handed back when ``entry`` is done)."""

    __slots__ = ("backedges", "entry")

    def __init__(self) -> None:
        self.entry: _Checkpoint | None = None
        self.backedges: list[tuple[State, _Checkpoint | None, int, _Checkpoint]] = []


def sccs(code: list[tuple[int, int, int, int, int]], succ: object, implicit: object = ()) -> list[int]:
    """The loop (strongly connected component with a cycle) of every insn, 0 for none (``compute_scc``).

    ``succ(pc)`` lists an insn's successors inside its subprogram (a call falls through);
    an insn in ``implicit`` (a call re-entered after each callback iteration) is a loop even
    alone."""
    n = len(code)
    index = [-1] * n
    low = [0] * n
    on = bytearray(n)
    out = [0] * n
    stk: list[int] = []
    counter = 0
    nscc = 0
    get = succ  # type: ignore[assignment]
    for root in range(n):
        if index[root] >= 0:
            continue
        work: list[tuple[int, list[int], int]] = [(root, [t for t in get(root) if 0 <= t < n], 0)]  # type: ignore[operator]
        index[root] = low[root] = counter
        counter += 1
        stk.append(root)
        on[root] = 1
        while work:
            node, nexts, k = work[-1]
            if k < len(nexts):
                work[-1] = (node, nexts, k + 1)
                t = nexts[k]
                if index[t] < 0:
                    index[t] = low[t] = counter
                    counter += 1
                    stk.append(t)
                    on[t] = 1
                    work.append((t, [x for x in get(t) if 0 <= x < n], 0))  # type: ignore[operator]
                elif on[t]:
                    low[node] = min(low[node], index[t])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    x = stk.pop()
                    on[x] = 0
                    members.append(x)
                    if x == node:
                        break
                if len(members) > 1 or node in nexts or node in implicit:  # type: ignore[operator]
                    nscc += 1
                    for x in members:
                        out[x] = nscc
    return out


def callchain(scc: list[int], st: State, pc: int) -> tuple[int, ...] | None:
    """``compute_scc_callchain``: the call sites down to the first frame whose insn is in a
    loop, then that loop; None when no frame's insn is."""
    frames = st.frames
    n = len(frames)
    sites: list[int] = []
    for i in range(n):
        if i + 1 < n:
            cs = frames[i + 1].callsite
            insn = cs if cs >= 0 else -cs - 2
        else:
            insn = pc
        if not 0 <= insn < len(scc):
            return None
        if scc[insn]:
            return (*sites, -scc[insn])
        sites.append(insn)
    return None


def propagate_backedges(v: Verifier, visit: Visit) -> None:
    """At a loop's exit: hand the (now final) marks of each loop-head state to the paths it
    pruned, until nothing changes (``propagate_backedges``)."""
    for _ in range(64):
        changed = False
        for st, cp, pc, old in visit.backedges:
            changed |= propagate(v, old.state, st, cp, pc)
        if not changed:
            break
    else:
        for _st, cp, _pc, _old in visit.backedges:
            mark_all(cp)
    v._nback -= len(visit.backedges)
    visit.backedges.clear()


def calls_sync_callback(v: Verifier, pc: int) -> bool:
    """The call at ``pc`` re-enters a sync callback after each iteration (an implicit loop):
    a helper of :data:`SYNC_CALLBACK_HELPERS`, or ``bpf_rbtree_add_impl`` (its ``less``)."""
    c = v.code[pc]
    if c[2] == 0:
        return c[4] in SYNC_CALLBACK_HELPERS
    if c[2] != BPF_PSEUDO_KFUNC_CALL or v.env.kfunc is None:
        return False
    try:
        return getattr(v.env.kfunc(c[4], c[3]), "name", "") == "bpf_rbtree_add_impl"
    except Reject:
        return False
