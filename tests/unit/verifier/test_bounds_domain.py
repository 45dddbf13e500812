"""The scalar domain (tnum + u64/s64/u32/s32 ranges) is sound: every concrete result is
inside the abstract result (issue 12 item 3).  Precision facts are the corpus' job
(tests/corpus/verifier, recorded from Linux 6.18); here hypothesis samples concrete
values inside random abstract operands and checks each operation contains the result,
and runs random ALU / JMP32 sequences on a concrete value beside its abstract one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from structops.verifier import bounds
from structops.verifier import refine as refine_mod
from structops.verifier.scalar import _cmp, alu_const, alu_range, branch_outcome, refine, unary
from structops.verifier.state import NOT_INIT, Reg, RegType, const
from structops.verifier.tnum import tadd, tand, tarshift, tcontains, tlshift, tmul, tor, trange, trshift, tsub, txor

U64 = (1 << 64) - 1
_SET = settings(max_examples=300, deadline=None)


@st.composite
def _abstract(draw: st.DrawFn) -> tuple[Reg, int]:
    """An abstract scalar and one concrete value it contains."""
    x = draw(st.one_of(st.integers(0, 64), st.integers(0, U64), st.integers(U64 - 64, U64)))
    width = draw(st.sampled_from([0, 1, 7, 255, 1 << 20, 1 << 40, U64]))
    lo = max(0, x - draw(st.integers(0, width)))
    hi = min(U64, x + draw(st.integers(0, width)))
    reg = bounds.make_scalar(lo, hi)
    assert reg is not None
    if draw(st.booleans()):  # also constrain some bits to x's
        known = draw(st.integers(0, U64))
        narrowed = bounds.make_scalar(reg.umin, reg.umax, reg.smin, reg.smax, (x & known, U64 & ~known))
        assert narrowed is not None
        reg = narrowed
    return reg, x


def _contains(r: Reg, x: int) -> bool:
    s = x - (1 << 64) if x >> 63 else x
    low = x & 0xFFFFFFFF
    s32 = low - (1 << 32) if low >> 31 else low
    return (
        r.umin <= x <= r.umax
        and r.smin <= s <= r.smax
        and r.umin32 <= low <= r.umax32
        and r.smin32 <= s32 <= r.smax32
        and tcontains((r.tv, r.tm), x)
    )


@_SET
@given(a=_abstract(), b=_abstract(), op=st.sampled_from([0x00, 0x10, 0x20, 0x40, 0x50, 0xA0, 0x30, 0x90, 0x80]))
def test_alu_results_contain_every_concrete_result(a: tuple[Reg, int], b: tuple[Reg, int], op: int) -> None:
    (ra, x), (rb, y) = a, b
    for bits in (64, 32):
        res = bounds.alu(op, ra, rb, bits) if op not in (0x30, 0x90) else None
        if res is None:
            continue
        assert _contains(res, alu_const(op, x, y, bits)), (op, bits, ra, rb, x, y, res)


@_SET
@given(a=_abstract(), k=st.integers(0, 63), op=st.sampled_from([0x60, 0x70, 0xC0]))
def test_shifts_by_constants_are_sound(a: tuple[Reg, int], k: int, op: int) -> None:
    ra, x = a
    for bits in (64, 32):
        kk = k & (bits - 1)
        assert _contains(bounds.alu(op, ra, const(kk), bits), alu_const(op, x, kk, bits))


@_SET
@given(
    a=_abstract(), b=_abstract(), op=st.sampled_from([0x10, 0x50, 0x20, 0x30, 0xA0, 0xB0, 0x60, 0x70, 0xC0, 0xD0, 0x40])
)
def test_branches_keep_the_concrete_values(a: tuple[Reg, int], b: tuple[Reg, int], op: int) -> None:
    """``is_branch_taken`` never contradicts a concrete run; refinement keeps the value."""
    (ra, x), (rb, y) = a, b
    for bits in (64, 32):
        taken = branch_outcome(op, const(x), const(y), bits)
        assert taken is not None
        decided = branch_outcome(op, ra, rb, bits)
        assert decided is None or decided == taken, (op, bits, ra, rb, x, y)
        assert _contains(refine(op, ra, rb, bits, taken), x)


@_SET
@given(
    x=st.integers(0, U64), y=st.integers(0, U64), mx=st.integers(0, U64), my=st.integers(0, U64), k=st.integers(0, 63)
)
def test_tnum_ops_are_sound(x: int, y: int, mx: int, my: int, k: int) -> None:
    a, b = (x & ~mx, mx), (y & ~my, my)
    # x and y themselves are members of a and b
    assert tcontains(a, x) and tcontains(b, y)
    assert tcontains(tadd(a, b), (x + y) & U64)
    assert tcontains(tsub(a, b), (x - y) & U64)
    assert tcontains(tand(a, b), x & y)
    assert tcontains(tor(a, b), x | y)
    assert tcontains(txor(a, b), x ^ y)
    assert tcontains(tmul(a, b), (x * y) & U64)
    assert tcontains(tlshift(a, k), (x << k) & U64)
    assert tcontains(trshift(a, k), x >> k)
    sx = x - (1 << 64) if x >> 63 else x
    assert tcontains(tarshift(a, k), (sx >> k) & U64)
    lo, hi = min(x, y), max(x, y)
    assert tcontains(trange(lo, hi), lo) and tcontains(trange(lo, hi), hi)


def test_kernel_facts_of_the_domain() -> None:
    """Facts the corpus relies on, in the domain's own terms."""
    unknown = Reg(RegType.SCALAR)
    masked = bounds.alu(0x50, unknown, const(0xFE), 64)
    assert (masked.umin, masked.umax, masked.tv, masked.tm) == (0, 0xFE, 0, 0xFE)
    assert branch_outcome(0x40, masked, const(1), 64) is False  # r &= 0xfe; if r & 1: dead
    sar = bounds.alu(0xC0, unknown, const(60), 64)
    assert (sar.smin, sar.smax) == (-8, 7)
    plus8 = bounds.alu(0x00, sar, const(8), 64)
    assert (plus8.umin, plus8.umax, plus8.smin, plus8.smax) == (0, 15, 0, 15)
    neg = bounds.alu(0x80, bounds.alu(0x50, unknown, const(7), 64), const(0), 64)
    assert (neg.smin, neg.smax) == (-7, 0)
    signed = refine(0xD0, refine(0x70, unknown, const(0), 64, True), const(15), 64, True)  # s >= 0, s <= 15
    assert (signed.umin, signed.umax) == (0, 15)


_M32 = 0xFFFFFFFF
_IMMS = st.one_of(
    st.sampled_from([0, 1, 7, 15, 16, 31, 255, 0x7FFFFFFF, -1, -8, -0x80000000, 0x10000]),
    st.integers(-(1 << 31), (1 << 31) - 1),
)
#: One step: ("alu", op, bits, imm or None for the other register, off) / ("jmp", op, bits, imm or None).
_STEP = st.one_of(
    st.tuples(
        st.just("alu"),
        st.sampled_from([0x00, 0x10, 0x20, 0x40, 0x50, 0xA0, 0x60, 0x70, 0xC0, 0x80, 0xB0, 0x30, 0x90]),
        st.sampled_from([32, 64]),
        st.one_of(_IMMS, st.none()),
        st.sampled_from([0, 0, 0, 8, 16, 32]),
    ),
    st.tuples(
        st.just("jmp"),
        st.sampled_from([0x10, 0x50, 0x20, 0x30, 0xA0, 0xB0, 0x60, 0x70, 0xC0, 0xD0, 0x40]),
        st.sampled_from([32, 32, 64]),
        st.one_of(_IMMS, st.none()),
        st.just(0),
    ),
)


@st.composite
def _abstract32(draw: st.DrawFn) -> tuple[Reg, int]:
    """An abstract scalar narrowed by u32 / s32 facts around one concrete value."""
    reg, x = draw(_abstract())
    low = x & _M32
    w = draw(st.sampled_from([0, 3, 1 << 16, 1 << 31]))
    lo, hi = max(0, low - draw(st.integers(0, w))), min(_M32, low + draw(st.integers(0, w)))
    narrowed = bounds.make_scalar(reg.umin, reg.umax, reg.smin, reg.smax, (reg.tv, reg.tm), u32=(lo, hi))
    assert narrowed is not None
    return narrowed, x


@given(a=_abstract32(), b=_abstract32(), steps=st.lists(_STEP, min_size=1, max_size=12))
@settings(deadline=None)
def test_alu_and_jmp32_sequences_keep_the_concrete_value(
    a: tuple[Reg, int], b: tuple[Reg, int], steps: list[tuple[str, int, int, int | None, int]]
) -> None:
    """Soundness along a path: after every ALU (32/64-bit, immediate or the other register,
    movsx) and every JMP/JMP32 (the side the concrete values take), both abstract registers
    still contain their concrete values in all five ranges and the tnum; a decided jump is
    decided the concrete way."""
    (ra, x), (rb, y) = a, b
    for kind, op, bits, imm, off in steps:
        mask = (1 << bits) - 1
        src, v = (
            (rb, y)
            if imm is None
            else (const(imm if bits == 64 else imm & _M32), (imm if bits == 64 else imm & _M32) & U64)
        )
        if kind == "alu":
            if op in (0x60, 0x70, 0xC0) and imm is not None:
                v &= bits - 1
                src = const(v)
            if op == 0xB0 and (imm is not None or (bits == 32 and off == 32)):
                off = 0
            if op in (0x30, 0x90):
                off = 0
            if op == 0x80:
                ra, x = unary(0x80, ra, bits, 0, "le"), alu_const(0x80, x, 0, bits)
            elif op == 0xB0:
                ra, x = alu_range(0xB0, NOT_INIT, src, bits, off), alu_const(0xB0, 0, v, bits, off)
            else:
                if op in (0x60, 0x70, 0xC0) and (v & U64) >= bits:
                    v_eff = v & (bits - 1)  # the VM masks the amount; the verifier says unknown
                    ra, x = alu_range(op, ra, src, bits, off), alu_const(op, x, v_eff, bits, off)
                else:
                    ra, x = alu_range(op, ra, src, bits, off), alu_const(op, x, v, bits, off)
            assert _contains(ra, x), (kind, op, bits, imm, off, ra, x)
            continue
        taken = _cmp(op, x & mask, v & mask, bits)
        decided = branch_outcome(op, ra, src, bits)
        assert decided is None or decided == taken, (op, bits, ra, src, x, v)
        if decided is None:
            rev = op if taken else refine_mod.REV[op]
            na, nb = refine_mod.refine_pair(rev, ra, src, bits)
            assert _contains(na, x), (op, bits, taken, ra, src, x, v, na)
            assert _contains(nb, v), (op, bits, taken, ra, src, x, v, nb)
            ra = na
            if imm is None:
                rb = nb
        assert _contains(ra, x) and _contains(rb, y)
