"""sched_ext constants of Linux 6.18 (SX-D1, SX-T6, SX-T13, SX-K1, SX-E1, SX-M2, SX-M4)."""

from __future__ import annotations

__all__ = [
    "EXIT_REASONS",
    "HZ",
    "NICE_TO_WEIGHT",
    "scx_weight",
]

U64 = (1 << 64) - 1
HZ = 250

SCX_DSQ_FLAG_BUILTIN = 1 << 63
SCX_DSQ_FLAG_LOCAL_ON = 1 << 62
SCX_DSQ_INVALID = 1 << 63
SCX_DSQ_GLOBAL = (1 << 63) | 1
SCX_DSQ_LOCAL = (1 << 63) | 2
SCX_DSQ_LOCAL_ON = (1 << 63) | (1 << 62)
SCX_DSQ_LOCAL_CPU_MASK = 0xFFFFFFFF

SCX_SLICE_DFL = 20_000_000
SCX_SLICE_INF = U64
SCX_OPS_NAME_LEN = 128
SCX_DSP_DFL_MAX_BATCH = 32
SCX_DSP_MAX_LOOPS = 32
SCX_WATCHDOG_MAX_TIMEOUT_MS = 30_000
SCX_EXIT_MSG_LEN = 1024
SCX_EXIT_DUMP_DFL_LEN = 32768
SCX_CPUPERF_ONE = 1024

SCX_ENQ_WAKEUP = 1
SCX_ENQ_HEAD = 0x10
SCX_ENQ_CPU_SELECTED = 0x400
SCX_ENQ_PREEMPT = 1 << 32
SCX_ENQ_REENQ = 1 << 40
SCX_ENQ_LAST = 1 << 41
SCX_ENQ_INTERNAL_MASK = 0xFF << 56
SCX_DEQ_SLEEP = 1

SCX_WAKE_FORK = 4
SCX_WAKE_TTWU = 8
SCX_WAKE_SYNC = 16

SCX_KICK_IDLE = 1
SCX_KICK_PREEMPT = 2
SCX_KICK_WAIT = 4

SCX_PICK_IDLE_CORE = 1

SCX_OPS_KEEP_BUILTIN_IDLE = 1
SCX_OPS_ENQ_LAST = 2
SCX_OPS_ENQ_EXITING = 4
SCX_OPS_SWITCH_PARTIAL = 8
SCX_OPS_BUILTIN_IDLE_PER_NODE = 0x40
SCX_OPS_ALL_FLAGS = 0x1007F
SCX_OPS_HAS_CPU_PREEMPT = 1 << 56

SCX_KF_UNLOCKED = 0
SCX_KF_CPU_RELEASE = 1
SCX_KF_DISPATCH = 2
SCX_KF_ENQUEUE = 4
SCX_KF_SELECT_CPU = 8
SCX_KF_REST = 16

SCX_EXIT_NONE = 0
SCX_EXIT_DONE = 1
SCX_EXIT_UNREG = 64
SCX_EXIT_UNREG_BPF = 65
SCX_EXIT_UNREG_KERN = 66
SCX_EXIT_SYSRQ = 67
SCX_EXIT_ERROR = 1024
SCX_EXIT_ERROR_BPF = 1025
SCX_EXIT_ERROR_STALL = 1026
SCX_EFLAG_INITIALIZED = 1

#: SX-E1: the reason string of each exit kind.
EXIT_REASONS = {
    SCX_EXIT_UNREG: "unregistered from user space",
    SCX_EXIT_UNREG_BPF: "unregistered from BPF",
    SCX_EXIT_UNREG_KERN: "unregistered from the main kernel",
    SCX_EXIT_SYSRQ: "disabled by sysrq-S",
    SCX_EXIT_ERROR: "runtime error",
    SCX_EXIT_ERROR_BPF: "scx_bpf_error",
    SCX_EXIT_ERROR_STALL: "runnable task stall",
}
EXIT_KIND_NAMES = {
    SCX_EXIT_NONE: "SCX_EXIT_NONE",
    SCX_EXIT_DONE: "SCX_EXIT_DONE",
    SCX_EXIT_UNREG: "SCX_EXIT_UNREG",
    SCX_EXIT_UNREG_BPF: "SCX_EXIT_UNREG_BPF",
    SCX_EXIT_UNREG_KERN: "SCX_EXIT_UNREG_KERN",
    SCX_EXIT_SYSRQ: "SCX_EXIT_SYSRQ",
    SCX_EXIT_ERROR: "SCX_EXIT_ERROR",
    SCX_EXIT_ERROR_BPF: "SCX_EXIT_ERROR_BPF",
    SCX_EXIT_ERROR_STALL: "SCX_EXIT_ERROR_STALL",
}

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
    "select_cpu": SCX_KF_ENQUEUE | SCX_KF_SELECT_CPU,
    "enqueue": SCX_KF_ENQUEUE,
    "dispatch": SCX_KF_DISPATCH,
    "cpu_release": SCX_KF_CPU_RELEASE,
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
        return SCX_KF_UNLOCKED
    return SCX_KF_REST
