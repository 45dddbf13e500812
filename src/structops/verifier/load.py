"""The verifier's entry point: run the analysis on a :class:`ProgEnv`, report like ``bpf_check``.

:func:`verify` runs the :class:`~structops.verifier.core.Verifier` (or a caller's runner,
e.g. :func:`structops.verifier.subprogs.verify_with_func_info`), turns a rejection into
:class:`~structops.errors.VerifierError` with the log written to the user's buffer, and
prints the kernel's summary line.  The embedded kernel builds the ``ProgEnv`` of a loaded
program (``structops.kernel.verifier_env``); the verifier never sees kernel objects.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from structops.errors import VerifierError
from structops.verifier.core import Verifier, VerifyStats
from structops.verifier.env import BPF_COMPLEXITY_LIMIT_INSNS, LogSink, ProgEnv, Reject

__all__ = ["verify"]


def verify(
    insns: bytes,
    env: ProgEnv,
    log: LogSink,
    *,
    limit: int = BPF_COMPLEXITY_LIMIT_INSNS,
    runner: Callable[[], VerifyStats] | None = None,
) -> VerifyStats:
    """Verify ``insns`` against ``env``; raise :class:`VerifierError` (errno + log) on rejection."""
    collecting = gc.isenabled()
    gc.disable()  # the walk's states form no cycles; collections over them only cost time
    try:
        stats = runner() if runner is not None else Verifier(insns, env, log, limit=limit).run()
    except Reject as rej:
        if rej.stats is None:
            log.add(rej.message)
        elif rej.joined:
            log.add(rej.message + _summary(rej.stats, limit))
        else:  # the statistics are printed after a rejection too (print_verification_stats)
            log.add(rej.message)
            log.add(_summary(rej.stats, limit))
        log.flush()
        raise VerifierError(rej.errno, rej.message, op="prog load", log=log.text()) from None
    finally:
        if collecting:
            gc.enable()
    log.add(_summary(stats, limit))
    log.flush()
    return stats


def _summary(stats: VerifyStats, limit: int) -> str:
    """``print_verification_stats`` (log level 1)."""
    return (
        f"processed {stats.insns_processed} insns (limit {limit}) max_states_per_insn "
        f"{stats.max_states_per_insn} total_states {stats.total_states} peak_states {stats.peak_states} mark_read 0"
    )
