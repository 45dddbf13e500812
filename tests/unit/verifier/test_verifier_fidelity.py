"""Verifier rules added to match Linux 6.18 on the differential corpus (issue 12 items 2-5).

Each rule is also a recorded corpus case (tests/corpus/verifier, named in the docstrings);
these tests pin the pieces directly: the unprivileged loader's rules, the combined stack
of a call chain, socket references, the 32-bit signed range, pointer combinations and
what the networking helpers return at run time (values measured on Linux 6.18 here).
"""

from __future__ import annotations

import dataclasses
import errno
import struct

import pytest
from test_verifier_direct import _dummy_env
from vasm import EXIT, add, jmp_imm, mov, movr

from structops.errors import VerifierError
from structops.kernel.attrs import ProgLoadAttr, TestRunAttr
from structops.kernel.emulated import EmulatedKernel
from structops.uapi import Cmd, ProgType
from structops.verifier import ListLog, verify
from structops.verifier.bounds import alu, branch, s32_range
from structops.verifier.env import Reject
from structops.verifier.sockets import sock_access
from structops.verifier.stackdepth import check_max_stack_depth
from structops.verifier.state import Reg, RegType, const, reg_subsumes, unknown


def _unpriv() -> object:
    return dataclasses.replace(_dummy_env("test_1"), bpf_capable=False, allow_ptr_leaks=False)


# A rejection's log ends with the message, then the statistics line (as on Linux 6.18).


def _reject(code: bytes, env: object) -> VerifierError:
    with pytest.raises(VerifierError) as info:
        verify(code, env, ListLog())  # type: ignore[arg-type]
    return info.value


def test_back_edge_is_the_first_one_a_fallthrough_first_walk_meets() -> None:
    """Corpus sk_bounded_loop_unpriv: without CAP_BPF check_cfg refuses the first back-edge of
    its depth-first walk (fall-through before the jump), before any state is explored; Linux
    6.18 here names the second jump of ``top: r1 += 1; if r1 < 10 goto top; if r1 == 3 goto top``."""
    code = mov(0, 0) + mov(1, 0) + add(1, 1) + jmp_imm(0xA0, 1, 10, -2) + jmp_imm(0x10, 1, 3, -4) + EXIT
    err = _reject(code, _unpriv())
    assert err.errno == errno.EINVAL
    assert err.log.splitlines()[-2] == "back-edge from insn 4 to 1"


def test_pointer_rules_without_allow_ptr_leaks() -> None:
    """Corpus sk_ptr_minus_ptr_unpriv, sk_ptr_to_scalar_mov32_unpriv, sk_return_pointer_unpriv."""
    minus = movr(0, 10) + movr(2, 10) + add(2, -8) + struct.pack("<BBhi", 0x1F, 0x20, 0, 0) + EXIT
    assert _reject(minus, _unpriv()).log.splitlines()[-2] == "R0 pointer -= pointer prohibited"
    mov32 = struct.pack("<BBhi", 0xBC, 0xA0, 0, 0) + EXIT
    assert _reject(mov32, _unpriv()).log.splitlines()[-2] == "R10 partial copy of pointer"
    assert _reject(movr(0, 10) + EXIT, _unpriv()).log.splitlines()[-2] == "R0 leaks addr as return value"
    # with allow_ptr_leaks any pointer difference is an unknown scalar (data_end - data)
    verify(minus[:-8] + mov(0, 0) + EXIT, _dummy_env("test_1"), ListLog())


def test_combined_stack_of_a_chain_rounds_each_frame_to_16() -> None:
    """Corpus sk_call_stack_over_512 / c_tp_stack_too_big: 264 + 256 bytes are 272 + 256 = 528."""
    insns = struct.pack("<BBhi", 0x85, 0x10, 0, 1) + EXIT + EXIT  # main calls f at insn 2
    owner = {0: 0, 1: 0, 2: 2}
    check_max_stack_depth(insns, owner, {0: 256, 2: 256}, [0])
    with pytest.raises(Reject) as info:
        check_max_stack_depth(insns, owner, {0: 264, 2: 256}, [0])
    assert info.value.errno == errno.EACCES
    assert info.value.message == "combined stack size of 2 calls is 528. Too large"


def test_bpf_sock_reads_follow_bpf_sock_is_valid_access() -> None:
    """c_tc_sk_lookup_release reads sk->state (off 72, 4 bytes); narrow loads only of the
    address/port/state fields; nothing is written."""
    sk = Reg(RegType.PTR_TO_SOCKET, 0, 0, ref_obj_id=1, id=1)
    assert sock_access(1, sk, 72, 4, False) is not None
    assert sock_access(1, sk, 4, 2, False) is not None  # family, narrow
    for off, size in ((16, 2), (80, 4), (6, 4), (-4, 4)):  # mark narrow, past the end, misaligned
        with pytest.raises(Reject, match=f"R1 invalid sock access off={off} size={size}"):
            sock_access(1, sk, off, size, False)
    with pytest.raises(Reject, match="R1 cannot write into sock"):
        sock_access(1, sk, 72, 4, True)


def test_s32_range_of_neg32_bounds_the_later_add32() -> None:
    """Corpus sk_alu_neg32: neg32 of [0, 7] is [-7, 0] as s32, +15 is [8, 15] zero-extended."""
    r = unknown(0, 7)
    neg = alu(0x80, r, const(0), 32)
    assert s32_range(neg) == (-7, 0)
    out = alu(0x00, neg, const(15), 32)
    assert (out.umin, out.umax, out.smin, out.smax) == (8, 15, 8, 15)
    # pruning: a state that knew less about the low 32 bits does not cover one that knew more
    assert reg_subsumes(neg, neg) and not reg_subsumes(neg, unknown(0, 0xFFFFFFFF))


def test_jmp32_eq_fixes_the_low_bits_and_jset32_tests_the_64_bit_value() -> None:
    """Corpus sk_jeq32_9_in_dw / sk_jset32_1_in_dw: the known low bits give smin S64_MIN + 9 / + 1."""
    eq = branch(0x10, unknown(), const(9), 32, True)
    assert (eq.tv, eq.tm, eq.smin) == (9, 0xFFFFFFFF00000000, -(1 << 63) + 9)
    bit = branch(0x40, unknown(), const(1), 32, True)
    assert bit.tv & 1 and bit.smin == -(1 << 63) + 1


@pytest.mark.parametrize(
    ("ptype", "flags", "retval"),
    [
        (ProgType.BPF_PROG_TYPE_SCHED_CLS, 0, 7),  # TC_ACT_REDIRECT
        (ProgType.BPF_PROG_TYPE_SCHED_CLS, 1, 7),  # BPF_F_INGRESS
        (ProgType.BPF_PROG_TYPE_SCHED_CLS, 2, 2),  # unknown flag: TC_ACT_SHOT
        (ProgType.BPF_PROG_TYPE_XDP, 0, 4),  # XDP_REDIRECT
        (ProgType.BPF_PROG_TYPE_XDP, 1, 0),  # any flag: XDP_ABORTED
    ],
)
def test_bpf_redirect_returns_the_verdict_linux_returns(ptype: int, flags: int, retval: int) -> None:
    """Corpus tc_helper_redirect / xdp_helper_redirect load; a test run returns what Linux 6.18
    returned here for ``return bpf_redirect(1, flags)``."""
    k = EmulatedKernel()
    fd = k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ptype, mov(1, 1) + mov(2, flags) + _call(23) + EXIT))
    run = TestRunAttr(fd, data_in=bytes(64))
    k.bpf(Cmd.BPF_PROG_TEST_RUN, run)
    assert run.retval == retval


def _call(hid: int) -> bytes:
    return struct.pack("<BBhi", 0x85, 0, 0, hid)


_TC_PKT = struct.pack("<BBhi", 0x61, 0x12, 76, 0) + struct.pack("<BBhi", 0x61, 0x13, 80, 0)  # r2 data, r3 end


def _tc_load(body: bytes) -> int:
    k = EmulatedKernel()
    return int(k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ProgType.BPF_PROG_TYPE_SCHED_CLS, _TC_PKT + body)))


def _x(op: int, dst: int, src: int, off: int = 0) -> bytes:
    return struct.pack("<BBhi", op, dst | src << 4, off, 0)


def test_variable_offset_packet_pointer_gets_its_own_range() -> None:
    """``p = data + (data[0] & 7); if (p + 8 > data_end) goto out; return p[7];`` loads on Linux
    6.18 (measured here); ``p[8]`` is refused: the range is proven past the variable part."""

    def prog(off: int) -> bytes:
        return (
            movr(4, 2) + add(4, 14) + _x(0x2D, 4, 3, 9)  # if data + 14 > end goto out
            + _x(0x71, 5, 2) + struct.pack("<BBhi", 0x57, 5, 0, 7)  # r5 = data[0] & 7
            + movr(6, 2) + _x(0x0F, 6, 5) + movr(7, 6) + add(7, 8)  # r6 = data + r5; r7 = r6 + 8
            + _x(0x2D, 7, 3, 2) + _x(0x71, 0, 6, off) + EXIT  # if r7 > end goto out; r0 = r6[off]
            + mov(0, 0) + EXIT
        )  # fmt: skip

    assert _tc_load(prog(7)) > 0
    with pytest.raises(VerifierError) as info:
        _tc_load(prog(8))
    assert info.value.errno == errno.EACCES and "R6 offset is outside of the packet" in info.value.log


def test_signed_jmp32_narrows_the_low_32_bits() -> None:
    """``if ((s32)w < 0) goto out; if ((s32)w > 15) goto out;`` bounds a 32-bit load to [0, 15]
    (Linux 6.18 accepts the indexed access, measured here); a 64-bit value keeps the s32 range
    and its bit 31 is known clear (6.18 logs ``umax=0xffffffff7fffffff`` after ``if w6 s< 0``)."""
    word = unknown(0, 0xFFFFFFFF)
    nonneg = branch(0xC0, word, const(0), 32, False)
    assert (nonneg.umin, nonneg.umax) == (0, (1 << 31) - 1)
    assert branch(0x60, nonneg, const(15), 32, False).umax == 15
    wide = branch(0xC0, unknown(), const(0), 32, False)
    assert s32_range(wide) == (0, (1 << 31) - 1) and wide.umax == 0xFFFFFFFF7FFFFFFF
    assert (wide.umin32, wide.umax32) == (0, (1 << 31) - 1)


def test_constant_pointer_offsets_past_2_pow_29_are_einval() -> None:
    """check_reg_sane_offset as measured on Linux 6.18: a constant of 2^30 added to a stack pointer
    is 'math between fp pointer and -1073741824 is not allowed'; two adds reaching 2^30 - 2 are
    'fp pointer offset -1073741822 is not allowed' (EINVAL, at the ALU insn)."""
    env = _dummy_env("test_1")
    big = movr(2, 10) + add(2, -(1 << 30)) + mov(0, 0) + EXIT
    err = _reject(big, env)
    assert (
        err.errno == errno.EINVAL
        and err.log.splitlines()[-2] == "math between fp pointer and -1073741824 is not allowed"
    )
    two = movr(2, 10) + add(2, -(1 << 29) + 1) + add(2, -(1 << 29) + 1) + mov(0, 0) + EXIT
    assert _reject(two, env).log.splitlines()[-2] == "fp pointer offset -1073741822 is not allowed"
