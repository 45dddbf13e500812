"""Linked scalars as Linux 6.18 (issue 12 item 2): ``reg->id`` of copies, ``+= const``
deltas, ``sync_linked_regs`` after an undecided jump, ``check_scalar_ids`` when pruning.

The module functions are driven on hand-made states; the corpus's ``linked_*`` cases
(``tests/corpus/verifier/cases_linked.py``) hold the same behaviours recorded from this
machine's kernel, privileged and unprivileged.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from structops.verifier import linked
from structops.verifier.refine import REV, refine_pair
from structops.verifier.state import Frame, Reg, ScalarIds, State, const, state_subsumes, unknown


class _V:
    """The verifier as the module sees it: the loader's CAP_BPF and the id counter."""

    def __init__(self, bpf_capable: bool = True) -> None:
        self.env = SimpleNamespace(bpf_capable=bpf_capable)
        self._id = 0

    def new_id(self) -> int:
        self._id += 1
        return self._id


def _state(*regs: tuple[int, Reg]) -> State:
    r = [unknown()] * 11
    for i, x in regs:
        r[i] = x
    return State([Frame(r, {})])


def _mov(v: Any, st: State, d: int, s: int, bits: int = 64) -> None:
    regs = st.cur.regs
    regs[d] = linked.mov_result(v, regs, s, regs[s], bits, 0)


def _jump(st: State, op: int, d: int, imm: int) -> tuple[State, State]:
    """``if R<d> op imm``: (taken, fall-through) with linked scalars synced."""
    a, b = st.cur.regs[d], const(imm)
    links = linked.jump(st, 0, d, -1)
    other = st.copy()
    other.cur.regs[d], _ = refine_pair(op, a, b, 64, False)
    st.cur.regs[d], _ = refine_pair(REV[op], a, b, 64, False)
    for side in (other, st):
        linked.after_jump(side, d, -1, a, None, links)
    return other, st


def test_copy_shares_an_id_and_a_jump_narrows_both() -> None:
    v = _V()
    st = _state((0, unknown()))
    _mov(v, st, 1, 0)
    r0, r1 = st.cur.regs[0], st.cur.regs[1]
    assert r0.id and r0.id == r1.id
    taken, fall = _jump(st, 0x20, 1, 7)  # if r1 > 7
    assert (fall.cur.regs[0].umin, fall.cur.regs[0].umax) == (0, 7)
    assert taken.cur.regs[0].umin == 8 and taken.cur.regs[0].id == r0.id


def test_a_constant_added_to_a_copy_is_kept_as_its_delta() -> None:
    v = _V()
    st = _state((0, unknown(0, 255)))
    _mov(v, st, 1, 0)
    r1 = st.cur.regs[1]
    st.cur.regs[1] = linked.alu_result(v, 0x00, r1, const(4), unknown(4, 259), 64)
    assert st.cur.regs[1].id & linked.ADD_CONST and st.cur.regs[1].delta == 4
    _, fall = _jump(st, 0x20, 1, 11)  # r1 <= 11 -> r0 <= 7
    assert (fall.cur.regs[0].umin, fall.cur.regs[0].umax) == (0, 7)
    again = linked.alu_result(v, 0x00, fall.cur.regs[1], const(2), unknown(), 64)
    assert again.id == 0  # a second += breaks the link


def test_sub_negative_and_32_bit_constants() -> None:
    v = _V()
    r = replace_id(unknown(0, 255), 5)
    assert linked.alu_result(v, 0x10, r, const(4), unknown(), 64).delta == -4
    assert linked.alu_result(v, 0x00, r, const(-4), unknown(), 64).delta == -4
    assert linked.alu_result(v, 0x00, r, const(4), unknown(), 32).id & linked.ADD_CONST32
    assert linked.alu_result(v, 0x00, r, const(1 << 40), unknown(), 64).id == 0  # not a 32-bit constant
    assert linked.alu_result(v, 0x20, r, const(4), unknown(), 64).id == 0  # any other operation
    assert linked.alu_result(_V(bpf_capable=False), 0x00, r, const(4), unknown(), 64).id == 0


def replace_id(r: Reg, rid: int) -> Reg:
    return linked.with_id(r, rid)


def test_32_bit_copy_links_only_a_value_that_fits() -> None:
    v = _V()
    st = _state((0, unknown(0, 255)), (2, unknown()))
    _mov(v, st, 1, 0, bits=32)
    assert st.cur.regs[1].id == st.cur.regs[0].id != 0
    _mov(v, st, 3, 2, bits=32)
    assert st.cur.regs[3].id == 0


def test_linked_scalars_must_pair_up_when_pruning() -> None:
    """check_scalar_ids: linked scalars of the explored state must be linked the same way
    (ids renamed) in the new one; independent ones (no id) cover linked ones."""
    a = unknown(0, 255)
    old = _state((1, a), (2, a))
    new = _state((1, linked.with_id(a, 9)), (2, linked.with_id(a, 9)))
    assert state_subsumes(old, new)
    assert not state_subsumes(new, old)
    renamed = _state((1, linked.with_id(a, 3)), (2, linked.with_id(a, 3)))
    assert state_subsumes(renamed, new)
    split = _state((1, linked.with_id(a, 3)), (2, linked.with_id(a, 4)))
    assert not state_subsumes(renamed, split)
    ids = ScalarIds()
    assert ids.check(3, 9) and not ids.check(3, 8) and not ids.check(4, 9)


def test_backtracking_marks_the_linked_set_as_one() -> None:
    flags = linked.locs_mask([(0, True, 1), (0, True, 2), (0, False, 3)])
    regs, slots = [1 << 2], [0]
    linked.bt_sync(flags, regs, slots)
    assert regs == [(1 << 1) | (1 << 2)] and slots == [1 << 3]
    regs, slots = [1 << 5], [0]
    linked.bt_sync(flags, regs, slots)
    assert regs == [1 << 5] and slots == [0]
