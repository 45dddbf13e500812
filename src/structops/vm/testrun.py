"""Building blocks of ``BPF_PROG_TEST_RUN``: run a program on a context or on u64 args.

* :func:`run_with_ctx` copies ``ctx_in`` into a fresh context region, passes its address
  in ``r1`` and copies the (possibly modified) bytes back out.
* :func:`run_with_args` is the struct_ops / tracing convention: ``r1`` points to an array
  of u64 arguments in a read-only context region (``bpf_struct_ops_test_run``).
* :func:`run_with_data` is the ``bpf_conformance`` convention: ``r1`` = data, ``r2`` = length.

Context regions are unmapped after the run, so pointers a program stashed elsewhere
fault later.  The read-only argument arrays of :func:`run_with_args` are kept by their
program between runs (one per nesting level and argument count, see
:meth:`Program.args_region`): a stashed pointer to one can later be read only by a run
of the same program, where it is that run's own arguments; any other run faults on it
(it is never granted to them).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from structops.vm.memory import Perm
from structops.vm.program import Engine, Program

__all__ = ["TestRunResult", "run_with_args", "run_with_ctx", "run_with_data"]

_M64 = 0xFFFF_FFFF_FFFF_FFFF


class _ArgStructs(dict[int, struct.Struct]):
    """``n -> struct.Struct("<nQ")``, built on first use."""

    def __missing__(self, n: int) -> struct.Struct:
        packer = self[n] = struct.Struct(f"<{n}Q")
        return packer


_ARGS = _ArgStructs()


@dataclass(frozen=True)
class TestRunResult:
    """Outcome of a test run: ``r0`` and the context bytes after the run."""

    __test__ = False  # not a pytest test class

    retval: int
    ctx_out: bytes


def run_with_ctx(
    prog: Program,
    ctx_in: bytes,
    *,
    writable: bool = True,
    engine: Engine = "fast",
    packet: bytes | None = None,
) -> TestRunResult:
    """Run ``prog`` with ``r1`` = address of a copy of ``ctx_in`` (``r1 = 0`` when empty)."""
    space = prog.vm.space
    if not ctx_in:
        return TestRunResult(prog.run(0, engine=engine, packet=packet), b"")
    region = space.map(len(ctx_in), name="ctx", perm=Perm.RW if writable else Perm.R, data=ctx_in)
    try:
        r0 = prog.run(region.base, engine=engine, packet=packet)
        return TestRunResult(r0, bytes(region.buf))
    finally:
        space.unmap(region)


def run_with_args(prog: Program, args: Sequence[int], *, engine: Engine = "fast") -> int:
    """Run ``prog`` with ``r1`` pointing to ``args`` as a read-only ``u64[]`` context."""
    if engine == "fast":
        return prog.run_args(args)
    n = len(args)
    if not n:
        return prog.run(0, engine=engine)
    pool = prog.args_pool(n)
    region = pool.pop() if pool else prog.args_region(n)
    try:
        _ARGS[n].pack_into(region.buf, 0, *[a & _M64 for a in args])
        return prog.run_on_args(region, args, engine)  # grants the objects the args point to
    finally:
        pool.append(region)


def run_with_data(prog: Program, data: bytes, *, engine: Engine = "fast") -> TestRunResult:
    """Run with ``r1`` = writable copy of ``data`` (0 when empty), ``r2`` = its length."""
    space = prog.vm.space
    if not data:
        return TestRunResult(prog.run(0, 0, engine=engine), b"")
    region = space.map(len(data), name="mem", perm=Perm.RW, kind="user", data=data)
    try:
        r0 = prog.run(region.base, len(data), engine=engine)
        return TestRunResult(r0, bytes(region.buf))
    finally:
        space.unmap(region)
