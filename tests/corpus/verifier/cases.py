"""The verifier differential corpus (issue 12): struct_ops programs here, the other program
types, unprivileged loaders, hostile bytecode and the C objects in ``cases_types.py``.

Each :class:`Case` is assembly text (:mod:`structops.isa.asm`) for one member of a
struct_ops type both kernels have (``bpf_dummy_ops.test_1`` takes
``struct bpf_dummy_ops_state *``; ``tcp_congestion_ops.ssthresh`` takes ``struct sock *``).
Programs that call map helpers target ``tcp_congestion_ops`` (``bpf_dummy_ops`` members may
not call them on 6.18).  Placeholders are filled per kernel by :func:`render`: ``{MAP8}`` /
``{MAP16}`` are fds of ARRAY maps (4-byte key, 8/16-byte value, 4 entries), ``{HASH8}`` a HASH
map (4/8, 4 entries), ``{SND_CWND}`` is the offset of ``tcp_sock.snd_cwnd`` in that kernel's BTF.

``record.py`` loads every case on this machine's kernel and writes the verdict, errno,
failing instruction and log line to ``linux-6.18.json``; the embedded replay
(``tests/unit/verifier/test_verifier_corpus.py``) compares against that file everywhere.
"""

from __future__ import annotations

from casemodel import BAD as _BAD
from casemodel import CHECKED8 as _CHECKED8
from casemodel import CHECKED16 as _CHECKED16
from casemodel import DUMMY, TCP, Case, render
from casemodel import LOOKUP8 as _LOOKUP8
from casemodel import OUT as _OUT
from cases_helper_args import HELPER_ARG_CASES
from cases_linked import LINKED_CASES
from cases_locks import LOCK_CASES
from cases_precision import PRECISION_CASES
from cases_skb import SKB_CASES
from cases_spec import SPEC_CASES
from cases_trust import TRUST_CASES
from cases_types import C_CASES, TYPE_CASES

__all__ = ["CASES", "Case", "render"]


def _c(name: str, asm: str, item: str, target: tuple[str, str] | None = None) -> Case:
    # bpf_dummy_ops programs may not call map helpers on 6.18 ("program of this type cannot
    # use helper bpf_map_lookup_elem#1"); map cases use tcp_congestion_ops.ssthresh.
    if target is None:
        target = TCP if "{MAP" in asm else DUMMY
    return Case(name, target, asm, item)


CASES: list[Case] = [
    # -- basics and structure (item 1 wording)
    _c("ret0", "mov %r0, 0\nexit", "1"),
    _c("exit_r0_uninit", "exit", "1"),
    _c("r10_write", "mov %r10, 0\nmov %r0, 0\nexit", "1"),
    _c("unreachable_tail", "mov %r0, 0\nexit\nmov %r0, 1\nexit", "1"),
    _c("jump_out_of_range", "ja +5\nmov %r0, 0\nexit", "1"),
    _c("infinite_ja", "ja -1", "4"),
    _c("map_helper_in_dummy_ops", _CHECKED8 + "mov %r0, 0\nexit", "3", DUMMY),
    _c("scalar_deref", "mov %r1, 0\nldxdw %r0, [%r1]\nexit", "1"),
    _c("ctx_read_arg0", "ldxdw %r2, [%r1]\nmov %r0, 0\nexit", "1"),
    _c("ctx_read_past_args", "ldxdw %r2, [%r1+8]\nmov %r0, 0\nexit", "1"),
    _c("stack_write_below", "stdw [%r10-520], 1\nmov %r0, 0\nexit", "1"),
    _c("stack_read_above", "ldxdw %r0, [%r10+0]\nexit", "1"),
    _c("unknown_helper", "call 9999\nmov %r0, 0\nexit", "1"),
    _c("div_by_zero_reg", "mov %r1, 0\nmov %r0, 7\ndiv %r0, %r1\nexit", "3"),
    # -- privileged relaxations (item 3)
    _c("uninit_stack_read", "ldxdw %r0, [%r10-8]\nexit", "3"),
    _c(
        "uninit_stack_key_to_helper",
        "ld_pseudo %r1, 1, {MAP8}\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r0, 0\nexit",
        "3",
    ),
    _c("ptr_minus_ptr", "mov %r1, %r10\nmov %r2, %r10\nadd %r2, -8\nsub %r1, %r2\nmov %r0, %r1\nexit", "3"),
    # -- map lookups and NULL (item 3)
    _c("map_lookup_null_checked", _CHECKED8 + "ldxdw %r0, [%r0]\nexit", "3"),
    _c("map_lookup_const_key_no_check", _LOOKUP8 + "ldxdw %r0, [%r0]\nexit", "3"),
    _c(
        "map_lookup_key_out_of_range_no_check",
        _LOOKUP8.replace("stw [%r10-4], 0", "stw [%r10-4], 9") + "ldxdw %r0, [%r0]\nexit",
        "3",
    ),
    _c("map_value_off_end", _CHECKED8 + "ldxdw %r0, [%r0+4]\nexit", "3"),
    # -- bounds: unsigned, signed, 32-bit, tnum (item 3)
    _c(
        "idx_and3_shl3_store8",
        _CHECKED8 + "ldxdw %r1, [%r0]\nand %r1, 3\nlsh %r1, 3\nadd %r0, %r1\nstdw [%r0], 1\nmov %r0, 0\nexit",
        "3",
    ),
    _c(
        "idx_and7_store1", _CHECKED8 + "ldxdw %r1, [%r0]\nand %r1, 7\nadd %r0, %r1\nstb [%r0], 1\nmov %r0, 0\nexit", "3"
    ),
    _c("idx_mod10_unbounded", _CHECKED16 + "ldxdw %r1, [%r0]\nmod %r1, 10\nadd %r0, %r1\nldxb %r0, [%r0]\nexit", "3"),
    _c("idx_unbounded_min", _CHECKED16 + "ldxdw %r1, [%r0]\nadd %r0, %r1\nldxb %r0, [%r0]\nexit", "3"),
    _c(
        "idx_signed_bounds",
        _CHECKED16 + "ldxdw %r1, [%r0]\njslt %r1, 0, out\njsgt %r1, 15, out\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "idx_unsigned_bounds",
        _CHECKED16 + "ldxdw %r1, [%r0]\njgt %r1, 15, out\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "idx_unsigned_bounds_off_by_one",
        _CHECKED16 + "ldxdw %r1, [%r0]\njgt %r1, 16, out\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "idx_arsh60_plus8",
        _CHECKED16 + "ldxdw %r1, [%r0]\narsh %r1, 60\nadd %r1, 8\nadd %r0, %r1\nldxb %r0, [%r0]\nexit",
        "3",
    ),
    _c("idx_rsh60", _CHECKED16 + "ldxdw %r1, [%r0]\nrsh %r1, 60\nadd %r0, %r1\nldxb %r0, [%r0]\nexit", "3"),
    _c(
        "idx_neg",
        _CHECKED16 + "ldxdw %r1, [%r0]\nand %r1, 7\nneg %r1\nadd %r1, 8\nadd %r0, %r1\nldxb %r0, [%r0]\nexit",
        "3",
    ),
    _c(
        "idx_jmp32_bounds",
        _CHECKED16 + "ldxw %r1, [%r0]\njgt32 %r1, 15, out\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "idx_jmp32_on_64bit_value",
        _CHECKED16 + "ldxdw %r1, [%r0]\njgt32 %r1, 15, out\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "tnum_dead_branch",
        _CHECKED8 + "ldxdw %r1, [%r0]\nand %r1, 0xfe\njset %r1, 1, bad" + _BAD,
        "3",
    ),
    _c(
        "jset_live_branch",
        _CHECKED8 + "ldxdw %r1, [%r0]\nand %r1, 0xff\njset %r1, 1, bad" + _BAD,
        "3",
    ),
    _c(
        "jeq_const_refine",
        _CHECKED16 + "ldxdw %r1, [%r0]\njne %r1, 12, out\nadd %r0, %r1\nldxw %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "reg_reg_compare_bounds",
        _CHECKED16 + "ldxdw %r1, [%r0]\nmov %r3, 15\njgt %r1, %r3, out\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT,
        "3",
    ),
    _c("mul_bounds", _CHECKED16 + "ldxdw %r1, [%r0]\nand %r1, 3\nmul %r1, 4\nadd %r0, %r1\nldxw %r0, [%r0]\nexit", "3"),
    _c(
        "or_bounds_overflow",
        _CHECKED16 + "ldxdw %r1, [%r0]\nand %r1, 7\nor %r1, 8\nadd %r0, %r1\nldxdw %r0, [%r0]\nexit",
        "3",
    ),
    _c("xor_bounds", _CHECKED16 + "ldxdw %r1, [%r0]\nand %r1, 7\nxor %r1, 5\nadd %r0, %r1\nldxb %r0, [%r0]\nexit", "3"),
    _c(
        "sub_bounds",
        _CHECKED16 + "ldxdw %r1, [%r0]\nand %r1, 7\nmov %r2, 15\nsub %r2, %r1\nadd %r0, %r2\nldxb %r0, [%r0]\nexit",
        "3",
    ),
    _c(
        "div_bounds", _CHECKED16 + "ldxdw %r1, [%r0]\nand %r1, 63\ndiv %r1, 4\nadd %r0, %r1\nldxb %r0, [%r0]\nexit", "3"
    ),
    _c(
        "alu32_zext_bounds",
        _CHECKED16 + "ldxdw %r1, [%r0]\nmov32 %r1, %r1\nand32 %r1, 15\nadd %r0, %r1\nldxb %r0, [%r0]\nexit",
        "3",
    ),
    # -- the u32 range of 64-bit values (JMP32 unsigned compares, u32 <-> u64 deductions; item 3)
    _c(
        "u32_jgt32_on_64bit_then_zext",
        _CHECKED16 + "ldxdw %r1, [%r0]\njgt32 %r1, 15, out\nmov32 %r1, %r1\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "u32_jgt32_on_64bit_then_zext_off_by_one",
        _CHECKED16 + "ldxdw %r1, [%r0]\njgt32 %r1, 16, out\nmov32 %r1, %r1\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "u32_jgt32_reg_on_64bit_then_zext",
        _CHECKED16
        + "ldxdw %r1, [%r0]\nmov %r3, 12\njgt32 %r1, %r3, out\nmov32 %r1, %r1\nadd %r0, %r1\nldxw %r0, [%r0]"
        + _OUT,
        "3",
    ),
    _c(
        "u32_jlt32_dead_branch",
        _CHECKED8 + "ldxdw %r1, [%r0]\nlddw %r2, 0x80000000\nor %r1, %r2\njlt32 %r1, 16, bad" + _BAD,
        "3",
    ),
    _c(
        "u32_jlt32_live_branch",
        _CHECKED8 + "ldxdw %r1, [%r0]\nlddw %r2, 0x80000000\nor %r1, %r2\njlt32 %r1, -2147483647, bad" + _BAD,
        "3",
    ),
    _c(
        "u32_from_u64_same_upper_half",
        _CHECKED16
        + "ldxdw %r1, [%r0]\nlddw %r3, 0x100000003\njlt %r1, %r3, out\nlddw %r3, 0x10000000c\njgt %r1, %r3, out\n"
        "mov32 %r1, %r1\nadd %r0, %r1\nldxw %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "u32_from_u64_same_upper_half_off_by_one",
        _CHECKED16
        + "ldxdw %r1, [%r0]\nlddw %r3, 0x100000003\njlt %r1, %r3, out\nlddw %r3, 0x10000000d\njgt %r1, %r3, out\n"
        "mov32 %r1, %r1\nadd %r0, %r1\nldxw %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "u64_from_u32_upper_half_zero",
        _CHECKED16 + "ldxdw %r1, [%r0]\nrsh %r1, 32\njgt32 %r1, 12, out\nadd %r0, %r1\nldxw %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "u32_add32_wraps_whole_range",
        _CHECKED16 + "ldxw %r1, [%r0]\njlt32 %r1, -12, out\nadd32 %r1, 12\nadd %r0, %r1\nldxw %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "u32_add32_wraps_part_of_range",
        _CHECKED16 + "ldxw %r1, [%r0]\njlt32 %r1, -13, out\nadd32 %r1, 12\nadd %r0, %r1\nldxw %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "u32_jset32_not_taken_forgets_range",
        _CHECKED16 + "ldxw %r1, [%r0]\njgt32 %r1, 9, out\njset32 %r1, 2, out\nadd %r0, %r1\nldxw %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "u32_jgt32_bound_kept",
        _CHECKED16 + "ldxw %r1, [%r0]\njgt32 %r1, 12, out\nadd %r0, %r1\nldxw %r0, [%r0]" + _OUT,
        "3",
    ),
    # -- more ALU / jumps / stack / pointers (breadth)
    _c("alu32_wraps", "mov32 %r0, -1\nadd32 %r0, 2\nexit", "3"),
    _c(
        "lsh_overflow_unknown",
        _CHECKED16 + "ldxdw %r1, [%r0]\nand %r1, 15\nlsh %r1, 62\nadd %r0, %r1\nldxb %r0, [%r0]\nexit",
        "3",
    ),
    _c(
        "rsh_var_amount",
        _CHECKED16 + "ldxdw %r1, [%r0]\nmov %r2, 15\nrsh %r2, %r1\nadd %r0, %r2\nldxb %r0, [%r0]\nexit",
        "3",
    ),
    _c("and_then_jsgt", _CHECKED16 + "ldxdw %r1, [%r0]\njsgt %r1, 15, out\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT, "3"),
    _c(
        "jsge_jsle_window",
        _CHECKED16 + "ldxdw %r1, [%r0]\njsle %r1, -1, out\njsge %r1, 16, out\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "jlt_refines_lower",
        _CHECKED16 + "ldxb %r1, [%r0]\njlt %r1, 8, out\nsub %r1, 8\nand %r1, 7\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT,
        "3",
    ),
    _c("ldxb_is_byte_bounded", _CHECKED16 + "ldxb %r1, [%r0]\nrsh %r1, 4\nadd %r0, %r1\nldxb %r0, [%r0]\nexit", "3"),
    _c("ldxh_too_wide", _CHECKED16 + "ldxh %r1, [%r0]\nadd %r0, %r1\nldxb %r0, [%r0]\nexit", "3"),
    _c(
        "sub_from_const_unsigned",
        _CHECKED16 + "ldxb %r1, [%r0]\nand %r1, 7\nmov %r2, 3\nsub %r2, %r1\nadd %r0, %r2\nldxb %r0, [%r0]\nexit",
        "3",
    ),
    _c(
        "var_off_store_8_aligned",
        _CHECKED16 + "ldxb %r1, [%r0]\nand %r1, 8\nadd %r0, %r1\nstdw [%r0], 1\nmov %r0, 0\nexit",
        "3",
    ),
    _c(
        "ptr_sub_scalar",
        _CHECKED16 + "add %r0, 8\nldxb %r1, [%r0]\nand %r1, 7\nsub %r0, %r1\nldxb %r0, [%r0]\nexit",
        "3",
    ),
    _c("ptr_mul_prohibited", _CHECKED16 + "mul %r0, 2\nmov %r0, 0\nexit", "3"),
    _c("ptr_and_prohibited", "mov %r2, %r10\nand %r2, 7\nmov %r0, 0\nexit", "3"),
    _c("ptr_add_ptr", "mov %r2, %r10\nadd %r2, %r10\nmov %r0, 0\nexit", "3"),
    _c("ptr32_arith", "mov %r2, %r10\nadd32 %r2, 8\nmov %r0, 0\nexit", "3"),
    _c("or_null_arith", _LOOKUP8 + "add %r0, 1\nmov %r0, 0\nexit", "3"),
    _c("map_ptr_arith", "ld_pseudo %r1, 1, {MAP8}\nadd %r1, 8\nmov %r0, 0\nexit", "3"),
    _c("map_value_write_then_read", _CHECKED8 + "stdw [%r0], 5\nldxdw %r0, [%r0]\nexit", "3"),
    _c("map_value_neg_off", _CHECKED8 + "ldxdw %r0, [%r0-8]\nexit", "3"),
    _c(
        "spill_fill_scalar_bounds",
        _CHECKED16
        + "ldxb %r1, [%r0]\nand %r1, 15\nstxdw [%r10-8], %r1\nldxdw %r2, [%r10-8]\nadd %r0, %r2\nldxb %r0, [%r0]\nexit",
        "3",
    ),
    _c("spill_fill_partial", "stdw [%r10-8], 7\nldxw %r0, [%r10-8]\nexit", "3"),
    _c(
        "stack_ptr_spill_fill",
        "mov %r1, %r10\nstxdw [%r10-8], %r1\nldxdw %r2, [%r10-8]\nstdw [%r2-16], 1\nmov %r0, 0\nexit",
        "3",
    ),
    _c(
        "stack_var_off_write",
        _CHECKED16
        + "ldxb %r1, [%r0]\nand %r1, 7\nmov %r2, %r10\nsub %r2, 16\nadd %r2, %r1\nstb [%r2], 1\nmov %r0, 0\nexit",
        "3",
    ),
    _c("stack_misaligned_write", "stdw [%r10-3], 1\nmov %r0, 0\nexit", "3"),
    _c("atomic_add_stack", "stdw [%r10-8], 1\nmov %r1, 2\nlock add [%r10-8], %r1\nldxdw %r0, [%r10-8]\nexit", "3"),
    _c("atomic_fetch_map", _CHECKED8 + "mov %r1, 1\nlock fetch add [%r0], %r1\nmov %r0, %r1\nexit", "3"),
    _c("atomic_on_ctx", "mov %r2, 1\nlock add [%r1], %r2\nmov %r0, 0\nexit", "3"),
    _c("bswap_bounds", _CHECKED16 + "ldxb %r1, [%r0]\nbe16 %r1\nadd %r0, %r1\nldxb %r0, [%r0]\nexit", "3"),
    _c(
        "movsx_bounds",
        _CHECKED16 + "ldxb %r1, [%r0]\nmovsx864 %r1, %r1\nand %r1, 7\nadd %r0, %r1\nldxb %r0, [%r0]\nexit",
        "3",
    ),
    _c("sdiv_const", "mov %r0, -7\nsdiv %r0, 2\nexit", "3"),
    _c("div_imm_zero", "mov %r0, 1\ndiv %r0, 0\nexit", "1"),
    _c("bad_shift_imm", "mov %r0, 1\nlsh %r0, 64\nexit", "1"),
    _c("return_pointer", "mov %r0, %r10\nexit", "3"),
    _c("r1_after_call_clobbered", _CHECKED8 + "mov %r0, %r1\nexit", "3"),
    _c("bpf2bpf_call", "call local f\nexit\nf:\nmov %r0, 3\nexit", "1"),
    _c(
        "bpf2bpf_stack_arg",
        "stdw [%r10-8], 4\nmov %r1, %r10\nadd %r1, -8\ncall local f\nexit\nf:\nldxdw %r0, [%r1]\nexit",
        "1",
    ),
    _c("ld_imm64_const", "lddw %r0, 0x123456789\nrsh %r0, 32\nexit", "1"),
    _c("ldx_into_r10", "ldxdw %r10, [%r1]\nmov %r0, 0\nexit", "1"),
    _c(
        "jset_refines_bit",
        _CHECKED16 + "ldxb %r1, [%r0]\nand %r1, 0x11\njset %r1, 0x10, out\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT,
        "3",
    ),
    _c(
        "jne_trims_end",
        _CHECKED16 + "ldxb %r1, [%r0]\nand %r1, 15\nadd %r1, 1\njeq %r1, 16, out\nadd %r0, %r1\nldxb %r0, [%r0]" + _OUT,
        "3",
    ),
    _c("tcp_read_past_end", "ldxdw %r1, [%r1]\nldxw %r0, [%r1+30000]\nexit", "3", TCP),
    _c("tcp_ptr_arith_then_read", "ldxdw %r1, [%r1]\nadd %r1, {SND_CWND}\nldxw %r0, [%r1]\nexit", "3", TCP),
    _c("dummy_state_no_null_check", "ldxdw %r1, [%r1]\nldxw %r0, [%r1]\nexit", "3"),
    _c("dummy_state_null_checked", "ldxdw %r1, [%r1]\nmov %r0, 0\njeq %r1, 0, out\nldxw %r0, [%r1]\nout:\nexit", "3"),
    _c(
        "loop_1000_iterations",
        "mov %r1, 0\nmov %r0, 0\nloop:\nadd %r0, %r1\nadd %r1, 1\njlt %r1, 1000, loop\nexit",
        "4",
    ),
    _c(
        "nested_loops",
        "mov %r1, 0\nmov %r0, 0\nouter:\nmov %r2, 0\ninner:\nadd %r0, 1\nadd %r2, 1\njlt %r2, 20, inner\n"
        "add %r1, 1\njlt %r1, 20, outer\nexit",
        "4",
    ),
    _c(
        "diamonds_prune",
        _CHECKED16 + "ldxdw %r1, [%r0]\njeq %r1, 1, a\nmov %r2, 1\na:\njeq %r1, 2, b\nmov %r2, 2\nb:\n"
        "jeq %r1, 3, c\nmov %r2, 3\nc:\nmov %r0, 0\nexit",
        "4",
    ),
    # -- loops and limits (item 4)
    _c("bounded_loop_100", "mov %r1, 0\nloop:\nadd %r1, 1\njlt %r1, 100, loop\nmov %r0, 0\nexit", "4"),
    _c("loop_hits_1m_limit", "mov %r1, 0\nloop:\nadd %r1, 1\njlt %r1, 10000000, loop\nmov %r0, 0\nexit", "4"),
    # -- trusted BTF pointers (tcp_sock through the trampoline ctx)
    _c("tcp_read_snd_cwnd", "ldxdw %r1, [%r1]\nldxw %r0, [%r1+{SND_CWND}]\nexit", "3", TCP),
    _c("tcp_write_snd_cwnd", "ldxdw %r1, [%r1]\nstw [%r1+{SND_CWND}], 10\nmov %r0, 1\nexit", "3", TCP),
    _c("tcp_write_offset_0", "ldxdw %r1, [%r1]\nstw [%r1+0], 10\nmov %r0, 1\nexit", "3", TCP),
]
CASES += TYPE_CASES + C_CASES + LOCK_CASES + PRECISION_CASES + SKB_CASES + SPEC_CASES + LINKED_CASES
CASES += TRUST_CASES + HELPER_ARG_CASES
