"""Corpus cases for kfunc argument trust (issue 12 item 2: PTR_TO_BTF_ID walking with
trusted/untrusted/RCU flags; reference tracking of acquire/release kfuncs).

tcp_congestion_ops ``ssthresh`` programs (non-sleepable, so always inside an RCU read section
for the verifier) pass the current task (``bpf_get_current_task_btf``), fields walked from
it, acquired tasks and fields walked from those to ``bpf_task_acquire`` (KF_RCU),
``bpf_task_release`` (KF_RELEASE) and ``bpf_cpumask_test_cpu`` (KF_RCU).  ``{TA}`` /
``{TR}`` / ``{TFP}`` / ``{TC}`` name the kfuncs ``bpf_task_acquire`` / ``bpf_task_release``
/ ``bpf_task_from_pid`` / ``bpf_cpumask_test_cpu``; ``{T_PARENT}`` / ``{T_REAL_PARENT}`` /
``{T_GROUP_LEADER}`` / ``{T_CPUS_PTR}`` are task_struct field offsets of the kernel loaded on.
``tcp_reno_ssthresh`` (``{SSTH}``, registered without KF_* flags) gets the trusted ctx ``sk``,
and the plain ``sk->sk_socket`` (``{SK_SOCKET}``) and ``sk->sk_socket->sk`` (``{SOCKET_SK}``):
6.18 wants a trusted or referenced pointer for every kfunc.
"""

from __future__ import annotations

from typing import Any

from casemodel import TCP, Case

__all__ = ["TRUST_CASES", "trust_facts"]

_KFUNCS = {
    "SSTH": "tcp_reno_ssthresh",
    "TA": "bpf_task_acquire",
    "TR": "bpf_task_release",
    "TFP": "bpf_task_from_pid",
    "TC": "bpf_cpumask_test_cpu",
}
_FIELDS = ("parent", "real_parent", "group_leader", "cpus_ptr")


def trust_facts(k: Any) -> dict[str, int]:
    """The kfuncs' BTF ids and the task_struct field offsets on ``k``."""
    from structops import btf as bt

    spec = bt.parse(k.vmlinux_btf())
    out = {key: spec.type_id(spec.find(name, bt.Func)) for key, name in _KFUNCS.items()}
    task = spec.find("task_struct", bt.Struct)
    offs = {m.name: m.bit_offset // 8 for m in task.members}
    out.update({"T_" + f.upper(): offs[f] for f in _FIELDS})
    for struct_name, field, key in (("sock", "sk_socket", "SK_SOCKET"), ("socket", "sk", "SOCKET_SK")):
        t = spec.find(struct_name, bt.Struct)
        out[key] = next(m.bit_offset // 8 for m in t.members if m.name == field)
    return out


_RET = "mov %r0, 0\nexit"
_CUR = "call 158\nmov %r6, %r0\n"  # r6 = the current task (trusted)
_ACQ = "call runtime {TA}\njne %r0, 0, ok2\nexit\nok2:\n"  # r0 = acquired task, NULL-checked
_REL = "mov %r1, %r0\ncall runtime {TR}\n" + _RET
_RL = "call runtime {RL}\n"
_RP = "call 158\nldxdw %r6, [%r0+{T_REAL_PARENT}]\n"  # r6 = current->real_parent (RCU)
_FROM_PID = "mov %r1, 1\ncall runtime {TFP}\njne %r0, 0, ok\nexit\nok:\nmov %r6, %r0\n"


def _t(name: str, asm: str) -> Case:
    return Case(name, TCP, asm, "2")


TRUST_CASES = [
    _t("trust_acquire_current", _CUR + "mov %r1, %r6\n" + _ACQ + _REL),
    _t("trust_acquire_walked_parent", _CUR + "ldxdw %r1, [%r6+{T_PARENT}]\n" + _ACQ + _REL),
    _t("trust_acquire_walked_real_parent", _CUR + "ldxdw %r1, [%r6+{T_REAL_PARENT}]\n" + _ACQ + _REL),
    _t("trust_acquire_walked_group_leader", _CUR + "ldxdw %r1, [%r6+{T_GROUP_LEADER}]\n" + _ACQ + _REL),
    _t("trust_release_current", _CUR + "mov %r1, %r6\ncall runtime {TR}\n" + _RET),
    _t(
        "trust_acquire_acquired",
        _FROM_PID
        + "mov %r1, %r6\ncall runtime {TA}\njne %r0, 0, ok2\nmov %r1, %r6\ncall runtime {TR}\n"
        + _RET
        + "\nok2:\nmov %r1, %r0\ncall runtime {TR}\nmov %r1, %r6\ncall runtime {TR}\n"
        + _RET,
    ),
    _t("trust_acquire_acquired_leaks", _FROM_PID + "mov %r1, %r6\n" + _ACQ + _REL),
    _t("trust_release_walked_parent", _CUR + "ldxdw %r1, [%r6+{T_PARENT}]\ncall runtime {TR}\n" + _RET),
    _t("trust_release_walked_real_parent", _CUR + "ldxdw %r1, [%r6+{T_REAL_PARENT}]\ncall runtime {TR}\n" + _RET),
    _t(
        "trust_acquired_walked_parent_acquire",
        _FROM_PID + "ldxdw %r1, [%r6+{T_PARENT}]\ncall runtime {TA}\nmov %r1, %r6\ncall runtime {TR}\n" + _RET,
    ),
    _t(
        "trust_acquired_walked_leader_acquire",
        _FROM_PID + "ldxdw %r1, [%r6+{T_GROUP_LEADER}]\ncall runtime {TA}\nmov %r7, %r0\nmov %r1, %r6\n"
        "call runtime {TR}\njeq %r7, 0, out\nmov %r1, %r7\ncall runtime {TR}\nout:\n" + _RET,
    ),
    _t(
        "trust_acquired_release_walked",
        _FROM_PID + "ldxdw %r1, [%r6+{T_GROUP_LEADER}]\ncall runtime {TR}\n" + _RET,
    ),
    _t(
        "trust_walk_twice_acquire",
        _CUR + "ldxdw %r1, [%r6+{T_GROUP_LEADER}]\nldxdw %r1, [%r1+{T_PARENT}]\n" + _ACQ + _REL,
    ),
    _t("trust_cpumask_current_cpus_ptr", _CUR + "ldxdw %r2, [%r6+{T_CPUS_PTR}]\nmov %r1, 0\ncall runtime {TC}\nexit"),
    _t(
        "trust_cpumask_parent_cpus_ptr",
        _CUR + "ldxdw %r2, [%r6+{T_PARENT}]\nldxdw %r2, [%r2+{T_CPUS_PTR}]\nmov %r1, 0\ncall runtime {TC}\nexit",
    ),
    _t(
        "trust_cpumask_real_parent_cpus_ptr",
        _CUR + "ldxdw %r2, [%r6+{T_REAL_PARENT}]\nldxdw %r2, [%r2+{T_CPUS_PTR}]\nmov %r1, 0\ncall runtime {TC}\nexit",
    ),
    _t(
        "trust_acquire_rcu_locked_parent",
        "call runtime {RL}\n" + _CUR + "ldxdw %r1, [%r6+{T_PARENT}]\ncall runtime {TA}\nmov %r6, %r0\n"
        "call runtime {RU}\njne %r6, 0, ok\nexit\nok:\nmov %r1, %r6\ncall runtime {TR}\n" + _RET,
    ),
    _t("trust_default_ctx_sk", "ldxdw %r1, [%r1+0]\ncall runtime {SSTH}\n" + _RET),
    _t(
        "trust_default_walked_socket_sk",
        "ldxdw %r1, [%r1+0]\nldxdw %r1, [%r1+{SK_SOCKET}]\nldxdw %r1, [%r1+{SOCKET_SK}]\ncall runtime {SSTH}\n" + _RET,
    ),
    _t(
        "trust_default_before_type",
        "ldxdw %r1, [%r1+0]\nldxdw %r1, [%r1+{SK_SOCKET}]\ncall runtime {SSTH}\n" + _RET,
    ),
    # an RCU pointer taken inside an explicit section is readable after the unlock, no kfunc arg
    _t("trust_rcu_ptr_after_unlock", _RL + _RP + "call runtime {RU}\nmov %r1, %r6\n" + _ACQ + _REL),
    _t("trust_rcu_ptr_read_after_unlock", _RL + _RP + "call runtime {RU}\nldxw %r0, [%r6+0]\n" + _RET),
    _t(
        "trust_rcu_ptr_inside_section",
        _RL + _RP + "mov %r1, %r6\ncall runtime {TA}\nmov %r6, %r0\ncall runtime {RU}\njeq %r6, 0, out\n"
        "mov %r1, %r6\ncall runtime {TR}\nout:\n" + _RET,
    ),
    _t("trust_trusted_after_unlock", _RL + _CUR + "call runtime {RU}\nmov %r1, %r6\n" + _ACQ + _REL),
]
