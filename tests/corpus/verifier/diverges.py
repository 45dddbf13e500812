# ruff: noqa: E501
"""Corpus cases where the embedded verifier still differs from Linux 6.18: case -> (fields, why).

The replay (tests/unit/verifier/test_verifier_corpus.py) runs these as strict xfails, so a fix
turns its test red until the entry is removed.  The reason names what differs and where the fix
belongs."""

from __future__ import annotations

__all__ = ["DIVERGES"]

DIVERGES: dict[str, tuple[set[str], str]] = {
    "loop_hits_1m_limit": ({"insn"}, "the 1000001st processed insn is 2 here, 1 on Linux (processing order)"),
    "c_tc_sk_lookup_leak": (
        {"insn", "message"},
        "the helper is in Linux's set for this type but the embedded kernel has no implementation (kernel/helpers.py), so the load is refused",
    ),
    "c_tc_sk_lookup_release": (
        {"verdict"},
        "bpf_sk_lookup_tcp has no modelled proto (kernel/helpers.py): R0 is a scalar, not sock_or_null",
    ),
    "sk_alu_neg32": (
        {"verdict"},
        "neg32 then add32: Linux keeps a 32-bit range that zero-extends, here the 64-bit signed range is lost",
    ),
    "tc_helper_redirect": (
        {"verdict"},
        "the helper is in Linux's set for this type but the embedded kernel has no implementation (kernel/helpers.py), so the load is refused",
    ),
    "tc_sk_lookup_double_release": (
        {"errno", "insn", "message"},
        "the helper is in Linux's set for this type but the embedded kernel has no implementation (kernel/helpers.py), so the load is refused",
    ),
    "tc_sk_lookup_leak": (
        {"insn", "message"},
        "the helper is in Linux's set for this type but the embedded kernel has no implementation (kernel/helpers.py), so the load is refused",
    ),
    "tc_sk_lookup_leak_one_path": (
        {"insn", "message"},
        "the helper is in Linux's set for this type but the embedded kernel has no implementation (kernel/helpers.py), so the load is refused",
    ),
    "tc_sk_lookup_release": (
        {"verdict"},
        "the helper is in Linux's set for this type but the embedded kernel has no implementation (kernel/helpers.py), so the load is refused",
    ),
    "tc_sk_lookup_release_null": (
        {"errno", "insn", "message"},
        "the helper is in Linux's set for this type but the embedded kernel has no implementation (kernel/helpers.py), so the load is refused",
    ),
    "tp_helper_get_current_task": (
        {"verdict"},
        "the helper is in Linux's set for this type but the embedded kernel has no implementation (kernel/helpers.py), so the load is refused",
    ),
    "xdp_helper_adjust_head": (
        {"verdict"},
        "the helper is in Linux's set for this type but the embedded kernel has no implementation (kernel/helpers.py), so the load is refused",
    ),
    "xdp_helper_get_current_task": (
        {"verdict"},
        "the helper is in Linux's set for this type but the embedded kernel has no implementation (kernel/helpers.py), so the load is refused",
    ),
    "xdp_helper_redirect": (
        {"verdict"},
        "the helper is in Linux's set for this type but the embedded kernel has no implementation (kernel/helpers.py), so the load is refused",
    ),
}
