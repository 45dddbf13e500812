"""Corpus cases for helper argument types (issue 12 item 2): memory arguments, their sizes,
and socket/BTF pointer arguments, as Linux 6.18 checks and words them.

* a map key or value, or helper memory (``ARG_PTR_TO_MEM`` and its uninit/read-only forms),
  given a scalar: one message listing every memory type; a zero or possibly-zero size of an
  ``ARG_CONST_SIZE``: "invalid zero-sized read: u64=[min,max]"; ``bpf_csum_diff`` takes a
  NULL pointer with a zero size (``PTR_MAYBE_NULL`` + ``ARG_CONST_SIZE_OR_ZERO``), and a NULL
  with a non-zero size is refused as "expected=fp";
* ``bpf_setsockopt`` / ``bpf_getsockopt`` (``ARG_PTR_TO_BTF_ID_SOCK_COMMON``) and
  ``bpf_tcp_send_ack`` (``ARG_PTR_TO_BTF_ID`` of ``tcp_sock``) in tcp_congestion_ops
  programs: the ctx socket is trusted; a scalar, or the untrusted ``sk->sk_socket->sk``
  (``{SK_SOCKET}``/``{SOCKET_SK}``, see ``cases_trust.py``), is refused;
* ``bpf_probe_read_kernel(_str)`` write ``ARG_CONST_SIZE_OR_ZERO`` bytes to the stack (zero
  and variable sizes pass, more than the buffer does not); ``bpf_tail_call`` wants the ctx
  and a prog array ("expected prog array map for tail call", printed by Linux without a
  newline, so the statistics line continues it).
"""

from __future__ import annotations

from casemodel import TCP, Case

__all__ = ["HELPER_ARG_CASES"]

_R = "mov %r0, 0\nexit"
_SK = "ldxdw %r1, [%r1+0]\n"  # the ctx's trusted struct sock *
_UNTRUSTED_SK = _SK + "ldxdw %r1, [%r1+{SK_SOCKET}]\nldxdw %r1, [%r1+{SOCKET_SK}]\n"
_GET = "mov %r2, 6\nmov %r3, 13\nmov %r4, %r10\nadd %r4, -16\nmov %r5, 4\ncall 57\n"
_SET = "stw [%r10-16], 1\nmov %r2, 6\nmov %r3, 3\nmov %r4, %r10\nadd %r4, -16\nmov %r5, 4\ncall 49\n"
_FP8 = "mov %r1, %r10\nadd %r1, -8\n"  # an 8-byte stack buffer
_LOAD_BYTES = "mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\n"


def _t(name: str, ptype: str, asm: str) -> Case:
    return Case(name, TCP if ptype == "struct_ops" else None, asm, "2", ptype)


HELPER_ARG_CASES = [
    _t("harg_map_key_scalar", "socket", "ld_pseudo %r1, 1, {HASH8}\nmov %r2, 0\ncall 1\n" + _R),
    _t(
        "harg_map_value_scalar",
        "socket",
        "stw [%r10-4], 0\nld_pseudo %r1, 1, {HASH8}\nmov %r2, %r10\nadd %r2, -4\nmov %r3, 0\nmov %r4, 0\ncall 2\n" + _R,
    ),
    _t("harg_printk_scalar", "socket", "mov %r1, 0\nmov %r2, 4\ncall 6\n" + _R),
    _t("harg_printk_zero_size", "socket", "stw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 0\ncall 6\n" + _R),
    _t(
        "harg_printk_var_size",
        "socket",
        "stdw [%r10-8], 0\ncall 7\nand %r0, 7\nmov %r2, %r0\nadd %r2, 1\nmov %r1, %r10\nadd %r1, -8\ncall 6\n" + _R,
    ),
    _t(
        "harg_printk_var_size_maybe_zero",
        "socket",
        "stdw [%r10-8], 0\ncall 7\nand %r0, 7\nmov %r2, %r0\nmov %r1, %r10\nadd %r1, -8\ncall 6\n" + _R,
    ),
    _t(
        "harg_printk_var_size_too_big",
        "socket",
        "stdw [%r10-8], 0\ncall 7\nand %r0, 15\nadd %r0, 1\nmov %r2, %r0\nmov %r1, %r10\nadd %r1, -8\ncall 6\n" + _R,
    ),
    _t("harg_load_bytes_scalar_buf", "tc", "mov %r2, 0\nmov %r3, 0\nmov %r4, 4\ncall 26\n" + _R),
    _t("harg_load_bytes_zero_size", "tc", _LOAD_BYTES + "mov %r4, 0\ncall 26\n" + _R),
    _t("harg_load_bytes_ok", "tc", _LOAD_BYTES + "mov %r4, 8\ncall 26\n" + _R),
    _t("harg_csum_diff_null_zero", "tc", "mov %r1, 0\nmov %r2, 0\nmov %r3, 0\nmov %r4, 0\nmov %r5, 0\ncall 28\n" + _R),
    _t("harg_csum_diff_null_sized", "tc", "mov %r1, 0\nmov %r2, 4\nmov %r3, 0\nmov %r4, 0\nmov %r5, 0\ncall 28\n" + _R),
    _t(
        "harg_csum_diff_packet",
        "tc",
        "ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r4, %r2\nadd %r4, 8\njgt %r4, %r3, out\n"
        "mov %r1, %r2\nmov %r2, 8\nmov %r3, 0\nmov %r4, 0\nmov %r5, 0\ncall 28\nout:\n" + _R,
    ),
    _t(
        "harg_csum_diff_packet_unchecked",
        "tc",
        "ldxw %r1, [%r1+76]\nmov %r2, 8\nmov %r3, 0\nmov %r4, 0\nmov %r5, 0\ncall 28\n" + _R,
    ),
    _t("harg_getsockopt_ok", "struct_ops", _SK + _GET + _R),
    _t("harg_getsockopt_scalar_sk", "struct_ops", "mov %r1, 0\n" + _GET + _R),
    _t("harg_getsockopt_untrusted_sk", "struct_ops", _UNTRUSTED_SK + _GET + _R),
    _t("harg_getsockopt_zero_len", "struct_ops", _SK + _GET.replace("mov %r5, 4", "mov %r5, 0") + _R),
    _t("harg_getsockopt_buf_oob", "struct_ops", _SK + _GET.replace("mov %r5, 4", "mov %r5, 32") + _R),
    _t("harg_setsockopt_ok", "struct_ops", _SK + _SET + _R),
    _t("harg_setsockopt_zero_len", "struct_ops", _SK + _SET.replace("mov %r5, 4", "mov %r5, 0") + _R),
    _t(
        "harg_setsockopt_scalar_val",
        "struct_ops",
        _SK + _SET.replace("mov %r4, %r10\nadd %r4, -16\n", "mov %r4, 0\n") + _R,
    ),
    _t("harg_send_ack_ok", "struct_ops", _SK + "mov %r2, 0\ncall 116\n" + _R),
    _t("harg_send_ack_scalar", "struct_ops", "mov %r1, 0\nmov %r2, 0\ncall 116\n" + _R),
    _t("harg_send_ack_untrusted", "struct_ops", _UNTRUSTED_SK + "mov %r2, 0\ncall 116\n" + _R),
    _t("harg_tail_call_hash_map", "socket", "ld_pseudo %r2, 1, {HASH8}\nmov %r3, 0\ncall 12\n" + _R),
    _t("harg_tail_call_scalar_ctx", "socket", "ld_pseudo %r2, 1, {HASH8}\nmov %r1, 0\nmov %r3, 0\ncall 12\n" + _R),
    _t("harg_probe_str_scalar_dst", "struct_ops", "mov %r1, 0\nmov %r2, 8\nmov %r3, 0\ncall 115\n" + _R),
    _t("harg_probe_str_zero", "struct_ops", _FP8 + "mov %r2, 0\nmov %r3, 0\ncall 115\n" + _R),
    _t("harg_probe_str_ok", "struct_ops", _FP8 + "mov %r2, 8\nmov %r3, 0\ncall 115\n" + _R),
    _t("harg_probe_str_past_buffer", "struct_ops", _FP8 + "mov %r2, 16\nmov %r3, 0\ncall 115\n" + _R),
    _t("harg_probe_kernel_zero", "struct_ops", _FP8 + "mov %r2, 0\nmov %r3, 0\ncall 113\n" + _R),
    _t(
        "harg_probe_kernel_var_size",
        "struct_ops",
        "call 7\nand %r0, 7\nmov %r2, %r0\n" + _FP8 + "mov %r3, 0\ncall 113\n" + _R,
    ),
    _t("harg_probe_kernel_scalar_dst", "struct_ops", "mov %r1, 0\nmov %r2, 8\nmov %r3, 0\ncall 113\n" + _R),
]
