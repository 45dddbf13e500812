"""Corpus cases for the other program types and for unprivileged loaders (issue 12 items 1-4).

Socket filters (``socket``, the one type an unprivileged loader may use), ``tc``
(SCHED_CLS, ``struct __sk_buff``), ``xdp`` (``struct xdp_md``) and ``tracepoint`` (the raw
record): branch refinement for every conditional jump (64- and 32-bit, JSET), the ALU's
precision and imprecision, spill/fill, uninitialised stack, pointer rules, packet access
with ``data``/``data_end`` checks, context fields per type, helper sets per type, map
lookups, loops, callbacks, subprogram limits, reference leaks, and a hostile-bytecode set
loaded in every type, privileged and unprivileged.  ``__sk_buff`` offsets: ``len`` 0,
``mark`` 8, ``cb[0]`` 48, ``tc_classid`` 72, ``data`` 76, ``data_end`` 80; ``xdp_md``:
``data`` 0, ``data_end`` 4, ``data_meta`` 8, ``ingress_ifindex`` 12.
"""

from __future__ import annotations

from casemodel import CHECKED8, CHECKED16, DUMMY, LOOKUP8, OUT, TCP, Case

__all__ = ["C_CASES", "TYPE_CASES"]

SOCK, TC, XDP, TP = "socket", "tc", "xdp", "tracepoint"
_RET0 = "\nmov %r0, 0\nexit"


def _t(name: str, ptype: str, asm: str, item: str, priv: bool = True) -> Case:
    return Case(name, None, asm, item, ptype, priv)


def _both(name: str, asm: str, item: str, ptype: str = SOCK) -> list[Case]:
    """The program loaded by a privileged and by an unprivileged socket-filter loader."""
    return [_t(name, ptype, asm, item), _t(name + "_unpriv", ptype, asm, item, priv=False)]


# -- branch refinement: every conditional jump kind, 64- and 32-bit (item 2) -------------------
# r1 = a map value word (ldxw: 32-bit zero-extended; ldxdw: any 64-bit value), then a jump
# either skips the access ("out") or guards it ("body"); the access is a byte of a 16-byte value.
_ACC = "add %r0, %r1\nldxb %r0, [%r0]"


def _guard_out(load: str, jump: str) -> str:
    return CHECKED16 + f"{load} %r1, [%r0]\n{jump}, out\n{_ACC}" + OUT


def _guard_in(load: str, jump: str) -> str:
    return CHECKED16 + f"{load} %r1, [%r0]\n{jump}, body\nmov %r0, 0\nexit\nbody:\n{_ACC}\nexit"


_JUMP_KINDS = (
    ("jgt", 15, "out"),
    ("jge", 16, "out"),
    ("jge", 17, "out"),  # off by one: index 16 of a 16-byte value
    ("jlt", 16, "in"),
    ("jle", 15, "in"),
    ("jle", 16, "in"),  # off by one
    ("jsgt", 15, "out"),
    ("jsge", 16, "out"),
    ("jslt", 16, "in"),
    ("jsle", 15, "in"),
    ("jeq", 9, "in"),
    ("jne", 9, "out"),
    ("jset", -16, "out"),  # the false branch clears every bit but the low four
    ("jset", 1, "in"),  # the true branch keeps the value unbounded
)
#: (jump text, case tag) for every kind in its 64- and 32-bit form
_JUMPS = [
    (f"{op}{sfx} %r1, {imm}", f"{op}{sfx}_{imm}_{kind}".replace("-", "m"))
    for sfx in ("", "32")
    for op, imm, kind in _JUMP_KINDS
]


def _jump_cases() -> list[Case]:
    out = []
    for jump, tag in _JUMPS:
        kind = tag.rsplit("_", 1)[1]
        for load in ("ldxw", "ldxdw"):
            body = _guard_out(load, jump) if kind == "out" else _guard_in(load, jump)
            width = "w" if load == "ldxw" else "dw"
            out.append(_t(f"sk_{tag}_{width}", SOCK, body, "2"))
    return out


# -- ALU precision and imprecision (item 2) ------------------------------------------------------
def _alu(name: str, ops: str, load: str = "ldxdw", size: str = "ldxb") -> Case:
    return _t(name, SOCK, CHECKED16 + f"{load} %r1, [%r0]\n{ops}\nadd %r0, %r1\n{size} %r0, [%r0]\nexit", "2")


_ALU_CASES = [
    _alu("sk_alu_mod16_unbounded", "mod %r1, 16"),
    _alu("sk_alu_mod32_imm", "mod32 %r1, 16", "ldxw"),
    _alu("sk_alu_and_mod", "and %r1, 255\nmod %r1, 16"),
    _alu("sk_alu_div_bounded", "and %r1, 255\ndiv %r1, 16"),
    _alu("sk_alu_div32", "div32 %r1, 0x10000000", "ldxw"),
    _alu("sk_alu_mul_overflow", "and %r1, 3\nmul %r1, 0x40000000\nmul %r1, 8"),
    _alu("sk_alu_mul_small", "and %r1, 3\nmul %r1, 5"),
    _alu("sk_alu_neg_and", "neg %r1\nand %r1, 15"),
    _alu("sk_alu_neg_bounded", "and %r1, 7\nneg %r1\nadd %r1, 15"),
    _alu("sk_alu_neg32", "and %r1, 7\nneg32 %r1\nadd32 %r1, 15", "ldxw"),
    _alu("sk_alu_arsh_sign", "lsh %r1, 56\narsh %r1, 60\nadd %r1, 8"),
    _alu("sk_alu_arsh32", "arsh32 %r1, 28", "ldxw"),
    _alu("sk_alu_rsh32_then_add", "rsh32 %r1, 28\nadd %r1, 1", "ldxw"),
    _alu("sk_alu_lsh_rsh", "lsh %r1, 60\nrsh %r1, 60"),
    _alu("sk_alu_or_high", "and %r1, 3\nor %r1, 12"),
    _alu("sk_alu_xor_self", "xor %r1, %r1\nadd %r1, 15"),
    _alu("sk_alu_sub_self", "sub %r1, %r1"),
    _alu("sk_alu_add32_wrap", "and %r1, 15\nadd32 %r1, -16", "ldxw"),
    _alu("sk_alu_sub_underflow", "and %r1, 15\nsub %r1, 1"),
    _alu("sk_alu_movsx8", "movsx864 %r1, %r1\nand %r1, 15", "ldxb"),
    _alu("sk_alu_movsx_neg", "movsx864 %r1, %r1\nadd %r1, 128", "ldxb"),
    _alu("sk_alu_bswap16", "and %r1, 15\nbe16 %r1"),
    _alu("sk_alu_le16", "and %r1, 15\nle16 %r1"),
    _alu("sk_alu_smod", "and %r1, 63\nsmod %r1, 16"),
    _alu("sk_alu_sdiv", "and %r1, 63\nsdiv %r1, 4"),
    _alu("sk_alu_var_lsh", "and %r1, 3\nmov %r2, 1\nlsh %r2, %r1\nmov %r1, %r2"),
    _alu("sk_alu_and_neg_mask", "and %r1, -8\nand %r1, 15"),
    _alu("sk_alu_tnum_or_and", "or %r1, 1\nand %r1, 9"),
    _alu("sk_alu_tnum_add", "and %r1, 6\nadd %r1, %r1"),
    _alu("sk_alu_mov32_truncates", "mov32 %r1, %r1\nrsh %r1, 28"),
    _t("sk_alu_div_reg_zero", SOCK, "mov %r1, 0\nmov %r0, 5\ndiv %r0, %r1\nexit", "2"),
    _t("sk_alu_mod_reg_zero", SOCK, "mov %r1, 0\nmov %r0, 5\nmod %r0, %r1\nexit", "2"),
    _t("sk_alu_shift_reg_64", SOCK, "mov %r1, 64\nmov %r0, 5\nlsh %r0, %r1\nexit", "2"),
    _t("sk_alu_shift32_imm_32", SOCK, "mov %r0, 5\nlsh32 %r0, 32\nexit", "2"),
]

# -- tnum: dead branches from known bits (item 2) ------------------------------------------------
_BADDEREF = "\nmov %r0, 0\nexit\nbad:\nmov %r2, 0\nldxdw %r0, [%r2]\nexit"
_TNUM_CASES = [
    _t(
        "sk_tnum_and_dead_jset",
        SOCK,
        CHECKED8 + "ldxdw %r1, [%r0]\nand %r1, 0xf0\njset %r1, 0x0f, bad" + _BADDEREF,
        "2",
    ),
    _t("sk_tnum_or_dead_jeq", SOCK, CHECKED8 + "ldxdw %r1, [%r0]\nor %r1, 1\njeq %r1, 0, bad" + _BADDEREF, "2"),
    _t("sk_tnum_lsh_dead_jset", SOCK, CHECKED8 + "ldxdw %r1, [%r0]\nlsh %r1, 4\njset %r1, 8, bad" + _BADDEREF, "2"),
    _t("sk_tnum_live_jset", SOCK, CHECKED8 + "ldxdw %r1, [%r0]\nlsh %r1, 3\njset %r1, 8, bad" + _BADDEREF, "2"),
    _t("sk_tnum_range_dead_jgt", SOCK, CHECKED8 + "ldxb %r1, [%r0]\njgt %r1, 255, bad" + _BADDEREF, "2"),
    _t("sk_tnum_jmp32_dead", SOCK, CHECKED8 + "ldxh %r1, [%r0]\njgt32 %r1, 0xffff, bad" + _BADDEREF, "2"),
    _t("sk_tnum_signed_dead", SOCK, CHECKED8 + "ldxw %r1, [%r0]\njslt %r1, 0, bad" + _BADDEREF, "2"),
    _t("sk_tnum_signed32_live", SOCK, CHECKED8 + "ldxw %r1, [%r0]\njslt32 %r1, 0, bad" + _BADDEREF, "2"),
]

# -- spill/fill, uninitialised stack, pointer rules: privileged and unprivileged (item 2) ---------
_PRIV_CASES = [
    *_both("sk_uninit_stack_read", "ldxdw %r0, [%r10-8]\nexit", "2"),
    *_both("sk_uninit_stack_partial", "stw [%r10-8], 1\nldxdw %r0, [%r10-8]\nexit", "2"),
    *_both("sk_uninit_key_to_helper", "ld_pseudo %r1, 1, {MAP8}\nmov %r2, %r10\nadd %r2, -4\ncall 1" + _RET0, "2"),
    *_both("sk_spill_fill_scalar", "mov %r1, 7\nstxdw [%r10-8], %r1\nldxdw %r0, [%r10-8]\nexit", "2"),
    *_both(
        "sk_spill_fill_bounds",
        CHECKED16 + "ldxb %r1, [%r0]\nand %r1, 15\nstxdw [%r10-16], %r1\nldxdw %r1, [%r10-16]\n" + _ACC + "\nexit",
        "2",
    ),
    *_both(
        "sk_spill32_fill32_bounds",
        CHECKED16 + "ldxb %r1, [%r0]\nand %r1, 15\nstxw [%r10-16], %r1\nldxw %r1, [%r10-16]\n" + _ACC + "\nexit",
        "2",
    ),
    *_both("sk_spill_ptr_fill", "stxdw [%r10-8], %r1\nldxdw %r1, [%r10-8]\nldxw %r0, [%r1]\nexit", "2"),
    *_both("sk_spill_ptr_partial_fill", "stxdw [%r10-8], %r1\nldxw %r0, [%r10-8]\nexit", "2"),
    *_both("sk_spill_ptr_corrupt", "stxdw [%r10-8], %r1\nstb [%r10-8], 0\nldxdw %r1, [%r10-8]" + _RET0, "2"),
    *_both("sk_ptr_leak_to_map", CHECKED8 + "stxdw [%r0], %r10" + _RET0, "2"),
    *_both("sk_ptr_leak_to_ctx_cb", "stxw [%r1+48], %r10" + _RET0, "2"),
    *_both("sk_return_pointer", "mov %r0, %r10\nexit", "2"),
    *_both("sk_return_ctx_pointer", "mov %r0, %r1\nexit", "2"),
    *_both("sk_ptr_minus_ptr", "mov %r0, %r10\nmov %r2, %r10\nadd %r2, -8\nsub %r0, %r2\nexit", "2"),
    *_both("sk_ptr_compare_ptr", "mov %r2, %r10\njeq %r2, %r1, l\nl:" + _RET0, "2"),
    *_both("sk_ptr_compare_scalar", "mov %r2, %r10\njeq %r2, 5, l\nl:" + _RET0, "2"),
    *_both("sk_ptr_to_scalar_mov32", "mov32 %r0, %r10\nexit", "2"),
    *_both(
        "sk_stack_var_off_read",
        CHECKED8 + "ldxb %r1, [%r0]\nand %r1, 7\nstdw [%r10-16], 0\nstdw [%r10-8], 0\nmov %r2, %r10\n"
        "add %r2, -16\nadd %r2, %r1\nldxb %r0, [%r2]\nexit",
        "2",
    ),
    *_both(
        "sk_map_value_var_off",
        CHECKED16 + "ldxb %r1, [%r0]\nand %r1, 7\nadd %r0, %r1\nldxb %r0, [%r0]\nexit",
        "2",
    ),
    *_both("sk_map_ptr_store", "ld_pseudo %r1, 1, {MAP8}\nstxdw [%r10-8], %r1" + _RET0, "2"),
    *_both("sk_bounded_loop", "mov %r1, 0\nloop:\nadd %r1, 1\njlt %r1, 10, loop" + _RET0, "4"),
    *_both("sk_bpf2bpf_call", "call local f\nexit\nf:\nmov %r0, 1\nexit", "2"),
    *_both("sk_helper_ktime", "call 5\nexit", "3"),
    *_both("sk_helper_prandom", "call 7\nexit", "3"),
    *_both("sk_helper_pid_tgid", "call 14\nexit", "3"),
    *_both(
        "sk_helper_bpf_loop_unpriv",
        "mov %r1, 1\nld_pseudo %r2, 4, 6\nmov %r3, 0\nmov %r4, 0\ncall 181\nmov %r0, 0\nexit\nmov %r0, 0\nexit",
        "2",
    ),
]

# -- maps and NULL checks (item 2) ---------------------------------------------------------------
_HASH_LOOKUP = LOOKUP8.replace("{MAP8}", "{HASH8}")
_MAP_CASES = [
    _t("sk_hash_no_null_check", SOCK, _HASH_LOOKUP + "ldxdw %r0, [%r0]\nexit", "2"),
    _t("sk_hash_null_checked", SOCK, _HASH_LOOKUP + "jeq %r0, 0, out\nldxdw %r0, [%r0]" + OUT, "2"),
    _t("sk_hash_null_branch_deref", SOCK, _HASH_LOOKUP + "jne %r0, 0, out\nldxdw %r0, [%r0]" + OUT, "2"),
    _t("sk_array_const_key_no_check", SOCK, LOOKUP8 + "ldxdw %r0, [%r0]\nexit", "2"),
    _t(
        "sk_array_var_key_no_check",
        SOCK,
        "call 7\nstxw [%r10-4], %r0\nld_pseudo %r1, 1, {MAP8}\nmov %r2, %r10\nadd %r2, -4\ncall 1\n"
        "ldxdw %r0, [%r0]\nexit",
        "2",
    ),
    _t(
        "sk_map_update",
        SOCK,
        "stw [%r10-4], 0\nstdw [%r10-16], 1\nld_pseudo %r1, 1, {HASH8}\nmov %r2, %r10\nadd %r2, -4\n"
        "mov %r3, %r10\nadd %r3, -16\nmov %r4, 0\ncall 2" + _RET0,
        "2",
    ),
    _t(
        "sk_map_update_uninit_value",
        SOCK,
        "stw [%r10-4], 0\nld_pseudo %r1, 1, {HASH8}\nmov %r2, %r10\nadd %r2, -4\n"
        "mov %r3, %r10\nadd %r3, -16\nmov %r4, 0\ncall 2" + _RET0,
        "2",
    ),
    _t("sk_map_delete_key_oob", SOCK, "ld_pseudo %r1, 1, {HASH8}\nmov %r2, %r10\nadd %r2, -2\ncall 3" + _RET0, "2"),
    _t("sk_map_lookup_not_a_map", SOCK, "mov %r1, 0\nmov %r2, %r10\nadd %r2, -4\nstw [%r10-4], 0\ncall 1" + _RET0, "2"),
    _t("sk_map_value_write_oob", SOCK, CHECKED8 + "stw [%r0+6], 1" + _RET0, "2"),
    # NULL checks: only against an immediate 0 (a register holding 0 marks nothing, and an
    # unprivileged loader may not compare a pointer with it), 64-bit only
    *_both("sk_null_check_reg_zero", _HASH_LOOKUP + "mov %r1, 0\njeq %r0, %r1, out\nldxdw %r0, [%r0]" + OUT, "2"),
    *_both(
        "sk_null_check_reg_zero_swapped", _HASH_LOOKUP + "mov %r1, 0\njeq %r1, %r0, out\nldxdw %r0, [%r0]" + OUT, "2"
    ),
    _t(
        "sk_null_check_reg_zero_jne",
        SOCK,
        _HASH_LOOKUP + "mov %r1, 0\njne %r0, %r1, ok\nmov %r0, 0\nexit\nok:\nldxdw %r0, [%r0]\nexit",
        "2",
    ),
    _t("sk_null_check_imm_zero_jmp32", SOCK, _HASH_LOOKUP + "jeq32 %r0, 0, out\nldxdw %r0, [%r0]" + OUT, "2"),
    # a pointer known not NULL against a register holding 0: the jump is decided (is_branch_taken)
    *_both(
        "sk_nonnull_vs_reg_zero",
        _HASH_LOOKUP + "jne %r0, 0, ok\nmov %r0, 0\nexit\nok:\nmov %r1, 0\njeq %r0, %r1, out\nldxdw %r0, [%r0]" + OUT,
        "2",
    ),
]

# -- context fields per type (item 1) ------------------------------------------------------------
_CTX_CASES = [
    _t("sk_ctx_len", SOCK, "ldxw %r0, [%r1+0]\nexit", "1"),
    _t("sk_ctx_len_narrow", SOCK, "ldxh %r0, [%r1+0]\nexit", "1"),
    _t("sk_ctx_len_dw", SOCK, "ldxdw %r0, [%r1+0]\nexit", "1"),
    _t("sk_ctx_misaligned", SOCK, "ldxw %r0, [%r1+2]\nexit", "1"),
    _t("sk_ctx_mark_write", SOCK, "stw [%r1+8], 1" + _RET0, "1"),
    _t("sk_ctx_cb_write", SOCK, "stw [%r1+48], 1\nldxw %r0, [%r1+48]\nexit", "1"),
    _t("sk_ctx_tc_classid", SOCK, "ldxw %r0, [%r1+72]\nexit", "1"),
    _t("sk_ctx_data", SOCK, "ldxw %r0, [%r1+76]\nexit", "1"),
    _t("sk_ctx_past_end", SOCK, "ldxw %r0, [%r1+192]\nexit", "1"),
    _t("sk_ctx_modified_ptr", SOCK, "add %r1, 4\nldxw %r0, [%r1]\nexit", "1"),
    _t("tc_ctx_mark_write", TC, "stw [%r1+8], 1" + _RET0, "1"),
    _t("tc_ctx_tc_classid_write", TC, "stw [%r1+72], 1" + _RET0, "1"),
    _t("tc_ctx_len_write", TC, "stw [%r1+0], 1" + _RET0, "1"),
    _t("tc_ctx_family", TC, "ldxw %r0, [%r1+88]\nexit", "1"),
    _t("tc_ctx_tstamp_dw", TC, "ldxdw %r0, [%r1+152]\nexit", "1"),
    _t("tc_ctx_tstamp_w", TC, "ldxw %r0, [%r1+152]\nexit", "1"),
    _t("xdp_ctx_ifindex", XDP, "ldxw %r0, [%r1+12]\nexit", "1"),
    _t("xdp_ctx_ifindex_dw", XDP, "ldxdw %r0, [%r1+8]\nexit", "1"),
    _t("xdp_ctx_write", XDP, "stw [%r1+12], 1" + _RET0, "1"),
    _t("xdp_ctx_past_end", XDP, "ldxw %r0, [%r1+24]\nexit", "1"),
    _t("tp_ctx_field", TP, "ldxdw %r0, [%r1+8]\nexit", "1"),
    _t("tp_ctx_header", TP, "ldxdw %r0, [%r1+0]\nexit", "1"),
    _t("tp_ctx_write", TP, "stdw [%r1+8], 1" + _RET0, "1"),
    _t("tp_ctx_far", TP, "ldxw %r0, [%r1+4096]\nexit", "1"),
]

# -- packet access (tc, xdp): data/data_end checks (item 2) ---------------------------------------
_TC_PKT = "ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\n"
_XDP_PKT = "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\n"


def _pkt(name: str, ptype: str, check: str, access: str) -> Case:
    head = _TC_PKT if ptype == TC else _XDP_PKT
    tail = "\nmov %r0, 0\nexit" + ("\nout:\nmov %r0, 0\nexit" if "out" in check else "")
    return _t(name, ptype, head + check + access + tail, "2")


_CHECK14 = "mov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, out\n"
_PKT_CASES = []
for _pt in (TC, XDP):
    _PKT_CASES += [
        _pkt(f"{_pt}_pkt_in_range", _pt, _CHECK14, "ldxb %r0, [%r2+13]"),
        _pkt(f"{_pt}_pkt_off_by_one", _pt, _CHECK14, "ldxb %r0, [%r2+14]"),
        _pkt(f"{_pt}_pkt_no_check", _pt, "", "ldxb %r0, [%r2]"),
        _pkt(f"{_pt}_pkt_write", _pt, _CHECK14, "stb [%r2+12], 1"),
        _pkt(f"{_pt}_pkt_jlt_check", _pt, "mov %r4, %r2\nadd %r4, 8\njlt %r3, %r4, out\n", "ldxdw %r0, [%r2]"),
        _pkt(f"{_pt}_pkt_end_deref", _pt, "", "ldxb %r0, [%r3]"),
        _pkt(f"{_pt}_pkt_var_off", _pt, _CHECK14 + "ldxb %r5, [%r2]\nand %r5, 7\nadd %r2, %r5\n", "ldxb %r0, [%r2]"),
    ]
_PKT_CASES.append(
    _t(
        "xdp_pkt_meta",
        XDP,
        "ldxw %r2, [%r1+8]\nldxw %r3, [%r1+0]\nmov %r4, %r2\nadd %r4, 4\n"
        "jgt %r4, %r3, out\nldxw %r0, [%r2]\nexit\nout:\nmov %r0, 0\nexit",
        "2",
    )
)

# -- helper sets per type (item 3) ---------------------------------------------------------------
_HELPER_CASES = [
    _t("sk_helper_redirect", SOCK, "mov %r1, 1\nmov %r2, 0\ncall 23\nexit", "3"),
    _t("tc_helper_redirect", TC, "mov %r1, 1\nmov %r2, 0\ncall 23\nexit", "3"),
    _t("tc_helper_xdp_adjust_head", TC, "mov %r2, 0\ncall 44\nexit", "3"),
    _t("xdp_helper_adjust_head", XDP, "mov %r2, 0\ncall 44\nexit", "3"),
    _t("xdp_helper_redirect", XDP, "mov %r1, 1\nmov %r2, 0\ncall 23\nexit", "3"),
    _t("tp_helper_pid_tgid", TP, "call 14\nexit", "3"),
    _t("tp_helper_redirect", TP, "mov %r1, 1\nmov %r2, 0\ncall 23\nexit", "3"),
    _t("tp_helper_get_current_task", TP, "call 35\nexit", "3"),
    _t("xdp_helper_get_current_task", XDP, "call 35\nexit", "3"),
    _t("tc_helper_unknown", TC, "call 999\nexit", "3"),
]

# -- references: bpf_sk_lookup_tcp in tc (item 2) --------------------------------------------------
_SK_LOOKUP = (
    "stdw [%r10-40], 0\nstdw [%r10-32], 0\nstdw [%r10-24], 0\nstdw [%r10-16], 0\nstdw [%r10-8], 0\n"
    "mov %r2, %r10\nadd %r2, -40\nmov %r3, 12\nmov %r4, -1\nmov %r5, 0\ncall 84\n"
)
_REF_CASES = [
    _t("tc_sk_lookup_leak", TC, _SK_LOOKUP + "mov %r0, 0\nexit", "2"),
    _t("tc_sk_lookup_release", TC, _SK_LOOKUP + "jeq %r0, 0, out\nmov %r1, %r0\ncall 86\nout:" + _RET0, "2"),
    _t("tc_sk_lookup_release_null", TC, _SK_LOOKUP + "mov %r1, %r0\ncall 86" + _RET0, "2"),
    _t(
        "tc_sk_lookup_double_release",
        TC,
        _SK_LOOKUP + "jeq %r0, 0, out\nmov %r6, %r0\nmov %r1, %r6\ncall 86\nmov %r1, %r6\ncall 86\nout:" + _RET0,
        "2",
    ),
    _t(
        "tc_sk_lookup_leak_one_path",
        TC,
        _SK_LOOKUP + "jeq %r0, 0, out\nmov %r6, %r0\ncall 7\njeq %r0, 1, out\nmov %r1, %r6\ncall 86\nout:" + _RET0,
        "2",
    ),
    _t("sk_sk_lookup_not_allowed", SOCK, _SK_LOOKUP + "mov %r0, 0\nexit", "3"),
]

# -- loops, callbacks, subprograms (items 2, 4) ----------------------------------------------------
_CB = "mov %r0, 0\nexit"  # a callback returning 0 (continue)
_FRAMES = "".join(f"call local f{n}\nexit\nf{n}:\n" for n in range(1, 9)) + "mov %r0, 0\nexit"
_CALL_CASES = [
    _t(
        "sk_bpf_loop",
        SOCK,
        "mov %r1, 4\nld_pseudo %r2, 4, 6\nmov %r3, 0\nmov %r4, 0\ncall 181\nmov %r0, 0\nexit\nmov %r0, 0\nexit",
        "2",
    ),
    _t(
        "sk_bpf_loop_cb_bad_ret",
        SOCK,
        "mov %r1, 4\nld_pseudo %r2, 4, 6\nmov %r3, 0\nmov %r4, 0\ncall 181\nmov %r0, 0\nexit\nmov %r0, 7\nexit",
        "2",
    ),
    _t(
        "sk_bpf_loop_cb_reads_ctx_null",
        SOCK,
        "mov %r1, 4\nld_pseudo %r2, 4, 6\nmov %r3, 0\nmov %r4, 0\ncall 181\nmov %r0, 0\nexit\nldxdw %r0, [%r2]\nexit",
        "2",
    ),
    _t("sk_call_depth_8", SOCK, "".join(f"call local f{n}\nexit\nf{n}:\n" for n in range(1, 8)) + _CB, "4"),
    _t("sk_call_depth_9", SOCK, _FRAMES, "4"),
    _t("sk_call_recursion", SOCK, "call local f\nexit\nf:\ncall local f\nexit", "4"),
    _t(
        "sk_call_stack_512_total",
        SOCK,
        "stdw [%r10-256], 0\ncall local f\nexit\nf:\nstdw [%r10-256], 0\nmov %r0, 0\nexit",
        "4",
    ),
    _t(
        "sk_call_stack_over_512",
        SOCK,
        "stdw [%r10-264], 0\ncall local f\nexit\nf:\nstdw [%r10-256], 0\nmov %r0, 0\nexit",
        "4",
    ),
    _t("sk_call_r0_uninit", SOCK, "call local f\nexit\nf:\nexit", "4"),
    _t("sk_call_callee_reads_r6", SOCK, "mov %r6, 1\ncall local f\nexit\nf:\nmov %r0, %r6\nexit", "4"),
    _t(
        "sk_loop_unknown_bound",
        SOCK,
        CHECKED8 + "ldxb %r1, [%r0]\nmov %r0, 0\nloop:\nadd %r0, 1\nsub %r1, 1\njsgt %r1, 0, loop\nexit",
        "4",
    ),
    _t("sk_may_goto_loop", SOCK, "mov %r0, 0\nloop:\nmay_goto +2\nadd %r0, 1\nja loop\nexit", "4"),
]


# -- hostile bytecode, in every type, privileged and unprivileged (item 4) -------------------------
def _hostile() -> list[Case]:
    progs = {
        "const_addr_read": "mov %r1, 0x1000\nldxdw %r0, [%r1]\nexit",
        "const_addr_write": "lddw %r1, 0xffff888000000000\nstdw [%r1], 1" + _RET0,
        "jump_out_of_range": "ja +3" + _RET0,
        "invalid_opcode": ".insn 0xff 0 0 0" + _RET0,
        "bad_alu_opcode": ".insn 0xe7 0 0 0" + _RET0,
        "uninit_reg": "mov %r0, %r5\nexit",
        "infinite_loop": "mov %r0, 0\nloop:\nja loop",
        "recursion": "call local f\nexit\nf:\ncall local f\nexit",
        "stack_oob": "ldxdw %r0, [%r10-520]\nexit",
        "stack_above_fp": "stdw [%r10+8], 1" + _RET0,
        "ctx_negative_off": "ldxw %r0, [%r1-8]\nexit",
        "r10_write": "mov %r10, 0" + _RET0,
        "ld_imm64_bad_src": "ld_pseudo %r1, 9, 0" + _RET0,
        "map_value_oob": CHECKED8 + "ldxdw %r0, [%r0+8]\nexit",
        "scalar_as_ptr_after_alu": "mov %r1, %r10\nmov32 %r1, %r1\nldxdw %r0, [%r1-8]\nexit",
    }
    kinds: list[tuple[str, str, bool]] = [
        ("st", "struct_ops", True),
        ("sk", SOCK, True),
        ("tc", TC, True),
        ("xdp", XDP, True),
        ("tp", TP, True),
        ("sku", SOCK, False),
    ]
    out = []
    for pfx, ptype, priv in kinds:
        for name, asm in progs.items():
            target = None
            if ptype == "struct_ops":
                target = TCP if "{MAP" in asm else DUMMY
            out.append(Case(f"hostile_{pfx}_{name}", target, asm, "4", ptype, priv))
    return out


#: C programs compiled by ``make`` in this directory (one program per object).
C_CASES = [
    Case("c_sk_count_len", None, "", "1", SOCK, obj="sk_count_len.bpf.o"),
    Case("c_tc_parse_eth", None, "", "2", TC, obj="tc_parse_eth.bpf.o"),
    Case("c_tc_parse_eth_nocheck", None, "", "2", TC, obj="tc_parse_eth_nocheck.bpf.o"),
    Case("c_xdp_drop_ipv6", None, "", "2", XDP, obj="xdp_drop_ipv6.bpf.o"),
    Case("c_xdp_off_by_one", None, "", "2", XDP, obj="xdp_off_by_one.bpf.o"),
    Case("c_tp_count", None, "", "1", TP, obj="tp_count.bpf.o"),
    Case("c_sk_loop_sum", None, "", "4", SOCK, obj="sk_loop_sum.bpf.o"),
    Case("c_tc_sk_lookup_leak", None, "", "2", TC, obj="tc_sk_lookup_leak.bpf.o"),
    Case("c_sk_bpf_loop", None, "", "2", SOCK, obj="sk_bpf_loop.bpf.o"),
    Case("c_sk_bpf_loop_oob", None, "", "2", SOCK, obj="sk_bpf_loop_oob.bpf.o"),
    # callbacks verified as loops (every reachable caller state, widened like iterators)
    Case("c_sk_cb_count_ok", None, "", "2", SOCK, obj="sk_cb_count_ok.bpf.o"),
    Case("c_sk_cb_count_oob", None, "", "2", SOCK, obj="sk_cb_count_oob.bpf.o"),
    Case("c_sk_cb_toggle_ok", None, "", "2", SOCK, obj="sk_cb_toggle_ok.bpf.o"),
    Case("c_sk_cb_second_iter_oob", None, "", "2", SOCK, obj="sk_cb_second_iter_oob.bpf.o"),
    Case("c_sk_cb_each_ok", None, "", "2", SOCK, obj="sk_cb_each_ok.bpf.o"),
    Case("c_sk_cb_each_oob", None, "", "2", SOCK, obj="sk_cb_each_oob.bpf.o"),
    Case("c_sk_cb_nested_ok", None, "", "2", SOCK, obj="sk_cb_nested_ok.bpf.o"),
    Case("c_sk_cb_nested_oob", None, "", "2", SOCK, obj="sk_cb_nested_oob.bpf.o"),
    Case("c_tc_sk_lookup_release", None, "", "2", TC, obj="tc_sk_lookup_release.bpf.o"),
    Case("c_tp_stack_too_big", None, "", "4", TP, obj="tp_stack_too_big.bpf.o"),
]

TYPE_CASES: list[Case] = [
    *_jump_cases(),
    *_ALU_CASES,
    *_TNUM_CASES,
    *_PRIV_CASES,
    *_MAP_CASES,
    *_CTX_CASES,
    *_PKT_CASES,
    *_HELPER_CASES,
    *_REF_CASES,
    *_CALL_CASES,
    *_hostile(),
]
