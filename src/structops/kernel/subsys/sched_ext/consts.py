"""sched_ext constants of Linux 6.18 (SX-D1, SX-T6, SX-T13, SX-K1, SX-E1, SX-M2, SX-M4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = [
    "EXIT_REASONS",
    "HZ",
    "NICE_TO_WEIGHT",
    "scx_weight",
]

U64 = (1 << 64) - 1
HZ = 250


def _scx_enums() -> dict[str, dict[str, int]]:
    """The ``enum scx_*`` types of the embedded vmlinux BTF: enum name -> enumerators.

    The kernel declares its sched_ext constants as enums (``scx_enq_flags``, ``scx_kf_mask``,
    ``scx_exit_kind``, ``scx_public_consts`` ...); BPF schedulers read them from vmlinux.h
    and this module from the same BTF, so there is one copy of each value.
    """
    from structops import btf as btflib
    from structops.kernel.kbtf import vmlinux_btf_bytes

    spec = btflib.parse(vmlinux_btf_bytes())
    return {
        t.name: {v.name: v.value for v in t.values}
        for t in spec.types
        if isinstance(t, btflib.Enum | btflib.Enum64) and t.name and t.name.startswith("scx_")
    }


_ENUMS = _scx_enums()
_E = {name: value for values in _ENUMS.values() for name, value in values.items()}
globals().update(_E)  # SCX_DSQ_LOCAL, SCX_ENQ_WAKEUP, SCX_KF_DISPATCH, SCX_EXIT_ERROR, ...

if TYPE_CHECKING:

    def __getattr__(name: str) -> int:  # the enumerators above, for type checkers
        ...


SCX_ENQ_INTERNAL_MASK = _E["__SCX_ENQ_INTERNAL_MASK"]
#: SX-R6: ``timeout_ms`` limit (the kernel's ``SCX_WATCHDOG_MAX_TIMEOUT`` is 30 s in jiffies).
SCX_WATCHDOG_MAX_TIMEOUT_MS = 30_000

#: SX-E1: the reason string of each exit kind.
EXIT_REASONS = {
    _E["SCX_EXIT_UNREG"]: "unregistered from user space",
    _E["SCX_EXIT_UNREG_BPF"]: "unregistered from BPF",
    _E["SCX_EXIT_UNREG_KERN"]: "unregistered from the main kernel",
    _E["SCX_EXIT_SYSRQ"]: "disabled by sysrq-S",
    _E["SCX_EXIT_ERROR"]: "runtime error",
    _E["SCX_EXIT_ERROR_BPF"]: "scx_bpf_error",
    _E["SCX_EXIT_ERROR_STALL"]: "runnable task stall",
}
#: ``enum scx_exit_kind`` value -> its name.
EXIT_KIND_NAMES = {value: name for name, value in _ENUMS["scx_exit_kind"].items()}

#: ``sched_prio_to_weight`` (CFS load weight of nice -20 .. 19).
NICE_TO_WEIGHT = (
    88761, 71755, 56483, 46273, 36291,
    29154, 23254, 18705, 14949, 11916,
    9548, 7620, 6100, 4904, 3906,
    3121, 2501, 1991, 1586, 1277,
    1024, 820, 655, 526, 423,
    335, 272, 215, 172, 137,
    110, 87, 70, 56, 45,
    36, 29, 23, 18, 15,
)  # fmt: skip


def scx_weight(load_weight: int) -> int:
    """SX-T5: ``clamp(round(w * 100 / 1024), 1, 10000)`` (nice 0 = 100, nice 10 = 11)."""
    return max(1, min(10000, (load_weight * 100 + 512) // 1024))


#: Ops that run with each kf mask (SX-K1).
OP_MASK = {
    "select_cpu": _E["SCX_KF_ENQUEUE"] | _E["SCX_KF_SELECT_CPU"],
    "enqueue": _E["SCX_KF_ENQUEUE"],
    "dispatch": _E["SCX_KF_DISPATCH"],
    "cpu_release": _E["SCX_KF_CPU_RELEASE"],
}
UNLOCKED_OPS = frozenset(
    [
        "init",
        "exit",
        "init_task",
        "cgroup_init",
        "cgroup_exit",
        "cgroup_prep_move",
        "cgroup_cancel_move",
        "cgroup_set_weight",
        "cgroup_set_bandwidth",
        "cpu_online",
        "cpu_offline",
        "dump",
    ]
)
#: SX-R7: members that may be sleepable.
SLEEPABLE_OPS = frozenset(
    ["init_task", "cgroup_init", "cgroup_exit", "cgroup_prep_move", "cpu_online", "cpu_offline", "init", "exit"]
)


def op_mask(op: str) -> int:
    """The kf mask in force while op ``op`` runs (SX-K1)."""
    if op in OP_MASK:
        return OP_MASK[op]
    if op in UNLOCKED_OPS:
        return _E["SCX_KF_UNLOCKED"]
    return _E["SCX_KF_REST"]
