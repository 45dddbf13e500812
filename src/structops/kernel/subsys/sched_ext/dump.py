"""The debug dump of an error exit (SX-E10), with the scheduler's ``ops.dump*`` output.

Generated once per exit of kind >= ``SCX_EXIT_ERROR`` (SX-E5 step 3: before the disable
work, so tasks still sit where the scheduler left them), then copied into
``scx_exit_info.dump`` (``exit_dump_len`` bytes) for ``ops.exit``'s ``UEI_RECORD``.  Layout:

1. ``"%s[%d] triggered exit kind %d:"`` (the current task of the CPU that hit the error),
   ``"  reason (msg)"``, a blank line and ``"Backtrace:"`` (the embedded kernel has no kernel
   stack to print, so no frames follow);
2. a blank line and the ``ops.dump(dctx)`` output, unprefixed (UNLOCKED op, SX-T25);
3. ``"CPU states"`` / ``"----------"``, then per CPU the ``"CPU %-4d: nr_run=..."`` and
   ``"          curr=comm[pid] class=..."`` lines, ``ops.dump_cpu(dctx, cpu, idle)`` output
   prefixed ``"  "``, and each task on the CPU (the current one marked ``*``):
   ``" %c%c %s[%d] %+ldms"`` plus its detail lines and ``ops.dump_task(dctx, p)`` output
   prefixed ``"    "``; an idle CPU with no ``dump_cpu`` output is skipped;
4. ``"Event counters"`` / ``"--------------"`` and ``"%40s: %16lld"`` per event;
5. past ``exit_dump_len`` the tail becomes ``"\\n\\n~~~~ TRUNCATED ~~~~\\n"``.

``scx_bpf_dump()`` output is a character stream: pieces accumulate until a newline, each
finished line gets the prefix of the op being dumped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from structops import btf as btflib
from structops.kernel.subsys.sched_ext import consts as C

if TYPE_CHECKING:
    from structops.kernel.subsys.sched_ext.core import ScxSched
    from structops.schedsim.model import Task

__all__ = ["EVENTS", "TRUNCATED", "ExitInfo", "debug_dump"]


@dataclass
class ExitInfo:
    """What ``scx_exit_info`` holds after an exit (SX-E2)."""

    kind: int = 0
    exit_code: int = 0
    reason: str = ""
    msg: str = ""
    flags: int = 0
    #: The debug dump of an error exit (SX-E10), what ``scx_exit_info.dump`` holds.
    dump: str = ""

    @property
    def kind_name(self) -> str:
        """``SCX_EXIT_*`` name of the kind."""
        return C.EXIT_KIND_NAMES.get(self.kind, str(self.kind))


TRUNCATED = "\n\n~~~~ TRUNCATED ~~~~\n"
#: The ``scx_event_stats`` counters, in the order the dump prints them.
EVENTS = (
    "SCX_EV_SELECT_CPU_FALLBACK",
    "SCX_EV_DISPATCH_LOCAL_DSQ_OFFLINE",
    "SCX_EV_DISPATCH_KEEP_LAST",
    "SCX_EV_ENQ_SKIP_EXITING",
    "SCX_EV_ENQ_SKIP_MIGRATION_DISABLED",
    "SCX_EV_REFILL_SLICE_DFL",
    "SCX_EV_BYPASS_DURATION",
    "SCX_EV_BYPASS_DISPATCH",
    "SCX_EV_BYPASS_ACTIVATE",
)
_CLASS = {"scx": "ext_sched_class", "fair": "fair_sched_class"}


def _op_output(sch: ScxSched, op: str, cpu: int, *args: int, prefix: str = "") -> list[str]:
    """Run dump op ``op`` and return its ``scx_bpf_dump`` output as prefixed lines."""
    if op not in sch.ops:
        return []
    sch.dump_lines.clear()
    sch.call(op, cpu, *args)
    text = "".join(sch.dump_lines)
    sch.dump_lines.clear()
    if not text:
        return []
    return [prefix + line for line in text.rstrip("\n").split("\n")]


def _dsq_name(sch: ScxSched, t: Task) -> str:
    dsq = t.scx.dsq if t.scx is not None else None
    if dsq is None:
        return "(n/a)"
    if dsq.id & C.SCX_DSQ_LOCAL_ON == C.SCX_DSQ_LOCAL_ON:
        return f"SCX_DSQ_LOCAL_ON|{dsq.id & C.SCX_DSQ_LOCAL_CPU_MASK}"
    if dsq.id == C.SCX_DSQ_GLOBAL:
        return "SCX_DSQ_GLOBAL"
    return f"{dsq.id:#x}"


def _task_lines(sch: ScxSched, t: Task, current: bool, now: int, dctx: int) -> list[str]:
    st = t.scx
    ago_ms = ((st.runnable_at if st is not None else now) - now) // 1_000_000
    cpus = ",".join(str(c) for c in t.affinity)
    assert t.layout is not None
    weight = struct.unpack_from("<I", t.kstruct.buf, t.layout.weight)[0] if t.kstruct is not None else 0
    out = [
        f" {'*' if current else ' '}R {t.comm}[{t.pid}] {ago_ms:+d}ms",
        f"      scx_state={st.state if st is not None else 0} dsq_id={_dsq_name(sch, t)}",
        f"      dsq_vtime={t.dsq_vtime} slice={t.slice} weight={weight}",
        f"      cpus={cpus}",
    ]
    return out + _op_output(sch, "dump_task", t.cpu, dctx, t.addr, prefix="    ")


def debug_dump(sch: ScxSched, err_cpu: int) -> str:
    """The dump text (SX-E10), at most ``exit_dump_len`` bytes."""
    m = sch.machine
    ex = sch.exit
    cur = m.cpus[err_cpu].curr if 0 <= err_cpu < m.nr_cpus else None
    who = f"{cur.comm}[{cur.pid}]" if cur is not None else f"swapper/{max(err_cpu, 0)}[0]"
    lines = [f"{who} triggered exit kind {ex.kind}:", f"  {ex.reason} ({ex.msg})", "", "Backtrace:"]
    dctx_t = m.kernel.vmlinux.spec.find("scx_dump_ctx", btflib.Struct)
    dctx = m.scratch(dctx_t.size)
    offs = {mm.name: mm.offset for mm in dctx_t.members}
    struct.pack_into("<I", dctx.buf, offs["kind"], ex.kind)
    struct.pack_into("<q", dctx.buf, offs["exit_code"], ex.exit_code)
    struct.pack_into("<Q", dctx.buf, offs["at_ns"], m.now + getattr(m, "boot_ns", 0))
    struct.pack_into("<Q", dctx.buf, offs["at_jiffies"], (m.now + getattr(m, "boot_ns", 0)) * C.HZ // 10**9)
    ops_dump = _op_output(sch, "dump", err_cpu, dctx.addr)
    if ops_dump:
        lines += ["", *ops_dump]
    lines += ["", "CPU states", "----------"]
    for c in m.cpus:
        idle = c.curr is None
        cpu_out = _op_output(sch, "dump_cpu", c.id, dctx.addr, c.id, int(idle), prefix="  ")
        if idle and not cpu_out:
            continue
        queued = list(sch.local[c.id].tasks) if c.id < len(sch.local) else []
        nr_run = len(queued) + (0 if idle else 1)
        curr = f"{c.curr.comm}[{c.curr.pid}]" if c.curr is not None else f"swapper/{c.id}[0]"
        klass = _CLASS.get(c.curr.sched_class, "fair_sched_class") if c.curr is not None else "idle_sched_class"
        lines += ["", f"CPU {c.id:<4d}: nr_run={nr_run} flags=0x0 cpu_rel=0 ops_qseq=0 pnt_seq=0"]
        lines.append(f"          curr={curr} class={klass}")
        lines += cpu_out
        tasks = ([c.curr] if c.curr is not None and c.curr.scx is not None else []) + queued
        for t in tasks:
            lines += ["", *_task_lines(sch, t, t is c.curr, m.now, dctx.addr)]
    lines += ["", "Event counters", "--------------"]
    lines += [f"{name:>40s}: {sch.events.get(name, 0):16d}" for name in EVENTS]
    text = "\n".join(lines) + "\n"
    limit = sch.exit_dump_len
    if len(text.encode()) > limit:
        keep = max(limit - len(TRUNCATED), 0)
        text = text.encode()[:keep].decode(errors="ignore") + TRUNCATED
    return text
