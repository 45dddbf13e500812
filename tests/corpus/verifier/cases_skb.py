"""Corpus cases for the skb program types' remaining gaps (issue 12 items 1-3).

* Legacy packet loads (``BPF_LD | BPF_ABS/BPF_IND``, written as raw ``.insn`` slots: 0x30/0x28/0x20
  are ABS byte/half/word, 0x50/0x48/0x40 IND): the program types that may use them, R6 as
  the context, reserved fields, R1-R5 clobbered and R0 unbounded, no reference, lock or RCU
  section held, subprograms (without BTF: refused; with BTF: int-returning only).
* ``bpf_skc_lookup_tcp`` (99) returns a ``sock_common``: ``type``, ``protocol``, ``mark`` and
  ``priority`` (``struct bpf_sock`` bytes 8-23) are refused where ``bpf_sk_lookup_tcp``'s
  ``sock`` reads them; NULL checks, pointer arithmetic, writes, leaks and releases.
"""

from __future__ import annotations

from casemodel import Case

__all__ = ["SKB_CASES"]

SOCK, TC, XDP, TP = "socket", "tc", "xdp", "tracepoint"
_R6 = "mov %r6, %r1\n"
_RET0 = "\nmov %r0, 0\nexit"
_BAD = "\nmov %r0, 0\nexit\nbad:\nmov %r2, 0\nldxdw %r0, [%r2]\nexit"  # "bad:" dereferences a scalar
_SK_LOOKUP = (
    "stdw [%r10-40], 0\nstdw [%r10-32], 0\nstdw [%r10-24], 0\nstdw [%r10-16], 0\nstdw [%r10-8], 0\n"
    "mov %r2, %r10\nadd %r2, -40\nmov %r3, 12\nmov %r4, -1\nmov %r5, 0\ncall 84\n"
)
_LOOKED_UP = _R6 + "mov %r1, %r6\n" + _SK_LOOKUP + "jeq %r0, 0, out\n"  # r0 = a socket reference
_LOCKED = (  # r7 = the NULL-checked value of {LOCK8} (lock at offset 4), locked
    "stw [%r10-4], 0\nld_pseudo %r1, 1, {LOCK8}\nmov %r2, %r10\nadd %r2, -4\ncall 1\n"
    "jne %r0, 0, ok\nmov %r0, 0\nexit\nok:\nmov %r7, %r0\nmov %r1, %r7\nadd %r1, 4\ncall 93\n"
)
_UNLOCK = "mov %r1, %r7\nadd %r1, 4\ncall 94\n"


def _t(name: str, ptype: str, asm: str, item: str = "1", priv: bool = True) -> Case:
    return Case(name, None, asm, item, ptype, priv)


def _abs(code: int, imm: int, regs: int = 0, off: int = 0) -> str:
    return f".insn {code:#x} {regs:#x} {off} {imm}\n"


_LD_ABS_CASES = [
    _t("ldabs_sk_byte", SOCK, _R6 + _abs(0x30, 12) + "exit"),
    _t("ldabs_sk_byte_unpriv", SOCK, _R6 + _abs(0x30, 12) + "exit", priv=False),
    _t("ldabs_tc_half", TC, _R6 + _abs(0x28, 12) + "exit"),
    _t("ldabs_tc_word", TC, _R6 + _abs(0x20, 14) + "exit"),
    _t("ldabs_sk_negative_imm", SOCK, _R6 + _abs(0x30, -0x100000) + "exit"),
    _t("ldabs_xdp_refused", XDP, _R6 + _abs(0x20, 12) + "exit"),
    _t("ldabs_tp_refused", TP, _R6 + _abs(0x20, 12) + "exit"),
    _t("ldabs_sk_dw_unknown_opcode", SOCK, _R6 + _abs(0x38, 12) + "exit"),
    _t("ldabs_sk_dst_reserved", SOCK, _R6 + _abs(0x30, 12, regs=0x01) + "exit"),
    _t("ldabs_sk_src_reserved", SOCK, _R6 + _abs(0x30, 12, regs=0x10) + "exit"),
    _t("ldabs_sk_off_reserved", SOCK, _R6 + _abs(0x30, 12, off=1) + "exit"),
    _t("ldind_sk_off_reserved", SOCK, _R6 + "mov %r2, 0\n" + _abs(0x40, 12, regs=0x20, off=1) + "exit"),
    _t("ldind_sk_dst_reserved", SOCK, _R6 + _abs(0x40, 12, regs=0x11) + "exit"),
    _t("ldabs_sk_r6_unset", SOCK, _abs(0x30, 12) + "exit"),
    _t("ldabs_sk_r6_scalar", SOCK, "mov %r6, 0\n" + _abs(0x30, 12) + "exit"),
    _t("ldabs_sk_r6_stack", SOCK, "mov %r6, %r10\n" + _abs(0x30, 12) + "exit"),
    _t("ldabs_sk_r6_modified_ctx", SOCK, _R6 + "add %r6, 4\n" + _abs(0x30, 12) + "exit"),
    _t("ldind_sk_src_unset", SOCK, _R6 + _abs(0x40, 12, regs=0x20) + "exit"),
    _t("ldind_sk_half", SOCK, _R6 + "mov %r2, 2\n" + _abs(0x48, 12, regs=0x20) + "exit"),
    _t("ldind_sk_src_pointer", SOCK, _R6 + "mov %r2, %r10\n" + _abs(0x48, 12, regs=0x20) + "exit"),
    _t("ldind_tc_word_r7", TC, _R6 + "mov %r7, 10\n" + _abs(0x40, 4, regs=0x70) + "exit"),
    _t("ldabs_sk_clobbers_r1", SOCK, _R6 + _abs(0x30, 12) + "mov %r0, %r1\nexit"),
    _t("ldabs_sk_clobbers_r5", SOCK, _R6 + "mov %r5, 1\n" + _abs(0x30, 12) + "mov %r0, %r5\nexit"),
    _t("ldabs_sk_keeps_r7", SOCK, _R6 + "mov %r7, 3\n" + _abs(0x30, 12) + "mov %r0, %r7\nexit"),
    _t("ldabs_sk_keeps_r6", SOCK, _R6 + _abs(0x30, 12) + "ldxw %r0, [%r6+0]\nexit"),
    _t("ldabs_sk_r0_byte_unbounded", SOCK, _R6 + _abs(0x30, 12) + "jgt %r0, 255, bad" + _BAD),
    _t("ldabs_sk_r0_half_unbounded", SOCK, _R6 + _abs(0x28, 12) + "jgt %r0, 65535, bad" + _BAD),
    _t("ldabs_sk_r0_word_high_bits", SOCK, _R6 + _abs(0x20, 12) + "rsh %r0, 32\njne %r0, 0, bad" + _BAD),
    _t("ldabs_sk_r0_as_index", SOCK, _R6 + _abs(0x30, 0) + "stw [%r10-8], 0\nmov %r1, %r10\nadd %r1, %r0" + _RET0),
    _t("ldabs_sk_main_with_subprog", SOCK, _R6 + _abs(0x30, 12) + "call local f\nexit\nf:\nmov %r0, 0\nexit"),
    _t("ldabs_sk_in_subprog_no_btf", SOCK, "call local f\nexit\nf:\nmov %r6, %r1\n" + _abs(0x30, 12) + "exit"),
    _t(
        "ldabs_tc_reference_held",
        TC,
        _LOOKED_UP + "mov %r8, %r0\n" + _abs(0x30, 12) + "mov %r1, %r8\ncall 86\nout:" + _RET0,
    ),
    _t("ldabs_tc_reference_maybe_null", TC, _R6 + "mov %r1, %r6\n" + _SK_LOOKUP + _abs(0x30, 12) + "mov %r0, 0\nexit"),
    _t("ldabs_tc_reference_released", TC, _LOOKED_UP + "mov %r1, %r0\ncall 86\nout:\n" + _abs(0x30, 12) + "exit"),
    _t("ldabs_tc_in_spin_lock", TC, _R6 + _LOCKED + _abs(0x30, 12) + _UNLOCK + "mov %r0, 0\nexit"),
    _t("ldabs_tc_after_spin_unlock", TC, _R6 + _LOCKED + _UNLOCK + _abs(0x30, 12) + "exit"),
    _t("ldabs_tc_in_rcu", TC, _R6 + "call runtime {RL}\n" + _abs(0x30, 12) + "call runtime {RU}\nmov %r0, 0\nexit"),
    _t("ldabs_tc_after_rcu", TC, _R6 + "call runtime {RL}\ncall runtime {RU}\n" + _abs(0x30, 12) + "exit"),
    Case("c_sk_ld_abs_subprog", None, "", "1", SOCK, obj="sk_ld_abs_subprog.bpf.o"),
    Case("c_sk_ld_abs_void_subprog", None, "", "1", SOCK, obj="sk_ld_abs_void_subprog.bpf.o"),
    Case("c_sk_ld_abs_subprog_exit", None, "", "1", SOCK, obj="sk_ld_abs_subprog_exit.bpf.o"),
]


def _skc(helper: int, body: str) -> str:
    """Look a socket up with ``helper`` (99: skc_lookup_tcp, 84: sk_lookup_tcp), NULL-check it
    into r6, run ``body``, release it."""
    return (
        _SK_LOOKUP.replace("call 84", f"call {helper}")
        + "jeq %r0, 0, out\nmov %r6, %r0\n" + body + "mov %r1, %r6\ncall 86\nout:" + _RET0
    )  # fmt: skip


_SKC = _SK_LOOKUP.replace("call 84", "call 99")
#: (case tag, struct bpf_sock offset, load size suffix) read through a sock_common
_SKC_READS = (
    ("bound_dev_if", 0, "w"),
    ("family_byte", 4, "b"),
    ("type", 8, "w"),
    ("protocol_half", 12, "h"),
    ("mark", 16, "w"),
    ("priority", 20, "w"),
    ("src_ip4", 24, "w"),
    ("src_port", 44, "w"),
    ("state", 72, "w"),
    ("past_end", 80, "w"),
)
_SKC_CASES = [
    *(_t(f"skc_tc_read_{name}", TC, _skc(99, f"ldx{sz} %r7, [%r6+{off}]\n"), "4") for name, off, sz in _SKC_READS),
    _t("skc_tc_sk_lookup_reads_type", TC, _skc(84, "ldxw %r7, [%r6+8]\n"), "4"),
    _t("skc_tc_sk_lookup_reads_priority", TC, _skc(84, "ldxw %r7, [%r6+20]\n"), "4"),
    _t("skc_tc_read_before_null_check", TC, _SKC + "ldxw %r7, [%r0+4]\nmov %r0, 0\nexit", "4"),
    _t("skc_tc_pointer_arithmetic", TC, _skc(99, "add %r6, 4\n"), "4"),
    _t("skc_tc_write", TC, _skc(99, "stw [%r6+4], 1\n"), "4"),
    _t("skc_tc_leak", TC, _SKC + "mov %r0, 0\nexit", "4"),
    _t("skc_tc_release_maybe_null", TC, _SKC + "mov %r1, %r0\ncall 86\nmov %r0, 0\nexit", "4"),
    _t("skc_tc_release", TC, _SKC + "jeq %r0, 0, out\nmov %r1, %r0\ncall 86\nout:" + _RET0, "4"),
]

# -- __sk_buff fields Linux 6.18 accepts that were refused: tstamp_type, hwtstamp, sk (item 3) --
_SK = "ldxdw %r2, [%r1+168]\n"  # r2 = skb->sk (sock_common_or_null, no reference)
_SK_CHECKED = _SK + "jeq %r2, 0, out\n"
_CTX_CASES = [
    _t("skbctx_tc_tstamp_type_byte", TC, "ldxb %r0, [%r1+180]\nexit", "3"),
    _t("skbctx_tc_tstamp_type_half", TC, "ldxh %r0, [%r1+180]\nexit", "3"),
    _t("skbctx_tc_tstamp_type_write", TC, "mov %r2, 1\nstxb [%r1+180], %r2" + _RET0, "3"),
    _t("skbctx_sk_tstamp_type", SOCK, "ldxb %r0, [%r1+180]\nexit", "3"),
    _t("skbctx_tc_hwtstamp", TC, "ldxdw %r0, [%r1+184]\nexit", "3"),
    _t("skbctx_tc_hwtstamp_word", TC, "ldxw %r0, [%r1+184]\nexit", "3"),
    _t("skbctx_tc_hwtstamp_write", TC, "mov %r2, 1\nstxdw [%r1+184], %r2" + _RET0, "3"),
    _t("skbctx_sk_hwtstamp", SOCK, "ldxdw %r0, [%r1+184]\nexit", "3"),
    _t("skbctx_tc_sk_family", TC, _SK_CHECKED + "ldxw %r0, [%r2+4]\nexit\nout:" + _RET0, "3"),
    _t("skbctx_sk_sk_state", SOCK, _SK_CHECKED + "ldxw %r0, [%r2+72]\nexit\nout:" + _RET0, "3"),
    _t("skbctx_tc_sk_type", TC, _SK_CHECKED + "ldxw %r0, [%r2+8]\nexit\nout:" + _RET0, "3"),
    _t("skbctx_tc_sk_no_null_check", TC, _SK + "ldxw %r0, [%r2+4]\nexit", "3"),
    _t("skbctx_tc_sk_word", TC, "ldxw %r0, [%r1+168]\nexit", "3"),
    _t("skbctx_tc_sk_write", TC, "mov %r2, 0\nstxdw [%r1+168], %r2" + _RET0, "3"),
    _t("skbctx_tc_sk_release", TC, _SK_CHECKED + "mov %r1, %r2\ncall 86\nout:" + _RET0, "3"),
    _t("skbctx_tc_sk_returned", TC, _SK + "mov %r0, %r2\nexit", "3"),
    _t("skbctx_sk_sk_unpriv", SOCK, _SK_CHECKED + "ldxw %r0, [%r2+4]\nexit\nout:" + _RET0, "3", priv=False),
    _t("skbctx_tc_flow_keys", TC, "ldxdw %r0, [%r1+144]\nexit", "3"),
    _t("skbctx_xdp_egress_ifindex", XDP, "ldxw %r0, [%r1+20]\nexit", "3"),  # BPF_XDP_DEVMAP programs only
    _t("skbctx_xdp_rx_queue_index", XDP, "ldxw %r0, [%r1+16]\nexit", "3"),
]

# -- SCHED_ACT: tc's ops (helpers, context, packet access, legacy loads) (item 1) -----------
ACT = "act"
_ACT_CASES = [
    _t("act_ldabs_half", ACT, _R6 + _abs(0x28, 12) + "exit", "1"),
    _t("act_ctx_tc_classid_write", ACT, "stw [%r1+72], 1" + _RET0, "1"),
    _t("act_ctx_len_write", ACT, "mov %r2, 1\nstxw [%r1+0], %r2" + _RET0, "1"),
    _t("act_ctx_hwtstamp", ACT, "ldxdw %r0, [%r1+184]\nexit", "1"),
    _t(
        "act_pkt_in_range",
        ACT,
        "ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, out\n"
        "stb [%r2+12], 1\nldxb %r0, [%r2+13]\nexit\nout:" + _RET0,
        "1",
    ),
    _t("act_pkt_no_check", ACT, "ldxw %r2, [%r1+76]\nldxb %r0, [%r2]\nexit", "1"),
    _t("act_helper_redirect", ACT, "mov %r1, 1\nmov %r2, 0\ncall 23\nexit", "1"),
    _t("act_helper_xdp_adjust_head", ACT, "mov %r2, 0\ncall 44\nexit", "1"),
    _t("act_sk_lookup_leak", ACT, _SK_LOOKUP + "mov %r0, 0\nexit", "1"),
    _t("act_rcu_section", ACT, "call runtime {RL}\ncall runtime {RU}" + _RET0, "1"),
    _t("act_unpriv", ACT, "mov %r0, 0\nexit", "1", priv=False),
]

SKB_CASES: list[Case] = _LD_ABS_CASES + _SKC_CASES + _CTX_CASES + _ACT_CASES
