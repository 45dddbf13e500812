"""The eBPF virtual machine: address space, executors, helpers and kfuncs.

``VM`` holds what programs share (address space, registries, trace log, maps);
``Program.load`` validates and translates bytecode once; ``Program.run`` executes it on
the fast path (translated Python) or the reference interpreter (``engine="interp"``).
See ``docs/vm.md``.
"""

from __future__ import annotations

from structops.vm.context import (
    BPF_MAX_LOOPS,
    DEFAULT_INSN_LIMIT,
    MAX_CALL_FRAMES,
    MAX_TAIL_CALL_CNT,
    VM,
    RunContext,
)
from structops.vm.helpers import (
    ArgType,
    HelperFunc,
    HelperRegistry,
    HelperSpec,
    MapBackend,
    RetType,
    UnknownFunction,
    base_helpers,
)
from structops.vm.kfuncs import KfuncRegistry, KfuncSpec
from structops.vm.memory import PAGE_SIZE, STACK_SIZE, AddressSpace, MemoryFault, Perm, Region
from structops.vm.program import MAX_INSNS, Engine, Function, Program, ProgramError, Resolver
from structops.vm.testrun import TestRunResult, run_with_args, run_with_ctx, run_with_data

__all__ = [
    "BPF_MAX_LOOPS",
    "DEFAULT_INSN_LIMIT",
    "MAX_CALL_FRAMES",
    "MAX_INSNS",
    "MAX_TAIL_CALL_CNT",
    "PAGE_SIZE",
    "STACK_SIZE",
    "VM",
    "AddressSpace",
    "ArgType",
    "Engine",
    "Function",
    "HelperFunc",
    "HelperRegistry",
    "HelperSpec",
    "KfuncRegistry",
    "KfuncSpec",
    "MapBackend",
    "MemoryFault",
    "Perm",
    "Program",
    "ProgramError",
    "Region",
    "Resolver",
    "RetType",
    "RunContext",
    "TestRunResult",
    "UnknownFunction",
    "base_helpers",
    "run_with_args",
    "run_with_ctx",
    "run_with_data",
]
