"""The verifier driven directly (no PROG_LOAD): complexity limit, fuzzing, scalar ranges."""

from __future__ import annotations

import errno
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vasm import EXIT, JNE, add, jmp_imm, ldx_dw, mov

from structops.errors import VerifierError
from structops.isa.opcodes import OPCODES
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.struct_ops import _func_proto_of
from structops.verifier import ListLog, ProgEnv, verify
from structops.verifier.scalar import alu_range, branch_outcome, refine
from structops.verifier.state import const, unknown

_KERNEL = EmulatedKernel()


def _dummy_env(member: str = "test_2") -> ProgEnv:
    d = _KERNEL.find_struct_ops("bpf_dummy_ops")
    assert d is not None
    idx = [m.name for m in d.type.members].index(member)
    proto = _func_proto_of(d.type.members[idx].type)
    assert proto is not None
    return ProgEnv(
        spec=_KERNEL.vmlinux.spec,
        member_name=member,
        params=tuple(proto.params),
        ret=proto.return_type,
        ctx_args=tuple(d.arg_info[idx]),
        write_check=d.ops.verifier_ops.btf_struct_access,
        st_ops_name="bpf_dummy_ops",
        kfunc=_KERNEL.kfunc_by_id,
    )


def test_complexity_limit_is_e2big() -> None:
    # r1 counts up forever (2**64 iterations of distinct constants): the budget stops it
    code = mov(0, 0) + mov(1, 0) + add(1, 1) + jmp_imm(JNE, 1, 0, -2) + EXIT
    with pytest.raises(VerifierError) as ei:
        verify(code, _dummy_env(), ListLog(), limit=5000)
    assert ei.value.errno == errno.E2BIG
    assert "BPF program is too large. Processed 5001 insn" in ei.value.log


def test_budget_counts_processed_insns() -> None:
    code = mov(0, 0) + mov(1, 0) + add(1, 1) + jmp_imm(0xA0, 1, 50, -2) + EXIT
    stats = verify(code, _dummy_env(), ListLog(), limit=10_000)
    assert stats.insns_processed >= 100  # the loop body really ran 50 times
    with pytest.raises(VerifierError):
        verify(code, _dummy_env(), ListLog(), limit=60)


def test_branches_prune_on_equal_states() -> None:
    # 12 independent unknown diamonds: 4096 paths without pruning, linear with it
    body = ldx_dw(2, 1, 8)
    for _ in range(12):
        body += jmp_imm(0x10, 2, 7, 1) + mov(3, 1)
    code = body + mov(0, 0) + EXIT
    stats = verify(code, _dummy_env(), ListLog(), limit=2000)
    assert stats.insns_processed < 200


def test_scalar_ranges() -> None:
    assert alu_range(0x00, const(3), const(4), 64) == const(7)
    assert alu_range(0x10, const(0), const(1), 32) == const(0xFFFFFFFF)
    r = alu_range(0x50, unknown(), const(0xFF), 64)
    assert (r.umin, r.umax) == (0, 0xFF)
    r = alu_range(0x70, unknown(0, 1000), const(2), 64)
    assert (r.umin, r.umax) == (0, 250)
    assert branch_outcome(0xA0, unknown(0, 9), const(10), 64) is True
    assert branch_outcome(0x20, unknown(0, 9), const(10), 64) is False
    assert branch_outcome(0x10, unknown(0, 9), const(5), 64) is None
    r = refine(0xA0, unknown(), const(10), 64, True)
    assert (r.umin, r.umax) == (0, 9)
    r = refine(0xA0, unknown(), const(10), 64, False)
    assert r.umin == 10


_VALID = sorted(op for op, spec in OPCODES.items() if spec.kind.name not in ("LD_ABS", "LD_IND", "CALLX"))


@st.composite
def insn_strategy(
    draw: st.DrawFn, offs: tuple[int, ...], imms: tuple[int, ...], jump: int, reserved_one_in: int = 0
) -> bytes:
    """One well-formed insn (reserved fields zero, so paths get past check_cfg): ``off``
    and ``imm`` from ``offs``/``imms``, jumps within ``jump`` slots; with ``reserved_one_in``
    set, about one insn in that many gets a reserved imm (check_cfg's error)."""
    op = draw(st.sampled_from(_VALID))
    spec = OPCODES[op]
    regs = st.sampled_from([0, 1, 2, 3, 6, 10])
    dst = 0 if spec.dst_zero else draw(regs)
    src = 0 if spec.src_zero else draw(regs)
    off = draw(st.sampled_from(offs))
    imm = draw(st.sampled_from(imms))
    if spec.off_zero:
        off = 0
    elif spec.off_values is not None:
        off = draw(st.sampled_from(sorted(spec.off_values)))
    if spec.imm_zero:
        imm = 0
    elif spec.imm_values is not None:
        imm = draw(st.sampled_from(sorted(spec.imm_values)))
    if spec.src_values is not None:
        src = 0
    if spec.kind.name in ("JCOND", "JA", "MAY_GOTO"):
        off = draw(st.integers(-jump, jump))
    if op == 0x85:
        imm = draw(st.sampled_from([1, 2, 5, 7]))
    if reserved_one_in and draw(st.integers(0, reserved_one_in - 1)) == 0:
        imm = 3 if spec.imm_zero else imm
    raw = struct.pack("<BBhi", op, (src << 4) | dst, off, imm)
    return raw + bytes(8) if op == 0x18 else raw


_insn = insn_strategy((-16, -8, -4, -1, 0, 1, 2, 4, 8), (0, 1, 2, 5, 8, 32, -1, -8), 3)


@st.composite
def _programs(draw: st.DrawFn) -> bytes:
    body = b"".join(draw(st.lists(_insn, min_size=1, max_size=20)))
    return body + mov(0, 0) + EXIT


@settings(max_examples=60, deadline=None)
@given(_programs())
def test_random_programs_never_crash_and_terminate_fast(code: bytes) -> None:
    t0 = time.perf_counter()
    try:
        verify(code, _dummy_env(), ListLog(), limit=20_000)
    except OSError as exc:
        assert exc.errno in (errno.EINVAL, errno.EACCES, errno.E2BIG, errno.EBADF, errno.ENOENT)
    assert time.perf_counter() - t0 < 5.0


def test_struct_returning_op_with_nonzero_scalar_reports_its_signed_bounds() -> None:
    """An op returning a struct pointer may return the scalar 0 only; otherwise the message is
    the kernel's verbose_invalid_scalar (signed bounds it knows, or "unknown scalar value"),
    as the async-callback exit already reports it (V15)."""
    from dataclasses import replace

    from structops import btf as btflib

    ptr = next(
        t
        for t in _KERNEL.vmlinux.spec.types
        if isinstance(t, btflib.Pointer) and isinstance(btflib.underlying(t.target), btflib.Struct)
    )
    env = replace(_dummy_env(), ret=ptr)
    verify(mov(0, 0) + EXIT, env, ListLog())
    with pytest.raises(VerifierError) as ei:
        verify(mov(0, 7) + EXIT, env, ListLog())
    assert ei.value.errno == errno.EINVAL
    assert "At program exit the register R0 has smin=7 smax=7 should have been in [0, 0]" in ei.value.log
    with pytest.raises(VerifierError) as ei:
        verify(ldx_dw(0, 1, 32) + EXIT, env, ListLog())  # the u64 argument: any value
    assert "At program exit the register R0 has unknown scalar value should have been in [0, 0]" in ei.value.log
