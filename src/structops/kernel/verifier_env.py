"""The verifier's view of a loaded program (``bpf_verifier_env`` inputs), built by the kernel.

The verifier defines its inputs (:class:`~structops.verifier.env.ProgEnv`, the ops of
:mod:`structops.verifier.ops`) and imports nothing from the kernel; this module fills them
from kernel objects: for a struct_ops program, what ``check_struct_ops_btf_id`` recorded
(V11: the member's func_proto and ctx_arg_info, the subsystem's
:class:`~structops.verifier.ops.VerifierOps`); for another supported program type, its
:class:`~structops.verifier.ops.ProgTypeOps` (:mod:`structops.kernel.progtypes`).  Helper
prototypes and names come from the kernel's one helper registry
(:class:`~structops.kernel.helpers.HelperTable`), kfuncs from its kfunc table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.kernel.progtypes import prog_type_ops
from structops.kernel.services import CAP_PERFMON
from structops.verifier import BPF_COMPLEXITY_LIMIT_INSNS, KF, HelperProto, KfuncProto, ProgEnv, VerifyStats, verify
from structops.verifier.access import AccessSet, called_functions
from structops.verifier.env import LogSink

if TYPE_CHECKING:
    from structops.kernel.emulated import Process
    from structops.kernel.prog import BpfProg

__all__ = ["env_for_prog", "kfunc_flags", "verify_prog"]


def kfunc_flags(k: Any) -> KF:
    """A registered kfunc's ``KF_*`` flags (by name when it was registered without them)."""
    flags = getattr(k, "flags", None)
    if flags is not None:
        return KF(flags)
    name = str(getattr(k, "name", ""))
    if name.endswith("_acquire"):
        return KF.ACQUIRE | KF.RET_NULL
    if name.endswith("_release"):
        return KF.RELEASE
    return KF(0)


def _kfunc_lookup(proc: Process, prog: BpfProg) -> Any:
    kernel = proc.kernel
    st = prog.st_ops
    kfilter = st.desc.ops.verifier_ops.kfunc_filter if st is not None else None

    def kfunc(btf_id: int, off: int) -> KfuncProto | None:
        k = kernel.kfunc_by_id(btf_id, off)
        if k is None or prog.prog_type not in k.prog_types:
            return None
        if kfilter is not None and not kfilter(k.name, prog):
            return None
        return KfuncProto(k.name, k.func, kfunc_flags(k))

    return kfunc


def env_for_prog(proc: Process, prog: BpfProg) -> ProgEnv:
    """The verifier's view of ``prog`` (struct_ops after V4-V11 passed, or a supported type)."""
    kernel = proc.kernel
    table = kernel.helpers

    def get_map(fd: int) -> Any:
        return proc.get_map(fd)[0]

    st = prog.st_ops
    if st is None:
        spec: btflib.Spec = kernel.vmlinux.spec
        ops = prog_type_ops(spec, prog.prog_type, prog.expected_attach_type)
        if ops is None:
            raise ValueError(f"program type {prog.prog_type} has no verifier ops")
        allowed = ops.helpers

        def type_proto(hid: int) -> HelperProto | None:
            return table.proto(hid) if hid in allowed else None

        return ProgEnv(
            spec=spec,
            member_name=ops.name,
            params=(),
            ret=spec.find("int", btflib.Int),
            get_map=get_map,
            kfunc=_kfunc_lookup(proc, prog),
            helper_name=table.name,
            helper_proto=type_proto,
            prog_ops=ops,
            gpl_compatible=prog.gpl_compatible,
            prog_btf=prog.btf.spec if prog.btf is not None else None,
        )
    if prog.attach_btf is None:
        raise ValueError("struct_ops program without an attach BTF")
    spec = prog.attach_btf.spec
    desc = st.desc
    vops = desc.ops.verifier_ops
    get_func_proto = vops.get_func_proto

    def st_proto(hid: int) -> HelperProto | None:
        if get_func_proto is None or not get_func_proto(hid, prog):  # DM4: no get_func_proto, no helpers
            return None
        return table.proto(hid)

    proto: btflib.FuncProto = st.func_proto
    return ProgEnv(
        spec=spec,
        member_name=st.member_name,
        params=tuple(proto.params),
        ret=proto.return_type,
        ctx_args=tuple(st.ctx_args),
        promote=dict(vops.promote_ptr),
        write_check=vops.btf_struct_access,
        st_ops_name=desc.name,
        get_map=get_map,
        kfunc=_kfunc_lookup(proc, prog),
        helper_name=table.name,
        helper_proto=st_proto,
        write_denied=getattr(vops, "write_denied", None),
        gpl_compatible=prog.gpl_compatible,
        prog_btf=prog.btf.spec if prog.btf is not None else None,
    )


def verify_prog(proc: Process, prog: BpfProg, log: LogSink, *, limit: int = BPF_COMPLEXITY_LIMIT_INSNS) -> VerifyStats:
    """Run the verifier on a loaded program (called from ``progload``); dead code is sanitized.

    func_info, global functions and dead-code sanitizing: :mod:`structops.verifier.subprogs`.
    """
    from structops.verifier.subprogs import verify_with_func_info

    env = env_for_prog(proc, prog)
    env.allow_uninit_stack = env.allow_ptr_leaks = proc.capable(CAP_PERFMON)  # bpf_allow_uninit_stack()
    env.bpf_capable = proc.bpf_capable()
    btf = prog.btf.spec if prog.btf is not None else None
    out: list[bytes] = []

    def runner() -> VerifyStats:
        stats, code = verify_with_func_info(prog.insns, env, log, limit=limit, func_info=prog.func_info, btf=btf)
        out.append(code)
        return stats

    env.access = AccessSet()  # issue 17: what the program touches through BTF pointers
    stats = verify(prog.insns, env, log, limit=limit, runner=runner)
    prog.insns = out[0]
    env.access.calls = called_functions(prog.insns, proc.kernel.helpers.name, _kfunc_name(proc))
    prog.extra["access"] = env.access
    return stats


def _kfunc_name(proc: Process) -> Any:
    def name(btf_id: int, off: int) -> str | None:
        k = proc.kernel.kfunc_by_id(btf_id, off)
        return None if k is None else str(k.name)

    return name
