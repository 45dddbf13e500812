"""``Program.run_args``: the struct_ops / tracing calling convention on the hot path.

``r1`` points to a read-only ``u64[]`` of the arguments; the run is granted that array,
the regions the arguments point into and the program's maps; faults get their pc.
Nothing is allocated per call: each argument count has a pool of :class:`ArgsRun`
contexts, each owning its argument array, reset and reused (a nested run of the same
program finds none idle and makes one).  :func:`args_runner` builds the function a
program's trampolines call, with what it needs bound once (issue 17).

The translated main function reads its ``r1``-relative loads from the run's argument
tuple (``cargs``) while ``r1`` is the array; when nothing else in the program can see
the array (``Program.args_private``), its bytes are not even written.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from structops.errors import VMFault
from structops.vm.context import ProgramExit, RunContext
from structops.vm.memory import PAGE_SIZE, Region

if TYPE_CHECKING:
    from structops.vm.program import Program

__all__ = ["ArgsRun", "args_runner"]

_M64 = 0xFFFF_FFFF_FFFF_FFFF
_PAGE_SHIFT = PAGE_SIZE.bit_length() - 1


class _ArgPackers(dict[int, Callable[..., None]]):
    """``n -> struct.Struct("<nQ").pack_into``, built on first use."""

    def __missing__(self, n: int) -> Callable[..., None]:
        packer = self[n] = struct.Struct(f"<{n}Q").pack_into
        return packer


_PACK_ARGS = _ArgPackers()


class ArgsRun(RunContext):
    """A run context of ``run_args`` with its read-only argument array."""

    __slots__ = ("base_grants", "buf", "f0", "pack", "region")
    region: Region
    buf: bytearray
    #: Packs the arguments into ``buf``; None when the array's bytes are never observed.
    pack: Callable[..., None] | None
    #: The translated main function.
    f0: Callable[..., int]
    #: The program's maps and the argument array: what every run starts with.
    base_grants: frozenset[int]


def _new_run(prog: Program, n: int) -> ArgsRun:
    """A context for ``n`` arguments, with its own argument array."""
    vm = prog.vm
    run = ArgsRun(vm, prog, engine="fast", limit=vm.insn_limit)
    run.f0 = prog._fast[0]  # translates the program if that was left for its first run
    region = prog.args_region(n)
    run.region = region
    run.buf = region.buf
    run.pack = None if prog.args_private else _PACK_ARGS[n]
    run.cbase = region.base
    run.cn = n
    run.base_grants = prog.grants | {region.base}
    return run


def args_runner(prog: Program) -> Callable[[Sequence[int]], int]:
    """``run_args`` of ``prog`` as a function of the arguments alone."""
    from structops.vm.program import _grant_regions, _with_pc

    idles = prog._idle
    vm = prog.vm
    space = vm.space
    pages = space._regions

    def run_args(args: Sequence[int]) -> int:
        n = len(args)
        idle = idles.get(n)
        if idle:
            run = idle.pop()
        elif not n:
            return prog.run(0)
        else:
            if idle is None:
                idle = idles[n] = []
            run = _new_run(prog, n)
        granted = run.grants
        granted.clear()
        granted.update(run.base_grants)
        run.left = vm.insn_limit
        run.tail_calls = 0
        outer = vm.active
        try:
            for addr in args:  # grant what the arguments point into; a value outside u64 stops it
                if addr > PAGE_SIZE:
                    r = pages.get(addr >> _PAGE_SHIFT)
                    if r is not None:  # the region of addr's page: it starts at or below addr
                        base = r.base
                        if addr < base + r.size:
                            granted.add(base)
                    elif addr > _M64:
                        break
                elif addr < 0:
                    break
            else:
                if run.pack is not None:
                    run.pack(run.buf, 0, *args)
                run.cargs = args
                vm.active = run
                return run.f0(run, run.cbase, 0, 0, 0, 0, 1)
            args = [a & _M64 for a in args]  # as u64
            _grant_regions(granted, space.region_at, args)
            if run.pack is not None:
                run.pack(run.buf, 0, *args)
            run.cargs = args
            vm.active = run
            return run.f0(run, run.cbase, 0, 0, 0, 0, 1)
        except ProgramExit as stop:
            return stop.r0
        except VMFault as fault:
            raise _with_pc(fault) from None
        finally:
            vm.active = outer
            idle.append(run)

    return run_args
