"""Corpus cases for ``bpf_spin_lock``, RCU read sections and unprivileged pointer-arithmetic
sanitation (issue 12 item 2: reference tracking, RCU read sections, bpf_spin_lock,
privileged vs unprivileged rules).

Lock maps come with BTF (:func:`lock_facts`, loaded with ``BPF_BTF_LOAD``): ``{LOCK8}`` an
ARRAY of ``struct val { u32 cnt; struct bpf_spin_lock lock; }`` (the lock at offset 4),
``{LOCK16}`` the same with a u64 after it, ``{HLOCK8}`` a HASH of ``struct hval { struct
bpf_spin_lock lock; u32 cnt; }`` (the lock at 0), ``{NOLOCK8}`` an ARRAY whose BTF value
has no lock, ``{LOCK1}`` a one-entry ``val`` ARRAY (direct value access, as a global);
``{MAP8}`` (no BTF at all) comes from ``record.map_facts``.  ``{RL}`` / ``{RU}``
are the BTF ids of the ``bpf_rcu_read_lock`` / ``bpf_rcu_read_unlock`` kfuncs.
"""

from __future__ import annotations

from typing import Any

from casemodel import CHECKED16, DUMMY, TCP, Case

__all__ = ["LOCK_CASES", "lock_facts"]

TC, XDP, SOCK, TP = "tc", "xdp", "socket", "tracepoint"
_RET = "mov %r0, 0\nexit"


def lock_facts(k: Any) -> dict[str, int]:
    """Create the lock maps on ``k`` (needs CAP_BPF: BTF_LOAD) and name the RCU kfuncs."""
    from structops import btf as bt
    from structops.abi.attrs import BtfLoadAttr
    from structops.btf.build import Builder
    from structops.kernel.attrs import MapCreateAttr
    from structops.uapi import Cmd, MapType

    u32, u64 = bt.Int("unsigned int", 4), bt.Int("long long unsigned int", 8)
    lock = bt.Struct("bpf_spin_lock", 4, (bt.Member("val", u32, 0),))
    values = {
        "val": bt.Struct("val", 8, (bt.Member("cnt", u32, 0), bt.Member("lock", lock, 32))),
        "val16": bt.Struct(
            "val16", 16, (bt.Member("cnt", u32, 0), bt.Member("lock", lock, 32), bt.Member("x", u64, 64))
        ),
        "hval": bt.Struct("hval", 8, (bt.Member("lock", lock, 0), bt.Member("cnt", u32, 32))),
        "nolock": bt.Struct("nolock", 8, (bt.Member("a", u32, 0), bt.Member("b", u32, 32))),
    }
    b = Builder()
    key_id = b.add(u32)
    ids = {name: b.add(t) for name, t in values.items()}
    btf_fd = k.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(bytearray(b.build())))
    out = {}
    for name, mtype, value in (
        ("LOCK8", MapType.BPF_MAP_TYPE_ARRAY, "val"),
        ("LOCK16", MapType.BPF_MAP_TYPE_ARRAY, "val16"),
        ("HLOCK8", MapType.BPF_MAP_TYPE_HASH, "hval"),
        ("NOLOCK8", MapType.BPF_MAP_TYPE_ARRAY, "nolock"),
        ("LOCK1", MapType.BPF_MAP_TYPE_ARRAY, "val"),
    ):
        attr = MapCreateAttr(
            mtype,
            4,
            values[value].size,
            1 if name == "LOCK1" else 4,
            map_name=name.lower().encode(),
            btf_fd=btf_fd,
            btf_key_type_id=key_id,
            btf_value_type_id=ids[value],
        )
        out[name] = k.bpf(Cmd.BPF_MAP_CREATE, attr)
    spec = bt.parse(k.vmlinux_btf())
    out["RL"] = spec.type_id(spec.find("bpf_rcu_read_lock", bt.Func))
    out["RU"] = spec.type_id(spec.find("bpf_rcu_read_unlock", bt.Func))
    return out


def _checked(m: str = "LOCK8", reg: str = "%r6", label: str = "ok") -> str:
    """R<reg> = the NULL-checked value of map ``m`` at key 0 (clobbers r0-r5)."""
    return (
        f"stw [%r10-4], 0\nld_pseudo %r1, 1, {{{m}}}\nmov %r2, %r10\nadd %r2, -4\ncall 1\n"
        f"jne %r0, 0, {label}\nmov %r0, 0\nexit\n{label}:\nmov {reg}, %r0\n"
    )


def _lock(reg: str = "%r6", off: int = 4, hid: int = 93) -> str:
    return f"mov %r1, {reg}\nadd %r1, {off}\ncall {hid}\n"


def _unlock(reg: str = "%r6", off: int = 4) -> str:
    return _lock(reg, off, 94)


def _t(name: str, asm: str, ptype: str = TC, priv: bool = True) -> Case:
    return Case(name, TCP if ptype == "struct_ops" else None, asm, "2", ptype, priv)


_V = _checked()
_CNT = "ldxw %r7, [%r6+0]\n"
_SPIN_CASES = [
    _t("lock_tc_lock_unlock", _V + _lock() + "stw [%r6+0], 1\n" + _unlock() + _RET),
    _t("lock_xdp_lock_unlock", _V + _lock() + _unlock() + _RET, XDP),
    _t("lock_tcp_lock_unlock", _V + _lock() + _CNT + _unlock() + _RET, "struct_ops"),
    _t("lock_sk_map_refused", _V + _lock() + _unlock() + _RET, SOCK),
    _t("lock_sk_map_unused_refused", "mov %r0, 0\njeq %r0, 0, out\n" + _V + "out:\n" + _RET, SOCK),
    _t("lock_tp_map_refused", _V + _lock() + _unlock() + _RET, TP),
    _t("lock_no_unlock", _V + _lock() + _RET),
    _t("lock_unlock_without_lock", _V + _unlock() + _RET),
    _t("lock_wrong_offset", _V + _lock(off=0) + _unlock(off=0) + _RET),
    _t("lock_twice", _V + _lock() + _lock() + _unlock() + _RET),
    _t("lock_helper_inside", _V + _lock() + "call 5\n" + _unlock() + _RET),
    _t("lock_kfunc_inside", _V + _lock() + "call runtime {RL}\ncall runtime {RU}\n" + _unlock() + _RET),
    _t("lock_subprog_inside", _V + _lock() + "call local f\n" + _unlock() + _RET + "\nf:\nmov %r0, 0\nexit"),
    _t(
        "lock_taken_in_subprog",
        _V + "mov %r1, %r6\ncall local f\n" + _unlock() + _RET + "\nf:\nadd %r1, 4\ncall 93\n" + _RET,
    ),
    _t("lock_map_without_lock", _checked("NOLOCK8") + _lock() + _unlock() + _RET),
    _t("lock_map_without_btf", _checked("MAP8") + _lock() + _unlock() + _RET),
    _t("lock_field_read", _V + "ldxw %r0, [%r6+4]\nexit"),
    _t("lock_field_write", _V + "stw [%r6+4], 0\n" + _RET),
    _t("lock_field_overlap_dw", _V + "ldxdw %r0, [%r6+0]\nexit"),
    _t(
        "lock_field_neighbour", _checked("LOCK16") + _lock() + "stdw [%r6+8], 1\nldxw %r0, [%r6+0]\n" + _unlock() + _RET
    ),
    _t(
        "lock_value_as_helper_value",
        _V + "ld_pseudo %r1, 1, {LOCK8}\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r6\nmov %r4, 0\ncall 2\n" + _RET,
    ),
    _t("lock_value_head_as_helper_key", _V + "ld_pseudo %r1, 1, {MAP8}\nmov %r2, %r6\ncall 1\n" + _RET),
    _t("lock_value_tail_as_helper_key", _V + "ld_pseudo %r1, 1, {MAP8}\nmov %r2, %r6\nadd %r2, 4\ncall 1\n" + _RET),
    _t(
        "lock_update_from_stack",
        _V + "stdw [%r10-16], 0\nld_pseudo %r1, 1, {LOCK8}\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\n"
        "add %r3, -16\nmov %r4, 4\ncall 2\n" + _RET,
    ),
    _t("lock_atomic_on_lock_word", _V + "mov %r1, 1\nlock add32 [%r6+4], %r1\n" + _RET),
    _t("lock_atomic64_over_lock", _V + "mov %r1, 1\nlock add [%r6+0], %r1\n" + _RET),
    _t("lock_atomic64_misaligned", _V + "mov %r1, 1\nlock add [%r6+4], %r1\n" + _RET),
    _t("map_atomic_misaligned_reg_off", _checked("MAP16") + "add %r6, 2\nmov %r1, 1\nlock add32 [%r6+0], %r1\n" + _RET),
    _t("map_atomic_fetch_misaligned", _checked("MAP16") + "mov %r1, 1\nlock fetch add32 [%r6+2], %r1\n" + _RET),
    _t("lock_stack_ptr", "mov %r1, %r10\nadd %r1, -8\ncall 93\n" + _RET),
    _t("lock_ctx_ptr", "call 93\n" + _RET),
    _t("lock_scalar", "mov %r1, 0\ncall 93\n" + _RET),
    _t(
        "lock_maybe_null",
        "stw [%r10-4], 0\nld_pseudo %r1, 1, {HLOCK8}\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r6, %r0\n"
        "mov %r1, %r0\ncall 93\n" + _unlock(off=0) + _RET,
    ),
    _t("lock_hash_at_zero", _checked("HLOCK8") + _lock(off=0) + "stw [%r6+4], 1\n" + _unlock(off=0) + _RET),
    _t("lock_var_offset", _V + "call 7\nand %r0, 4\nmov %r1, %r6\nadd %r1, %r0\ncall 93\n" + _unlock() + _RET),
    _t("lock_unlock_other_lookup", _V + _checked(reg="%r7", label="ok2") + _lock() + _unlock("%r7") + _RET),
    _t(
        "lock_unlock_other_const_key",
        "stw [%r10-4], 0\nld_pseudo %r1, 1, {LOCK8}\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r6, %r0\n"
        "ld_pseudo %r1, 1, {LOCK8}\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r7, %r0\n"
        + _lock()
        + _unlock("%r7")
        + _RET,
    ),
    _t("lock_global_value", "ld_pseudo %r6, 2, {LOCK1}, 0\n" + _lock() + _unlock() + _RET),
    _t("lock_global_value_offset", "ld_pseudo %r6, 2, {LOCK1}, 4\n" + _lock(off=0) + _unlock(off=0) + _RET),
    _t("lock_global_value_multi_entry", "ld_pseudo %r6, 2, {LOCK8}, 0\n" + _lock() + _unlock() + _RET),
    _t("lock_exit_on_one_path", _V + _lock() + _CNT + "jeq %r7, 0, skip\n" + _unlock() + "skip:\n" + _RET),
    _t("lock_exit_in_branch", _V + _lock() + _CNT + "jeq %r7, 0, skip\n" + _unlock() + _RET + "\nskip:\n" + _RET),
    _t(
        "lock_both_paths_unlock",
        _V + _lock() + _CNT + "jeq %r7, 0, skip\nstw [%r6+0], 0\nskip:\n" + _unlock() + _RET,
    ),
    _t(
        "lock_loop",
        _V + "mov %r8, 0\nloop:\n" + _lock() + "stw [%r6+0], 1\n" + _unlock() + "add %r8, 1\njlt %r8, 4, loop\n" + _RET,
    ),
    _t("lock_r0_void_after_unlock", _V + _lock() + _unlock() + "exit"),
    _t(
        # the join point sees a state holding the lock and one without; they must not prune
        "lock_join_not_pruned",
        _V
        + _CNT
        + "jeq %r7, 0, locked\ncall 5\nmov %r7, 0\nja join\nlocked:\n"
        + _lock()
        + "mov %r7, 0\njoin:\n"
        + _RET,
    ),
    _t(
        "lock_taken_if_then_released_if",
        _V + _CNT + "jeq %r7, 0, a\n" + _lock() + "a:\njeq %r7, 0, b\n" + _unlock() + "b:\n" + _RET,
    ),
]

_RL, _RU = "call runtime {RL}\n", "call runtime {RU}\n"
_RCU_CASES = [
    _t("rcu_tc_pair", _RL + _RU + _RET),
    _t("rcu_xdp_pair", _RL + _RU + _RET, XDP),
    _t("rcu_tp_pair", _RL + _RU + _RET, TP),
    _t("rcu_sk_pair", _RL + _RU + _RET, SOCK),
    _t("rcu_sk_pair_unpriv", _RL + _RU + _RET, SOCK, priv=False),
    _t("rcu_tcp_pair", _RL + _RU + _RET, "struct_ops"),
    Case("rcu_dummy_pair", DUMMY, _RL + _RU + _RET, "2"),
    _t("rcu_lock_in_subprog_unlock_in_main", "call local f\n" + _RU + _RET + "\nf:\n" + _RL + _RET),
    _t("rcu_nested_through_subprog", _RL + "call local f\n" + _RU + _RET + "\nf:\n" + _RL + _RU + _RET),
    _t("rcu_unlock_twice", _RL + _RU + _RU + _RET),
    _t("rcu_tcp_read_sk", "mov %r6, %r1\n" + _RL + "ldxdw %r1, [%r6]\nldxw %r0, [%r1+8]\n" + _RU + _RET, "struct_ops"),
    _t("rcu_no_unlock", _RL + _RET),
    _t("rcu_unlock_without_lock", _RU + _RET),
    _t("rcu_nested", _RL + _RL + _RU + _RU + _RET),
    _t("rcu_helper_inside", _RL + "call 5\n" + _RU + _RET),
    _t("rcu_unlock_in_subprog", _RL + "call local f\n" + _RET + "\nf:\n" + _RU + _RET),
    _t("rcu_lock_in_subprog_kept", "call local f\n" + _RET + "\nf:\n" + _RL + _RET),
    _t(
        "rcu_exit_on_one_path",
        "mov %r6, %r1\n" + _RL + "ldxw %r1, [%r6+0]\njeq %r1, 0, skip\n" + _RU + "skip:\n" + _RET,
    ),
    _t("rcu_spin_lock_inside", _RL + _V + _lock() + _unlock() + _RU + _RET),
    _t(
        "rcu_join_not_pruned",
        "mov %r6, %r1\nldxw %r7, [%r6+0]\njeq %r7, 0, locked\ncall 5\nja join\nlocked:\n" + _RL + "join:\n" + _RET,
    ),
]

# -- unprivileged pointer arithmetic (socket filter, no capability): sanitize_ptr_alu ----------
_B = CHECKED16 + "ldxb %r1, [%r0]\n"
_U = "\nmov %r0, 0\nexit"
_UNPRIV_CASES = [
    _t(f"unpriv_{name}", asm, SOCK, priv=False)
    for name, asm in (
        ("map_value_add_in_range", CHECKED16 + "add %r0, 8\nldxb %r0, [%r0]\nexit"),
        ("map_value_add_to_end", CHECKED16 + "add %r0, 16" + _U),
        ("map_value_add_negative", CHECKED16 + "add %r0, -1" + _U),
        ("map_value_var_in_range", _B + "and %r1, 15\nadd %r0, %r1\nldxb %r0, [%r0]\nexit"),
        ("map_value_var_out_of_range", _B + "and %r1, 31\nadd %r0, %r1" + _U),
        ("map_value_var_after_const", _B + "and %r1, 7\nadd %r0, 12\nadd %r0, %r1" + _U),
        ("map_value_var_sub", _B + "and %r1, 7\nadd %r0, 8\nsub %r0, %r1\nldxb %r0, [%r0]\nexit"),
        ("map_value_reg_const_out", CHECKED16 + "mov %r1, 20\nadd %r0, %r1" + _U),
        ("scalar_plus_map_value", _B + "and %r1, 7\nadd %r1, %r0\nldxb %r0, [%r1]\nexit"),
        ("stack_add_zero", "mov %r1, %r10\nadd %r1, 0" + _U),
        ("stack_below_frame", "mov %r1, %r10\nadd %r1, -520" + _U),
        ("stack_var_offset", _B + "and %r1, 7\nmov %r2, %r10\nadd %r2, -16\nadd %r2, %r1" + _U),
        ("ctx_add_reg", "mov %r2, 4\nadd %r1, %r2" + _U),
        (
            "paths_same_limit",
            _B + "mov %r2, %r10\nadd %r2, -8\njeq %r1, 0, l\nmov %r2, %r0\nl:\nmov %r3, 4\nadd %r2, %r3" + _U,
        ),
        ("paths_scalar_differs", _B + "mov %r3, 4\njeq %r1, 0, l\nmov %r3, 8\nl:\nadd %r0, %r3\nldxb %r0, [%r0]\nexit"),
        (
            "paths_sub_differs",
            _B + "add %r0, 8\nmov %r3, 4\njeq %r1, 0, l\nmov %r3, 2\nl:\nsub %r0, %r3\nldxb %r0, [%r0]\nexit",
        ),
        ("paths_sign_differs", _B + "add %r0, 8\nmov %r3, -4\njeq %r1, 0, l\nmov %r3, 4\nl:\nadd %r0, %r3" + _U),
        ("paths_same_scalar", _B + "mov %r3, 4\njeq %r1, 0, l\nmov %r3, 4\nl:\nadd %r0, %r3\nldxb %r0, [%r0]\nexit"),
        (
            "paths_scalar_then_pointer",
            _B + "mov %r2, 4\nmov %r3, 4\njeq %r1, 0, l\nmov %r2, %r0\nl:\nadd %r2, %r3" + _U,
        ),
        (
            "paths_pointer_then_scalar",
            _B + "mov %r2, %r0\nmov %r3, 4\njeq %r1, 0, l\nmov %r2, 4\nl:\nadd %r2, %r3" + _U,
        ),
        (
            "paths_stack_or_map",
            _B + "mov %r2, %r10\nadd %r2, -16\nmov %r3, 4\njeq %r1, 0, l\nmov %r2, %r0\nl:\nadd %r2, %r3" + _U,
        ),
        ("stack_edge_add_reg", "mov %r2, %r10\nadd %r2, -512\nmov %r3, 4\nadd %r2, %r3" + _U),
        ("stack_edge_add_reg_past_fp", "mov %r2, %r10\nadd %r2, -512\nmov %r3, 600\nadd %r2, %r3" + _U),
        ("stack_edge_add_negative_reg", "mov %r2, %r10\nadd %r2, -512\nmov %r3, -4\nadd %r2, %r3" + _U),
        ("stack_reg_to_fp", "mov %r2, %r10\nadd %r2, -8\nmov %r3, 8\nadd %r2, %r3" + _U),
        ("stack_negative_reg_store", "mov %r2, %r10\nadd %r2, -8\nmov %r3, -8\nadd %r2, %r3\nstdw [%r2], 0" + _U),
        ("scalar_plus_stack_edge", "mov %r2, %r10\nadd %r2, -512\nmov %r3, 4\nadd %r3, %r2" + _U),
        ("dead_branch_bad_deref", "mov %r1, 0\njeq %r1, 0, ok\nldxdw %r0, [%r1]\nexit\nok:" + _U),
        ("dead_branch_ptr_return", "mov %r1, 0\njeq %r1, 0, ok\nmov %r0, %r10\nexit\nok:" + _U),
        ("map_value_var_then_back", _B + "and %r1, 7\nadd %r0, 8\nadd %r0, %r1\nldxb %r0, [%r0-8]\nexit"),
        ("map_ptr_add_reg", "ld_pseudo %r1, 1, {MAP8}\nmov %r2, 4\nadd %r1, %r2" + _U),
    )
]

#: C programs compiled by ``make`` in this directory (the loader creates their maps with BTF).
_C_CASES = [
    Case("c_tc_spin_lock", None, "", "2", TC, obj="tc_spin_lock.bpf.o"),
    Case("c_tc_spin_lock_call", None, "", "2", TC, obj="tc_spin_lock_call.bpf.o"),
    Case("c_tc_rcu_section", None, "", "2", TC, obj="tc_rcu_section.bpf.o"),
    Case("c_tc_rcu_early_return", None, "", "2", TC, obj="tc_rcu_early_return.bpf.o"),
    # an rbtree and its lock in a global section (rbcommon.h): the tree calls need the lock
    Case("c_tc_rbtree_locked", None, "", "2", TC, obj="tc_rbtree_locked.bpf.o"),
    Case("c_tc_rbtree_unlocked", None, "", "2", TC, obj="tc_rbtree_unlocked.bpf.o"),
    Case("c_tc_rbtree_new_in_lock", None, "", "2", TC, obj="tc_rbtree_new_in_lock.bpf.o"),
    Case("c_tc_rbtree_first_after_unlock", None, "", "2", TC, obj="tc_rbtree_first_after_unlock.bpf.o"),
    Case("c_tc_rbtree_first_unlocked", None, "", "2", TC, obj="tc_rbtree_first_unlocked.bpf.o"),
    # a bpf_spin_lock inside an object of bpf_obj_new
    Case("c_tc_obj_lock", None, "", "2", TC, obj="tc_obj_lock.bpf.o"),
    Case("c_tc_obj_no_lock", None, "", "2", TC, obj="tc_obj_no_lock.bpf.o"),
    Case("c_tc_obj_lock_read", None, "", "2", TC, obj="tc_obj_lock_read.bpf.o"),
    # calls with a lock held: a static function is fine, a global one or bpf_loop is not
    Case("c_tc_lock_static_fn", None, "", "2", TC, obj="tc_lock_static_fn.bpf.o"),
    Case("c_tc_lock_global_fn", None, "", "2", TC, obj="tc_lock_global_fn.bpf.o"),
    Case("c_tc_lock_bpf_loop", None, "", "2", TC, obj="tc_lock_bpf_loop.bpf.o"),
    Case("c_tc_rcu_loop_cb", None, "", "2", TC, obj="tc_rcu_loop_cb.bpf.o"),
    # tracing programs may not use maps holding a lock or a graph root
    Case("c_tp_spin_lock_map", None, "", "2", TP, obj="tp_spin_lock_map.bpf.o"),
    Case("c_tp_rbtree_map", None, "", "2", TP, obj="tp_rbtree_map.bpf.o"),
]

# -- the helpers a loader without capabilities may call (get_func_proto without CAP_BPF/PERFMON)
_HELPER_CALLS = {
    "spin_lock": "mov %r6, 0\n" + _checked("MAP8") + _lock(off=0) + _unlock(off=0) + _RET,
    "jiffies64": "call 118\nexit",
    "ktime_get_ns": "call 5\nexit",
    "get_current_task": "call 35\nexit",
    "probe_read_kernel": "mov %r1, %r10\nadd %r1, -8\nmov %r2, 8\nmov %r3, 0\ncall 113\n" + _RET,
    "skc_to_tcp_sock": "mov %r1, 0\ncall 137\n" + _RET,
    "loop_without_callback": "mov %r1, 1\nmov %r2, 0\nmov %r3, 0\nmov %r4, 0\ncall 181\n" + _RET,
    "timer_init": "call 169\n" + _RET,
    "trace_printk": "call 6\n" + _RET,
}
_HELPER_CASES = [
    _t(f"{'unpriv' if not priv else 'priv'}_helper_{name}", asm, SOCK, priv=priv)
    for name, asm in _HELPER_CALLS.items()
    for priv in (False, True)
    if not priv or name not in ("skc_to_tcp_sock", "trace_printk")  # privileged: argument checks
]

LOCK_CASES: list[Case] = [*_SPIN_CASES, *_RCU_CASES, *_UNPRIV_CASES, *_HELPER_CASES, *_C_CASES]
