"""The virtual machine object and the per-run context helpers receive.

A :class:`VM` bundles what programs share: the :class:`~structops.vm.memory.AddressSpace`,
the helper and kfunc registries, the trace log (``bpf_trace_printk`` output), the maps
reachable from programs (object address -> :class:`~structops.vm.helpers.MapBackend`),
the prog-array lookup used by ``bpf_tail_call``, the clock, the CPU id and the
instruction budget.  The emulated kernel owns one VM; tests make their own.

A :class:`RunContext` is created for each top-level run; helpers and kfuncs receive it as
their first argument (``run.vm``, ``run.space``, ``run.program``).  ``run.space`` is the
run's :class:`~structops.vm.memory.Domain`: the memory the program was given, so a helper
reading or writing through it on the program's behalf is contained like the program
(issue 12 item 4); kernel code that needs all of memory uses ``run.vm.space``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from structops.errors import VMFault
from structops.vm.helpers import HelperRegistry, MapBackend, base_helpers
from structops.vm.kfuncs import KfuncRegistry, KfuncSpec
from structops.vm.memory import AddressSpace, Domain

#: The frame legacy packet loads read: its bytes, or a callable giving them at each load.
Packet = bytes | Callable[[], bytes]

if TYPE_CHECKING:
    from structops.isa.insn import Insn
    from structops.vm.program import Program, Resolver

__all__ = [
    "BPF_MAX_LOOPS",
    "DEFAULT_INSN_LIMIT",
    "MAX_CALL_FRAMES",
    "MAX_TAIL_CALL_CNT",
    "VM",
    "ProgramExit",
    "RunContext",
    "grant_result",
    "returns_pointer",
]

#: Instructions one run may execute before it is stopped (verifier complexity limit size).
DEFAULT_INSN_LIMIT = 1_000_000
#: ``may_goto`` budget per function invocation (kernel BPF_MAX_LOOPS).
BPF_MAX_LOOPS = 8 * 1024 * 1024
#: Deepest bpf-to-bpf call chain, main program included (kernel MAX_CALL_FRAMES).
MAX_CALL_FRAMES = 8
#: Tail calls one run may chain (kernel MAX_TAIL_CALL_CNT).
MAX_TAIL_CALL_CNT = 33
#: No region is mapped below this address (the NULL page).
_LOWEST_REGION = 4096


def returns_pointer(spec: object) -> bool:
    """Whether a helper/kfunc spec may return an object the program is then given.

    Helpers say so by their return type; kfuncs always may (their return type is BTF's,
    checked by the verifier), so whatever region their r0 points into is granted.
    """
    if isinstance(spec, KfuncSpec):
        return True
    ret = getattr(spec, "ret", None)
    return ret is not None and getattr(ret, "value", "integer") not in ("integer", "void")


def grant_result(run: RunContext, r0: int) -> None:
    """Grant the region a helper/kfunc result points into (nothing for scalars)."""
    if r0 >= _LOWEST_REGION:
        run.space.grant(r0)


class ProgramExit(Exception):
    """Internal: ends a run early with ``r0`` (legacy packet loads out of bounds)."""

    def __init__(self, r0: int) -> None:
        super().__init__(r0)
        self.r0 = r0


class RunContext:
    """State of one top-level program run, passed to helpers as ``run``."""

    __slots__ = (
        "cargs", "cbase", "cn", "engine", "grants", "left", "packet", "packet_data", "program", "space",
        "tail_calls", "vm",
    )  # fmt: skip

    def __init__(
        self,
        vm: VM,
        program: Program,
        *,
        engine: str,
        limit: int,
        packet: Packet | None = None,
        packet_data: int = 0,
    ) -> None:
        self.vm = vm
        self.space = Domain(vm.space)
        #: Region bases the run may touch (shared with ``space``; the translated code's ``G``).
        self.grants: set[int] = self.space.granted
        self.program = program
        self.engine = engine
        self.left = limit
        self.tail_calls = 0
        #: The frame legacy packet loads read, from its link-layer (MAC) header on, and where
        #: ``skb->data`` is in it (0 for tc, past the Ethernet header for a socket filter).
        #: A callable is asked for the frame at every load, so the loads see what the
        #: program's helpers (``bpf_skb_store_bytes``...) wrote before them.
        self.packet = packet
        self.packet_data = packet_data
        #: The u64 argument array of a :meth:`~structops.vm.program.Program.run_args` run:
        #: its address, the values it holds and how many (the translated main function
        #: reads ``r1``-relative loads from ``cargs`` while ``r1`` is ``cbase``).
        self.cbase = -1
        self.cargs: Sequence[int] = ()
        self.cn = 0


class VM:
    """Shared execution environment of BPF programs (see module docstring)."""

    def __init__(
        self,
        space: AddressSpace | None = None,
        *,
        helpers: HelperRegistry | None = None,
        kfuncs: KfuncRegistry | None = None,
        insn_limit: int = DEFAULT_INSN_LIMIT,
        max_loops: int = BPF_MAX_LOOPS,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        cpu: int = 0,
        seed: int = 0x5EED,
    ) -> None:
        self.space = space if space is not None else AddressSpace()
        self.helpers = helpers if helpers is not None else HelperRegistry(base_helpers())
        self.kfuncs = kfuncs if kfuncs is not None else KfuncRegistry()
        self.insn_limit = insn_limit
        self.max_loops = max_loops
        self.clock_ns = clock_ns
        self.cpu = cpu
        self.random = random.Random(seed)
        self.trace_log: list[str] = []
        self.maps: dict[int, MapBackend] = {}
        #: The innermost run in progress (map helpers accept only maps granted to it).
        self.active: RunContext | None = None
        #: ``(prog_array_address, index) -> Program | None``; the kernel installs it.
        self.prog_array_lookup: Callable[[int, int], Program | None] | None = None

    # ------------------------------------------------------------------ maps
    def register_map(self, addr: int, backend: MapBackend) -> None:
        """Make ``backend`` reachable from helpers under the object address ``addr``."""
        self.maps[addr] = backend

    def unregister_map(self, addr: int) -> None:
        """Forget a map (helpers given its address then fault)."""
        self.maps.pop(addr, None)

    def map_at(self, addr: int) -> MapBackend | None:
        """The map whose object address is ``addr``, or ``None``.

        During a run, only maps the running program references (their object region is
        granted to the run) are found: a fabricated map pointer finds nothing.
        """
        backend = self.maps.get(addr)
        active = self.active
        if backend is not None and active is not None and not active.space.allows(addr):
            return None
        return backend

    # ------------------------------------------------------------------ programs
    def load(
        self,
        insns: Sequence[Insn] | bytes,
        *,
        resolver: Resolver | None = None,
        prog_type: int | None = None,
        name: str = "",
    ) -> Program:
        """Load a program into this VM (see :meth:`structops.vm.program.Program.load`)."""
        from structops.vm.program import Program

        return Program.load(insns, vm=self, resolver=resolver, prog_type=prog_type, name=name)

    def tail_call(self, run: RunContext, ctx: int, prog_array: int, index: int, depth: int = 1) -> int | None:
        """Run ``bpf_tail_call(ctx, prog_array, index)``; the target's r0, or None on failure.

        The target replaces the calling frame: it runs at the caller's call depth, so
        tail calls from subprograms still count against :data:`MAX_CALL_FRAMES`.

        Fails (the caller continues with the next instruction) when no lookup hook is
        installed, the slot is empty, or :data:`MAX_TAIL_CALL_CNT` tail calls already ran.
        """
        if self.prog_array_lookup is None or run.tail_calls >= MAX_TAIL_CALL_CNT:
            return None
        target = self.prog_array_lookup(prog_array, index & 0xFFFF_FFFF)
        if target is None:
            return None
        if target.vm is not self:
            raise VMFault("tail call target belongs to another VM")
        run.tail_calls += 1
        return target.enter(run, (ctx, 0, 0, 0, 0), depth)
