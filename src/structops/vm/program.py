"""Loading an eBPF program into a :class:`~structops.vm.context.VM`.

:meth:`Program.load` validates the bytecode's structure (what the VM needs to run it
safely; the separate verifier does the static safety analysis), splits it into
functions (bpf-to-bpf call targets), resolves every ``ld_imm64`` pseudo source through
the kernel-supplied resolver, binds helper and kfunc calls to their registry entries,
and translates each function once into Python (:mod:`structops.vm.jit`).

Load-time rules mirror the kernel's (``check_subprogs``, ``check_cfg``, ``do_check``):
jumps stay inside their function and land on an instruction; the last instruction of a
function is ``exit`` or ``ja``; ``r10`` is never written; calls name a registered helper
or kfunc allowed for the program type.  Violations raise :class:`ProgramError` (a
``ValueError``), never a crash.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from structops.errors import FormatError, VMFault
from structops.isa.codec import decode
from structops.isa.disasm import disassemble
from structops.isa.insn import Insn, IsaError, check_insn, jump_target
from structops.isa.opcodes import Kind
from structops.uapi import BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL
from structops.vm.argsrun import ArgsRun, args_runner
from structops.vm.context import VM, Packet, ProgramExit, RunContext
from structops.vm.helpers import HelperSpec
from structops.vm.jit_facts import writes
from structops.vm.kfuncs import KfuncSpec
from structops.vm.memory import PAGE_SIZE, MemoryFault, Perm, Region

__all__ = ["MAX_INSNS", "Engine", "Function", "Program", "ProgramError", "Resolver"]

#: Most instruction slots a program may have (kernel BPF_COMPLEXITY_LIMIT_INSNS).
MAX_INSNS = 1_000_000
#: No region is mapped below this address (the NULL page): smaller values are scalars.
_LOWEST_REGION = PAGE_SIZE
_M64 = 0xFFFF_FFFF_FFFF_FFFF
#: ``_ZEROS[n]``: the zero registers padding ``n`` arguments up to r1..r5.
_ZEROS = tuple((0,) * (5 - n) for n in range(6))


Engine = Literal["fast", "interp"]

#: ``resolver(pseudo_src, imm, imm_hi) -> value`` for ``ld_imm64`` with a pseudo source:
#: map fd / idx -> map object address, map value -> value address + offset, BTF id ->
#: kernel object address.  It raises (e.g. a ``BpfError`` with EBADF) for bad input.
Resolver = Callable[[int, int, int], int]

# generated-code filename -> program, used to turn a Python traceback into a BPF pc
# (programs with the same content share a filename: the last one loaded stands).
_PROGRAMS_BY_FILE: weakref.WeakValueDictionary[str, Program] = weakref.WeakValueDictionary()


#: Programs up to this many slots are translated at load; bigger ones on their first run
#: (the translation of a 1M-insn program costs far more than verifying it, and nothing
#: observable depends on when it happens: every load-time check is in :meth:`Program._analyse`).
EAGER_TRANSLATE_SLOTS = 4096
_TRANSLATION = frozenset({"jit_source", "_line_pc", "_filename", "args_private"})


class _Translated(dict[int, "Callable[..., int]"]):
    """Function entry -> translated function; the first lookup translates the program."""

    def __init__(self, prog: Program) -> None:
        super().__init__()
        self._prog: Program | None = prog

    def __missing__(self, entry: int) -> Callable[..., int]:
        prog = self._prog
        if prog is None:
            raise KeyError(entry)
        self._prog = None  # translated once; also drops the reference cycle
        prog._translate()
        return self[entry]


class ProgramError(FormatError):
    """The bytecode cannot be loaded (structure, unknown call, unresolvable pseudo)."""


@dataclass(frozen=True)
class Function:
    """A BPF function: the slots ``[entry, end)``; entry 0 is the main program."""

    entry: int
    end: int


_WIDE = 1  # ld_imm64 (two slots)
_LOOK = 2  # writes r10, jumps, calls or is a ld_imm64: checked slot by slot


def _flags(insn: Insn) -> int:
    """What :meth:`Program._analyse` must look at for ``insn`` (``_WIDE`` | ``_LOOK``)."""
    spec = insn.spec
    assert spec is not None
    out = _WIDE if insn.is_wide else 0
    if insn.is_wide or spec.kind is Kind.CALL or 10 in writes(insn) or jump_target(insn, 0) is not None:
        out |= _LOOK
    return out


class Program:
    """A loaded, runnable eBPF program (create with :meth:`load` or :meth:`VM.load`)."""

    vm: VM
    name: str
    prog_type: int | None
    insns: list[Insn]
    slots: list[Insn | None]
    functions: list[Function]
    ld64: dict[int, int]
    #: Region bases every run of the program is granted (maps it references).
    grants: frozenset[int]
    helper_at: dict[int, HelperSpec]
    kfunc_at: dict[int, KfuncSpec]
    text: Region
    #: The Python source the fast path was generated as (for debugging).
    jit_source: str
    #: Nothing in the translated program observes the address or the bytes of a
    #: :meth:`run_args` argument array (its loads read the argument tuple): it is not filled.
    args_private: bool
    _filename: str
    _fast: _Translated
    _line_pc: list[int]
    _args_pools: dict[int, list[Region]]
    #: Finished runs of :meth:`run_args` by argument count, kept for the next ones.
    _idle: dict[int, list[ArgsRun]]
    #: :meth:`run_args` as a plain function ``(args) -> r0`` (what trampolines call).
    args_runner: Callable[[Sequence[int]], int]

    @classmethod
    def load(
        cls,
        insns: Sequence[Insn] | bytes | bytearray,
        *,
        vm: VM | None = None,
        resolver: Resolver | None = None,
        prog_type: int | None = None,
        name: str = "",
    ) -> Program:
        """Validate, resolve and translate ``insns`` (logical instructions or bytecode)."""
        self = cls.__new__(cls)
        self.vm = vm if vm is not None else VM()
        self.name = name or "prog"
        self.prog_type = prog_type
        self._args_pools = {}
        self._idle = {}
        self.args_runner = args_runner(self)
        if isinstance(insns, (bytes, bytearray)):
            self.insns = decode(insns)
        else:
            self.insns = list(insns)
            for i, insn in enumerate(self.insns):
                why = check_insn(insn)
                if why is not None:
                    raise IsaError(f"insn {i}: {why}")
        self._analyse(resolver)
        self._fast = _Translated(self)
        if len(self.slots) <= EAGER_TRANSLATE_SLOTS:
            self._translate()
        return self

    def _translate(self) -> None:
        """Translate the program into Python (:mod:`structops.vm.jit`); once."""
        from structops.vm import jit

        fast, self._line_pc, self._filename = jit.translate(self)
        self._fast.update(fast)
        self._fast._prog = None
        _PROGRAMS_BY_FILE[self._filename] = self

    def __getattr__(self, name: str) -> object:
        # only reached for attributes not set yet: a big program's translation products
        if name in _TRANSLATION and "_fast" in self.__dict__ and "_filename" not in self.__dict__:
            self._translate()
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------------ analysis
    def _analyse(self, resolver: Resolver | None) -> None:
        # what matters here is decided once per distinct Insn object (decode shares them)
        flags: dict[int, int] = {}
        for insn in {id(x): x for x in self.insns}.values():
            flags[id(insn)] = _flags(insn)
        if any(f & _WIDE for f in flags.values()):
            slots: list[Insn | None] = []
            for insn in self.insns:
                slots.append(insn)
                if insn.is_wide:
                    slots.append(None)
        else:
            slots = list(self.insns)
        if not slots:
            raise ProgramError("program has no instructions")
        if len(slots) > MAX_INSNS:
            raise ProgramError(f"program has {len(slots)} instructions (limit {MAX_INSNS})")
        self.slots = slots
        n = len(slots)

        def valid(target: int) -> bool:
            return 0 <= target < n and slots[target] is not None

        # the slots whose insn needs a look below (entries, r10, jumps, calls, ld_imm64)
        look = {k for k, f in flags.items() if f & _LOOK}
        marked = [pc for pc, insn in enumerate(slots) if id(insn) in look] if look else []
        entries = {0}
        for pc in marked:
            maybe = slots[pc]
            assert maybe is not None
            insn = maybe
            is_func = insn.opcode == 0x18 and insn.src == BPF_PSEUDO_FUNC
            if (insn.opcode == 0x85 and insn.src == BPF_PSEUDO_CALL) or is_func:
                target = pc + 1 + insn.imm
                if not valid(target):
                    raise ProgramError(f"insn {pc}: call/function target {target} is out of range")
                entries.add(target)
        starts = sorted(entries)
        self.functions = [Function(s, e) for s, e in zip(starts, [*starts[1:], n], strict=True)]
        func_of = [0] * n
        for f in self.functions:
            func_of[f.entry : f.end] = [f.entry] * (f.end - f.entry)
        for f in self.functions:
            last = f.end - 1
            while slots[last] is None:
                last -= 1
            last_insn = slots[last]
            assert last_insn is not None and last_insn.spec is not None
            if last_insn.spec.kind not in (Kind.EXIT, Kind.JA):
                raise ProgramError(f"insn {last}: last insn of function at {f.entry} is not an exit or jmp")

        self.ld64 = {}
        self.grants = frozenset()
        self.helper_at = {}
        self.kfunc_at = {}
        self.text = self.vm.space.map(n * 8, name=f"text:{self.name}", perm=Perm.NONE, kind="text")
        for pc in marked:
            maybe = slots[pc]
            assert maybe is not None
            insn = maybe
            spec = insn.spec
            assert spec is not None
            if 10 in writes(insn):
                raise ProgramError(f"insn {pc}: frame pointer r10 is read only")
            dest = jump_target(insn, pc)
            if dest is not None and (not valid(dest) or func_of[dest] != func_of[pc]):
                raise ProgramError(f"insn {pc}: jump out of range to {dest}")
            if spec.kind is Kind.CALL:
                self._bind_call(pc, insn)
            elif spec.kind is Kind.LD_IMM64:
                self.ld64[pc] = self._resolve_ld64(pc, insn, resolver)
        self.grants = frozenset(self._static_grants())

    def _static_grants(self) -> set[int]:
        """Regions the program references itself: what its map ``ld_imm64`` resolve into."""
        out: set[int] = set()
        space = self.vm.space
        for pc, value in self.ld64.items():
            insn = self.slots[pc]
            if insn is None or insn.src in (0, BPF_PSEUDO_FUNC):
                continue
            region = space.region_at(value)
            if region is not None:
                out.add(region.base)
        return out

    def _bind_call(self, pc: int, insn: Insn) -> None:
        if insn.src == BPF_PSEUDO_CALL:
            return
        try:
            if insn.src == BPF_PSEUDO_KFUNC_CALL:
                self.kfunc_at[pc] = self.vm.kfuncs.resolve(insn.imm, insn.off, self.prog_type)
            else:
                self.helper_at[pc] = self.vm.helpers.resolve(insn.imm, self.prog_type)
        except FormatError as exc:
            raise ProgramError(f"insn {pc}: {exc}") from None

    def _resolve_ld64(self, pc: int, insn: Insn, resolver: Resolver | None) -> int:
        if insn.src == 0:
            return insn.imm64
        if insn.src == BPF_PSEUDO_FUNC:
            return self.func_addr(pc + 1 + insn.imm)
        if resolver is None:
            raise ProgramError(f"insn {pc}: ld_imm64 with pseudo source {insn.src} needs a resolver")
        value = resolver(insn.src, insn.imm, insn.imm_hi)
        return value & 0xFFFF_FFFF_FFFF_FFFF

    # ------------------------------------------------------------------ functions
    def func_addr(self, entry: int) -> int:
        """The address a function pointer to the function at slot ``entry`` holds."""
        return self.text.base + entry * 8

    def entry_of_addr(self, addr: int) -> int | None:
        """The function entry slot for a function-pointer value, or None."""
        off = addr - self.text.base
        if off % 8 or not 0 <= off < self.text.size:
            return None
        entry = off // 8
        return entry if any(f.entry == entry for f in self.functions) else None

    # ------------------------------------------------------------------ running
    def run(
        self,
        *args: int,
        engine: Engine = "fast",
        insn_limit: int | None = None,
        packet: Packet | None = None,
        grant: Sequence[int] = (),
        packet_data: int = 0,
    ) -> int:
        """Run from the first instruction with ``r1..r5 = args``; returns r0 (u64).

        The run may touch only the memory it is given (:class:`~structops.vm.memory.Domain`):
        its stack, the regions ``args`` point into, the regions the addresses in
        ``grant`` point into (objects a trampoline hands over inside a ctx array), the
        maps the program references and what helpers return to it.

        Raises :class:`~structops.errors.VMFault` (with the instruction index) when the
        program faults or exceeds ``insn_limit`` (default: the VM's).
        """
        if len(args) > 5:
            raise ValueError("a BPF program takes at most 5 arguments")
        full = tuple([a & _M64 for a in args]) + _ZEROS[len(args)]
        vm = self.vm
        limit = vm.insn_limit if insn_limit is None else insn_limit
        run = RunContext(vm, self, engine=engine, limit=limit, packet=packet, packet_data=packet_data)
        # grant the regions the arguments point into (Domain.grant, inlined: once per call)
        region_at = vm.space.region_at
        _grant_regions(run.grants, region_at, full)
        _grant_regions(run.grants, region_at, grant)
        outer = vm.active
        vm.active = run
        try:
            return self.enter(run, full)
        finally:
            vm.active = outer

    def run_on_args(self, region: Region, args: Sequence[int], engine: Engine = "fast") -> int:
        """:meth:`run` with ``r1`` = ``region`` (a packed ``u64[]`` of ``args``), ``grant=args``.

        The struct_ops / tracing calling convention on the hot path: the same grants and
        fault handling as ``run(region.base, engine=engine, grant=args)``, without the
        generic argument handling.
        """
        vm = self.vm
        run = RunContext(vm, self, engine=engine, limit=vm.insn_limit)
        granted = run.grants
        granted.add(region.base)
        _grant_regions(granted, vm.space.region_at, args)
        granted.update(self.grants)
        outer = vm.active
        vm.active = run
        run.program = self
        try:
            return self._main(run, (region.base, 0, 0, 0, 0), 1, engine == "fast")
        finally:
            vm.active = outer

    def run_args(self, args: Sequence[int]) -> int:
        """The struct_ops / tracing convention on the fast engine, with nothing allocated per call.

        The same as ``run_with_args(self, args)`` (``r1`` = a read-only ``u64[]`` of
        ``args``; the run is granted that array, the regions the arguments point into and
        the program's maps; faults get their pc), but the run context and its argument
        array are those of a previous run with as many arguments, reset (a nested run of
        the same program, which finds none idle, makes its own).  :attr:`args_runner` is
        the same function without the method call (:mod:`structops.vm.argsrun`).
        """
        return self.args_runner(args)

    def enter(self, run: RunContext, args: tuple[int, ...], depth: int = 1) -> int:
        """Run the main function inside an existing run at call ``depth`` (tail calls)."""
        previous = run.program
        run.program = self
        run.grants.update(self.grants)
        try:
            return self._main(run, args, depth)
        finally:
            run.program = previous

    def _main(self, run: RunContext, args: tuple[int, ...], depth: int, fast: bool = False) -> int:
        """Run the main function; a ``bpf_exit``-style stop returns its r0, a fault gets its pc."""
        try:
            if fast:
                return int(self._fast[0](run, *args, depth))
            return self._call(run, 0, args, depth)
        except ProgramExit as stop:
            return stop.r0
        except VMFault as fault:
            raise _with_pc(fault) from None

    def call_function(self, run: RunContext, addr: int, args: tuple[int, ...], depth: int = 2) -> int:
        """Call the function a function pointer ``addr`` names (helper callbacks)."""
        entry = self.entry_of_addr(addr)
        if entry is None:
            raise VMFault(f"{addr:#x} is not a function of this program")
        full = tuple(a & 0xFFFF_FFFF_FFFF_FFFF for a in args) + (0,) * (5 - len(args))
        return self._call(run, entry, full, depth)

    def _call(self, run: RunContext, entry: int, args: tuple[int, ...], depth: int) -> int:
        if run.engine == "fast":
            fn = self._fast[entry]
            return int(fn(run, args[0], args[1], args[2], args[3], args[4], depth))
        if run.engine == "interp":
            from structops.vm.interp import Interpreter

            return Interpreter(self, run).call(entry, args, depth)
        raise ValueError(f"unknown engine {run.engine!r}")

    def args_pool(self, n: int) -> list[Region]:
        """Idle read-only ``u64[n]`` argument regions of this program (reused across runs)."""
        pool = self._args_pools.get(n)
        if pool is None:
            pool = self._args_pools[n] = []
        return pool

    def args_region(self, n: int) -> Region:
        """A new read-only ``u64[n]`` argument region (returned to :meth:`args_pool` after a run)."""
        return self.vm.space.map(8 * n, name=f"args:{self.name}", perm=Perm.R)

    def disassemble(self) -> str:
        """``llvm-objdump``-style listing of the loaded instructions."""
        return disassemble(self.insns, name=self.name)

    def pc_of_line(self, line: int) -> int:
        """BPF pc of a line of the generated Python (for fault reports)."""
        if 0 < line < len(self._line_pc):
            return self._line_pc[line]
        return -1

    def close(self) -> None:
        """Release the program's address-space resources (its text region)."""
        if self.text.alive:
            self.vm.space.unmap(self.text)
        for pool in self._args_pools.values():
            for region in pool:
                if region.alive:
                    self.vm.space.unmap(region)
            pool.clear()
        for idle in self._idle.values():
            for run in idle:
                if run.region.alive:
                    self.vm.space.unmap(run.region)
            idle.clear()


def _grant_regions(granted: set[int], region_at: Callable[[int], Region | None], addrs: Iterable[int]) -> None:
    """Grant the run the regions ``addrs`` point into (:class:`Domain` grant, inlined per call)."""
    for addr in addrs:
        addr &= _M64
        if addr > _LOWEST_REGION:
            region = region_at(addr)
            if region is not None:
                granted.add(region.base)


def _with_pc(fault: VMFault) -> VMFault:
    """A fault from translated code with the BPF pc found in its traceback (``fault`` itself
    when it already names its pc)."""
    if fault.pc >= 0:
        return fault
    pc = -1
    tb = fault.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        prog = _PROGRAMS_BY_FILE.get(filename)
        if prog is not None:
            pc = prog.pc_of_line(tb.tb_lineno)
        elif filename.startswith("<bpf "):  # same content as a program since dropped
            from structops.vm import jit

            lines = jit.line_pcs(filename)
            if lines is not None and 0 < tb.tb_lineno < len(lines):
                pc = lines[tb.tb_lineno]
        tb = tb.tb_next
    if isinstance(fault, MemoryFault):
        return MemoryFault(fault.reason, pc=pc, addr=fault.addr)
    out = VMFault(str(fault), pc=pc)
    out.addr = fault.addr
    return out
