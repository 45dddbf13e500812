"""``sched_ext_ops``: the BPF extensible scheduler class as a struct_ops type (SX-R1-SX-R16).

Registration as Linux 6.18: one scheduler at a time (a second ``reg`` is ``-EBUSY``,
SX-R9), no live update (``-EOPNOTSUPP``, SX-R8), ``init_member`` validation of the data
fields (SX-R6), sleepable programs only on the members of SX-R7, writes through a task
pointer only to ``scx.slice``, ``scx.dsq_vtime`` and ``scx.disallow`` (SX-R5).  Failures
after the scheduler starts enabling do not fail the attach (SX-R11): they are exits.
The scheduler runs on the kernel's simulated machine (:attr:`ScxState.machine`, a
:class:`structops.schedsim.machine.Machine`; a 4-CPU idle one is made on first use).
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.errors import bpf_error
from structops.kernel.btfview import field_path
from structops.kernel.helpers import BASE_HELPERS
from structops.kernel.struct_ops import KData, StructOpsLink, StructOpsOps, VerifierOps
from structops.kernel.subsys.sched_ext import consts as C
from structops.kernel.subsystem import Subsystem, plug_in

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.prog import BpfProg
    from structops.kernel.subsys.sched_ext.core import ScxSched
    from structops.schedsim.machine import Machine

__all__ = ["ScxState", "install", "state_of"]

NAME = "sched_ext_ops"
#: Kfuncs flagged KF_SLEEPABLE (SX-K3): callable only from sleepable programs.
SLEEPABLE_KFUNCS = frozenset({"scx_bpf_create_dsq"})


@dataclass
class ScxState:
    """The kernel-wide sched_ext state: the machine and the loaded scheduler, if any."""

    kernel: EmulatedKernel
    machine: Machine | None = None
    sch: ScxSched | None = None

    def attach(self, kernel: EmulatedKernel) -> None:
        """The subsystem's setup: the kernel reaches its sched_ext state as ``kernel.sched_ext``."""
        kernel.sched_ext = self  # type: ignore[attr-defined]

    def ensure_machine(self) -> Machine:
        """The machine schedulers run on (a default 4-CPU one if none was bound)."""
        if self.machine is None:
            from structops.schedsim.machine import Machine

            self.machine = Machine(self.kernel, 4)
        return self.machine


def state_of(kernel: Any) -> ScxState:
    """The :class:`ScxState` of ``kernel`` (raises EOPNOTSUPP without sched_ext)."""
    st = getattr(kernel, "sched_ext", None)
    if not isinstance(st, ScxState):
        raise bpf_error(errno.EOPNOTSUPP, "this kernel has no sched_ext", op="sched_ext")
    return st


def _init_member(t: btflib.Struct, m: btflib.Member, kdata: KData, udata: bytes) -> int:
    """SX-R6: the data fields (refusals raise with a message naming the field)."""
    off = m.offset
    size = btflib.sizeof(m.type) if m.name != "name" else C.SCX_OPS_NAME_LEN
    raw = bytes(udata[off : off + size])
    val = int.from_bytes(raw, "little")
    if m.name == "dispatch_max_batch":
        if val > 0x7FFFFFFF:
            raise bpf_error(errno.E2BIG, f"sched_ext_ops.dispatch_max_batch {val} is larger than INT_MAX")
    elif m.name == "flags":
        if val & ~C.SCX_OPS_ALL_FLAGS:
            raise bpf_error(
                errno.EINVAL,
                f"sched_ext_ops.flags {val:#x} has unknown bits {val & ~C.SCX_OPS_ALL_FLAGS:#x}; "
                f"only {C.SCX_OPS_ALL_FLAGS:#x} may be set",
            )
    elif m.name == "name":
        name = raw.split(b"\0", 1)[0]
        if not name or any(not (chr(c).isalnum() or chr(c) in "_.") or c > 127 for c in name):
            raise bpf_error(
                errno.EINVAL,
                f"sched_ext_ops.name {name.decode(errors='replace')!r} must be 1+ characters of [A-Za-z0-9_.]",
            )
        kdata.write("name", name)
        return 1
    elif m.name == "timeout_ms":
        if (val * C.HZ + 999) // 1000 > 30 * C.HZ:  # msecs_to_jiffies rounds up
            raise bpf_error(errno.E2BIG, f"sched_ext_ops.timeout_ms {val} is above the 30000 ms limit")
    elif m.name == "exit_dump_len":
        kdata.write(m.name, struct.pack("<I", val or C.SCX_EXIT_DUMP_DFL_LEN))
        return 1
    elif m.name == "hotplug_seq":
        pass
    else:
        return 0
    kdata.write(m.name, raw)
    return 1


def _kfunc_names(kernel: EmulatedKernel, prog: BpfProg) -> set[str]:
    names = set()
    insns = prog.insns
    for i in range(0, len(insns) - 7, 8):
        if insns[i] == 0x85 and (insns[i + 1] >> 4) == 2:  # call, src = BPF_PSEUDO_KFUNC_CALL
            btf_id = struct.unpack_from("<i", insns, i + 4)[0]
            k = kernel.kfunc_by_id(btf_id, struct.unpack_from("<h", insns, i + 2)[0])
            if k is not None:
                names.add(k.name)
    return names


def install(kernel: EmulatedKernel) -> None:
    """Plug in ``sched_ext_ops`` and the sched_ext kfuncs (vmlinux BTF)."""
    state = ScxState(kernel)
    plug_in(kernel, _subsystem(kernel, state, _struct_ops(kernel, state)))
    from structops.kernel.subsys.sched_ext.graph import install_graph_runtime

    install_graph_runtime(kernel)  # obj_new/rbtree kfuncs need the running program


def _struct_ops(kernel: EmulatedKernel, state: ScxState) -> StructOpsOps:
    """The ``sched_ext_ops`` type: SX-R5 writes, SX-R7 sleepable members, SX-R8/9/13/14."""
    spec = kernel.vmlinux.spec
    task_struct = spec.find("task_struct", btflib.Struct)
    writable = []
    for path in ("scx.slice", "scx.dsq_vtime", "scx.disallow"):
        loc = field_path(task_struct, path)
        writable.append((loc.offset, loc.offset + loc.size))

    def btf_struct_access(type_name: str, off: int, size: int) -> int:
        """SX-R5."""
        if type_name == "task_struct" and any(lo <= off and off + size <= hi for lo, hi in writable):
            return 0
        return -errno.EACCES

    def check_member(t: btflib.Struct, m: btflib.Member, prog: BpfProg) -> int:
        """SX-R7; a KF_SLEEPABLE kfunc needs a sleepable program (SX-K3)."""
        if prog.sleepable and m.name not in C.SLEEPABLE_OPS:
            return -errno.EINVAL
        if not prog.sleepable and _kfunc_names(kernel, prog) & SLEEPABLE_KFUNCS:
            raise bpf_error(
                errno.EACCES,
                f"sched_ext_ops.{m.name}: program must be sleepable to call sleepable kfunc scx_bpf_create_dsq "
                '(use SEC("struct_ops.s/...") on init, init_task, cpu_online/offline or cgroup ops)',
            )
        return 0

    def reg(kdata: KData, link: StructOpsLink | None) -> int:
        """SX-R9/SX-R14: -EBUSY unless disabled; later failures are exits (SX-R11)."""
        if state.sch is not None:
            return -errno.EBUSY
        from structops.kernel.subsys.sched_ext.core import ScxSched

        machine = state.ensure_machine()
        sch = ScxSched(kdata, machine)
        state.sch = sch
        kdata.state["scx"] = sch
        machine.attach_scx(sch)
        return 0

    def unreg(kdata: KData, link: StructOpsLink | None) -> None:
        """SX-R13: disable synchronously; the first recorded exit stands."""
        sch = kdata.state.pop("scx", None)
        if sch is None:
            return
        if not sch.disabled:
            sch.machine.detach_scx(sch)
        if state.sch is sch:
            state.sch = None

    def update(new: KData, old: KData, link: StructOpsLink) -> int:
        """SX-R8."""
        return -errno.EOPNOTSUPP

    def get_func_proto(hid: int, prog: BpfProg) -> bool:
        return hid in BASE_HELPERS

    stubs: dict[str, str | None] = {
        m.name: f"sched_ext_ops__{m.name}"
        for m in spec.find(NAME, btflib.Struct).members
        if isinstance(btflib.underlying(m.type), btflib.Pointer) and m.name != "priv"
    }
    return StructOpsOps(
        name=NAME,
        cfi_stubs=stubs,
        init_member=_init_member,
        reg=reg,
        unreg=unreg,
        update=update,
        check_member=check_member,
        verifier_ops=VerifierOps(get_func_proto=get_func_proto, btf_struct_access=btf_struct_access),
    )


def _subsystem(kernel: EmulatedKernel, state: ScxState, ops: StructOpsOps) -> Subsystem:
    """sched_ext as a :class:`Subsystem`: the type, its kfuncs (SX-K35) and the map helpers.

    6.18 registers the scx kfunc sets without a filter (SX-K3, spec section 0): any
    struct_ops program may reference them; contexts are checked when called (SX-K2).
    """
    from structops.kernel.maps.percpu_array import percpu_helpers
    from structops.kernel.maps.queue import queue_helpers
    from structops.kernel.maps.sk_storage import CgrpStorageMap, TaskStorageMap
    from structops.kernel.maps.spin_lock import spin_lock_helpers
    from structops.kernel.subsys.sched_ext.cgroup import cgroup_kfuncs
    from structops.kernel.subsys.sched_ext.cpumask import kptr_xchg_helper
    from structops.kernel.subsys.sched_ext.kfuncs import UNIMPLEMENTED, sched_ext_kfuncs
    from structops.verifier import ops as vops

    return Subsystem(
        NAME,
        setup=state.attach,
        struct_ops=[ops],
        kfuncs=[*sched_ext_kfuncs(kernel, state), *cgroup_kfuncs(state)],
        unimplemented_kfuncs=UNIMPLEMENTED,
        helpers=[
            *queue_helpers(kernel),
            *TaskStorageMap.helpers(kernel),
            *percpu_helpers(kernel),
            *spin_lock_helpers(),
            *kptr_xchg_helper(kernel),
            *CgrpStorageMap.helpers(kernel),
        ],
        helper_protos={  # bpf_task_storage_get/delete_proto
            156: ((vops.ARG_MAP, vops.ARG_ANY, vops.ARG_ANY, vops.ARG_ANY), vops.RET_MAP_VALUE_OR_NULL),
            157: ((vops.ARG_MAP, vops.ARG_ANY), vops.RET_INT),
            210: ((vops.ARG_MAP, vops.ARG_ANY, vops.ARG_ANY, vops.ARG_ANY), vops.RET_MAP_VALUE_OR_NULL),
            211: ((vops.ARG_MAP, vops.ARG_ANY), vops.RET_INT),
        },
    )
