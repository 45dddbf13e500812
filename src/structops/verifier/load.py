"""Glue between the embedded kernel's PROG_LOAD and the verifier (V11-V17 inputs).

:func:`verify_struct_ops_prog` builds the :class:`~structops.verifier.env.ProgEnv` of a
struct_ops program from what ``check_struct_ops_btf_id`` recorded (``prog.st_ops``: the
member's func_proto and ctx_arg_info, the subsystem's verifier ops), runs the
:class:`~structops.verifier.core.Verifier`, and turns a rejection into
:class:`~structops.errors.VerifierError` with the log written to the user's buffer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.errors import VerifierError
from structops.verifier.core import Verifier, VerifyStats
from structops.verifier.env import BPF_COMPLEXITY_LIMIT_INSNS, LogSink, ProgEnv, Reject
from structops.verifier.tcp_access import tcp_sock_write_check

if TYPE_CHECKING:
    from structops.kernel.emulated import Process
    from structops.kernel.prog import BpfProg

__all__ = ["env_for_struct_ops", "verify", "verify_struct_ops_prog"]


def env_for_struct_ops(proc: Process, prog: BpfProg) -> ProgEnv:
    """The verifier's view of a struct_ops program after V4-V11 passed."""
    st = prog.st_ops
    if st is None or prog.attach_btf is None:
        raise ValueError("not a struct_ops program with an attach target")
    kernel = proc.kernel
    spec: btflib.Spec = prog.attach_btf.spec
    desc = st.desc
    vops = desc.ops.verifier_ops
    write_check = vops.btf_struct_access
    if write_check is None and desc.name == "tcp_congestion_ops":
        write_check = tcp_sock_write_check(spec)  # T8, until the subsystem supplies it

    def get_map(fd: int) -> Any:
        return proc.get_map(fd)[0]

    proto: btflib.FuncProto = st.func_proto
    return ProgEnv(
        spec=spec,
        member_name=st.member_name,
        params=tuple(proto.params),
        ret=proto.return_type,
        ctx_args=tuple(st.ctx_args),
        promote=dict(vops.promote_ptr),
        write_check=write_check,
        st_ops_name=desc.name,
        get_map=get_map,
        kfunc=kernel.kfunc_by_id,
        helper_name=kernel.helper_name,
    )


def verify(
    insns: bytes,
    env: ProgEnv,
    log: LogSink,
    *,
    limit: int = BPF_COMPLEXITY_LIMIT_INSNS,
    runner: Callable[[], VerifyStats] | None = None,
) -> VerifyStats:
    """Verify ``insns`` against ``env``; raise :class:`VerifierError` (errno + log) on rejection."""
    try:
        stats = runner() if runner is not None else Verifier(insns, env, log, limit=limit).run()
    except Reject as rej:
        log.add(rej.message)
        log.flush()
        raise VerifierError(rej.errno, rej.message, op="prog load", log=log.text()) from None
    log.add(
        f"processed {stats.insns_processed} insns (limit {limit}) max_states_per_insn "
        f"{stats.max_states_per_insn} total_states {stats.total_states} peak_states {stats.total_states} mark_read 0"
    )
    log.flush()
    return stats


def verify_struct_ops_prog(
    proc: Process, prog: BpfProg, log: LogSink, *, limit: int = BPF_COMPLEXITY_LIMIT_INSNS
) -> VerifyStats:
    """Run the verifier on a loaded struct_ops program (called from ``progload``).

    func_info, global functions and dead-code sanitizing: :mod:`structops.verifier.subprogs`.
    """
    from structops.verifier.subprogs import verify_with_func_info

    env = env_for_struct_ops(proc, prog)
    btf = prog.btf.spec if prog.btf is not None else None
    out: list[bytes] = []

    def runner() -> VerifyStats:
        stats, code = verify_with_func_info(prog.insns, env, log, limit=limit, func_info=prog.func_info, btf=btf)
        out.append(code)
        return stats

    stats = verify(prog.insns, env, log, limit=limit, runner=runner)
    prog.insns = out[0]
    return stats
