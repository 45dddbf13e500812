"""The abstract interpreter (``do_check``): every path, state pruning, the insn budget.

The driver first checks the control-flow graph (``check_cfg``: well-formed insns, jump
targets, no unreachable insn, a final exit or jump), then walks the program depth-first
from insn 0 with an explicit branch stack.  At the kernel's pruning points it compares
the current state with the states already seen there (:mod:`structops.verifier.pruning`):
a fully explored state that covers it (imprecise scalars covering any scalar, see
:mod:`structops.verifier.precision`) prunes the path; an identical state still on the
current path is an infinite loop.  Bounded loops therefore converge (or run out of the
budget: E2BIG, like the kernel's 1M processed-insn limit).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import NoReturn

from structops import btf as btflib
from structops.isa import Insn, check_insn, format_insn
from structops.isa.opcodes import OPCODES, Kind
from structops.isa.scan import slots_with_opcode
from structops.uapi import (
    BPF_PSEUDO_CALL,
    BPF_PSEUDO_FUNC,
    BPF_PSEUDO_KFUNC_CALL,
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_VALUE,
)
from structops.verifier import (
    calls,
    fastpath,
    iters,
    locks,
    loops,
    precision,
    pruning,
    ptrops,
    stackdepth,
    timer,
    unpriv,
)
from structops.verifier.atomic import check_atomic
from structops.verifier.env import BPF_COMPLEXITY_LIMIT_INSNS, LogSink, ProgEnv, Reject
from structops.verifier.ldabs import LD_PKT_CODES, check_ld_abs
from structops.verifier.ldimm64 import check_ld_imm64
from structops.verifier.linked import after_jump, alu_result, before_spill, jump, mov_result, with_id
from structops.verifier.memory import check_access
from structops.verifier.refine import REV, refine_pair
from structops.verifier.scalar import alu_range, branch_outcome, unary
from structops.verifier.speculative import end_path, push_branch, recover, store_barrier
from structops.verifier.state import (
    NOT_INIT,
    U64_MAX,
    Frame,
    Reg,
    RegType,
    State,
    const,
    unknown,
    widen_scalars,
)

__all__ = ["VerifyStats", "Verifier"]

_M32 = 0xFFFFFFFF
#: Kinds whose successors are not just the next slot (``check_cfg``, :func:`fastpath.reach`).
_CTRL = frozenset({Kind.LD_IMM64, Kind.EXIT, Kind.JA, Kind.JCOND, Kind.MAY_GOTO})
#: Encodings ``check_cfg`` found well-formed that just fall through (checked once each).
_SIMPLE: set[tuple[int, int, int, int, int]] = set()
#: Opcode -> 1 for the jump classes (``env->jmps_processed`` counts them).
_JMP_CLASS = bytes(1 if c & 7 in (5, 6) else 0 for c in range(256))


@dataclass(eq=False)
class _Checkpoint:
    """A state recorded at a pruning point; ``branches`` counts paths still being explored below it.

    ``hist``/``first``/``last``: the history of the path from the parent checkpoint (insn
    ``first``) to the insn before this one (``last``), for precision backtracking; ``visit``:
    the loop pass this checkpoint entered (:class:`~structops.verifier.loops.Visit`)."""

    pc: int
    state: State
    parent: _Checkpoint | None
    branches: int = 1
    hist: object = None
    first: int = 0
    last: int = -1
    visit: loops.Visit | None = None
    #: The loop pass of this state's call chain (``incomplete_read_marks``), if in a loop.
    scc: loops.Visit | None = None
    #: ``hit_cnt`` / ``miss_cnt`` of the eviction heuristic; ``evicted``: dropped from its list.
    hit: int = 0
    miss: int = 0
    evicted: bool = False
    #: Linux's explored-states hash bucket of the state (see ``pruning.bucket``).
    bucket: int = 0


_Stack = list[tuple[int, State, _Checkpoint | None]]


@dataclass
class VerifyStats:
    """What the kernel prints after a successful verification."""

    insns_processed: int = 0
    total_states: int = 0
    peak_states: int = 0
    max_states_per_insn: int = 0
    subprogs: set[int] = field(default_factory=set)


class Verifier:
    """One verification run over raw instruction slots for one program."""

    def __init__(self, insns: bytes, env: ProgEnv, log: LogSink, *, limit: int = BPF_COMPLEXITY_LIMIT_INSNS):
        self._raw = insns
        self.code: list[tuple[int, int, int, int, int]] = fastpath.split_slots(insns)
        self.env = env
        self.log = log
        self.limit = limit
        self.stats = VerifyStats()
        self.ctx_ref_ids: dict[int, int] = {}
        self._id = 0
        self._prune: set[int] = set()
        self._visited: dict[int, list[_Checkpoint]] = {}
        #: recorded states per explored-states hash bucket (max_states_per_insn counts them)
        self._bucket_n: dict[int, int] = {}
        #: states alive (recorded, not yet freed) and loop backedge states kept: peak_states
        self._live_n = 0
        self._nback = 0
        self._exact: dict[fastpath.StateKey, list[_Checkpoint]] = {}
        #: Per pruning point, a hash of the innermost registers of every state in ``_exact``
        #: (the full key is built only when one matches).
        self._exact_fp: dict[int, set[int]] = {}
        #: Per pruning point, how many of its recorded states are still being explored.
        self._busy: dict[int, int] = {}
        self._forced: frozenset[int] = frozenset()
        #: Helper calls that call a sync callback (``calls_callback``).
        self.cb_calls: set[int] = set()
        self._has_may_goto = False
        self._may_goto_pcs: set[int] = set()
        #: ``KF_ITER_NEXT`` call insns and their iterator type (:mod:`structops.verifier.iters`).
        self.iter_next: dict[int, btflib.Struct] = {}
        #: Subprogram start of every insn, and each subprogram's deepest stack use (bytes).
        self.owner: dict[int, int] = {}
        #: The last insn processed (Linux's log of an E2BIG rejection ends with it).
        self._last_pc = 0
        self.stack_depth: dict[int, int] = {}
        #: Slots the walk stepped on (1 = reached; dead code is what stays 0).
        self.reached = bytearray(len(self.code))
        #: Finished checkpoints (``branches == 0``) per pruning point.
        self._ndone: dict[int, int] = {}
        self._special: bytearray | None = None
        self._fast: list[fastpath.Handler | None] = []
        self._isjmp = b""
        #: The parent checkpoint of the path being walked (precision backtracking starts there).
        self.cur_cp: _Checkpoint | None = None
        #: Precision walks already done (:mod:`structops.verifier.precision`).
        self.bt_cache: dict[tuple[int, ...], tuple[object, object]] = {}
        #: Insns backtracking passes unchanged (made on the first precision walk).
        self.bt_noop = b""
        #: Loop of every insn (``compute_scc``) when the program has may_goto / iterator loops.
        self._scc: list[int] | None = None
        self._visits: dict[tuple[int, ...], loops.Visit] = {}
        #: Jump-class insns processed (``env->jmps_processed``), and both counters when the
        #: last checkpoint was made (``prev_jmps_processed`` / ``prev_insn_processed``).
        #: Registers live before every insn (:mod:`structops.verifier.liveness`), made on first use.
        self._live: list[int] | None = None
        self._jmps = 0
        self._prev_jmps = 0
        self._prev_insns = 0
        #: ``aux->nospec`` / ``nospec_result`` per insn, ``explore_alu_limits`` (:mod:`.speculative`).
        self.nospec, self.nospec_result = bytearray(len(self.code)), bytearray(len(self.code))
        self.explore_alu_limits = False
        self.branch_stack: _Stack = []  #: the paths still to explore (``env->head``)

    # -- helpers ---------------------------------------------------------------------------
    def new_id(self) -> int:
        """A fresh register / reference id (``++env->id_gen``)."""
        self._id += 1
        return self._id

    def write_denied(self, type_name: str, off: int, size: int) -> str:
        """The subsystem's message for a refused BTF write (T8, DM4: ``VerifierOps.write_denied``)."""
        if self.env.write_denied is not None:
            return self.env.write_denied(type_name, off, size)
        return f"write access at off {off} with size {size}"

    def _insn(self, pc: int) -> Insn:
        c, d, s, o, i = self.code[pc]
        hi = self.code[pc + 1][4] if c == 0x18 and pc + 1 < len(self.code) else 0
        return Insn(c, d, s, o, i, hi)

    # -- check_cfg -------------------------------------------------------------------------
    def check_cfg(self) -> None:
        """Reject malformed insns, bad jumps, unreachable code (``check_cfg``), all -EINVAL."""
        n = len(self.code)
        if n == 0:
            raise Reject(errno.EINVAL, "empty program")
        unpriv.check_calls_allowed(self._raw, self.env)
        second: set[int] = set()
        entries = [0]
        ctrl: list[int] = []  # insns that do not just fall through (fastpath.reach)
        code = self.code
        pc = 0
        while pc < n:
            if code[pc] in _SIMPLE:  # a well-formed insn that falls through, checked before
                pc += 1
                continue
            c, _d, s, _o, i = code[pc]
            if c == 0x18:
                if pc + 1 >= n:
                    raise Reject(errno.EINVAL, "invalid bpf_ld_imm64 insn")
                c2, d2, s2, o2, _ = self.code[pc + 1]
                if c2 or d2 or s2 or o2:
                    raise Reject(errno.EINVAL, "invalid bpf_ld_imm64 insn")
                if s == BPF_PSEUDO_FUNC:
                    entries.append(pc + 1 + i)
                elif s in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE):
                    locks.check_map_prog(self, i)
                second.add(pc + 1)
            try:  # a legacy packet load's fields are checked on the walk (check_ld_abs)
                why = None if c in LD_PKT_CODES and _d <= 10 and s <= 10 else check_insn(self._insn(pc))
            except Exception as exc:
                why = str(exc)
            if why is not None:
                if c not in OPCODES:  # resolve_pseudo_ldimm64's opcode check: no insn line
                    raise Reject(errno.EINVAL, f"unknown opcode {c:02x}")
                raise Reject(errno.EINVAL, f"insn {pc}: {why}")
            spec = OPCODES[c]
            if spec.kind == Kind.CALLX:
                raise Reject(errno.EINVAL, "BPF_CALL uses reserved fields")
            if spec.kind == Kind.MAY_GOTO:
                self._has_may_goto = True
                self._may_goto_pcs.add(pc)
            if spec.kind == Kind.CALL and s == BPF_PSEUDO_CALL:
                entries.append(pc + 1 + i)
                self.stats.subprogs.add(pc + 1 + i)
            elif spec.kind in _CTRL:
                ctrl.append(pc)
            elif len(_SIMPLE) < 1 << 16:
                _SIMPLE.add(code[pc])
            pc += 2 if c == 0x18 else 1
        for e in entries:
            if not 0 <= e < n or e in second:
                raise Reject(errno.EINVAL, f"call to invalid destination {e}")
        starts = sorted(set(entries))
        ends = [*starts[1:], n]
        owner: dict[int, int] = {}
        for start, end in zip(starts, ends, strict=True):
            last = end - 2 if end - 1 in second else end - 1
            if OPCODES[self.code[last][0]].kind not in (Kind.EXIT, Kind.JA):
                raise Reject(errno.EINVAL, "last insn is not an exit or jmp")
            owner.update(dict.fromkeys(range(start, end), start))
        self.owner = owner
        reached = fastpath.reach(code, entries, ctrl, second, owner, self._prune)
        if reached is None:  # a bad jump somewhere: the walk names the one it meets first
            reached = fastpath.reach_slow(code, entries, second, owner, self._prune)
        unpriv.check_back_edges(self, second)
        for x in second:
            reached[x] = 1
        first = reached.find(0)
        if first >= 0:
            raise Reject(errno.EINVAL, f"unreachable insn {first}")

    # -- driver ----------------------------------------------------------------------------
    def initial_state(self) -> State:
        """Entry state: R1 = ctx, R10 = frame pointer, one reference per ``__ref`` argument (V14)."""
        regs = [NOT_INIT] * 11
        regs[1] = Reg(RegType.PTR_TO_CTX, 0, 0)
        regs[10] = Reg(RegType.PTR_TO_STACK, 0, 0, obj=0)
        st = State([Frame(regs, {})])
        for a in self.env.ctx_args:
            if a.refcounted:
                ref = self.new_id()
                self.ctx_ref_ids[a.offset] = ref
                st.refs[ref] = 0
        return st

    def run(self) -> VerifyStats:
        """Verify; raise :class:`Reject` on the first invalid path (carrying the statistics)."""
        try:
            return self._run()
        except Reject as rej:
            rej.stats = self.stats
            raise

    def _run(self) -> VerifyStats:
        self.check_cfg()
        self.iter_next = iters.iter_next_pcs(self)
        self._prune.update(self.iter_next)
        for pc in slots_with_opcode(self._raw, b"\x85"):  # after every call, and a bpf-to-bpf call
            if self.code[pc][0] == 0x85:
                self._prune.add(pc + 1)
                if self.code[pc][2] == BPF_PSEUDO_CALL:  # the call, and the callee's entry (a branch target)
                    self._prune.add(pc)
                    self._prune.add(pc + self.code[pc][4] + 1)
                elif loops.calls_sync_callback(self, pc):
                    self.cb_calls.add(pc)  # re-entered after each callback iteration
                    self._prune.add(pc)
        #: Forced checkpoints (``is_force_checkpoint``): iterator ``_next`` calls, ``may_goto``,
        #: sync-callback-calling helper calls.
        self._forced = frozenset(self.iter_next) | self._may_goto_pcs | self.cb_calls
        if self.iter_next or self._may_goto_pcs or self.cb_calls:
            code = self.code  # a callback-calling call is a loop of its own (implicit loop)
            self._scc = loops.sccs(code, lambda pc: unpriv.successors(code, pc), self.cb_calls)
        first = self.initial_state()
        first.priv = self.env.allow_uninit_stack
        stack = self.branch_stack
        stack.append((0, first, None))
        while stack:
            pc, st, cp = stack.pop()
            self._walk(pc, st, cp, stack)
        return self.stats

    def _finish(self, cp: _Checkpoint | None) -> None:
        while cp is not None:
            cp.branches -= 1
            if cp.branches > 0:
                return
            self._ndone[cp.pc] = self._ndone.get(cp.pc, 0) + 1
            if not cp.evicted:
                self._busy[cp.pc] -= 1
            else:  # an evicted state is freed once nothing below it is explored
                self._live_n -= 1
            visit = cp.visit
            if visit is not None and visit.entry is cp:  # maybe_exit_scc
                visit.entry = None
                loops.propagate_backedges(self, visit)
            cp = cp.parent

    def _walk(self, pc: int, st: State, cp: _Checkpoint | None, stack: _Stack) -> None:
        special = self._special
        if special is None:  # the pruning points and shortcuts, once the cfg is known
            special = self._special = bytearray(len(self.code))
            for x in (*self.iter_next, *self._may_goto_pcs, *self._prune):
                special[x] = 1
            self._fast = fastpath.handlers(self.code)
            if not self.env.allow_ptr_leaks:  # scalar add/sub of a register is sanitized too
                unpriv.no_fast_sanitized(self.code, self._fast)
            self._isjmp = self._raw[0::8].translate(_JMP_CLASS)
        fast = self._fast
        code = self.code
        isjmp = self._isjmp
        reached = self.reached
        stats = self.stats
        limit = self.limit
        prev = st.last
        self.cur_cp = cp
        spec = st.spec
        while True:
            stats.insns_processed += 1  # counted before the pruning check, as do_check does
            if stats.insns_processed > limit:  # checked before the insn is printed:
                too_big = Reject(errno.E2BIG, f"BPF program is too large. Processed {stats.insns_processed} insn")
                self._reject_at(self._last_pc, st, too_big)  # the log ends at the previous one
            if not special[pc]:
                pass
            else:
                res = pruning.state_visited(self, pc, st, cp, prev)
                if res is True:
                    stackdepth.record_depth(self, st, pc)
                    self._finish(cp)
                    return
                cp = res  # type: ignore[assignment]
            if pc != prev + 1:  # a jump, call or return: the history needs the step
                h = st.hist
                st.hist = (pc, prev, 0, h, h[4] + 1 if h is not None else 1)
            if spec:  # dead code for the real paths: still sanitized (sanitize_mark_insn_seen)
                if self.nospec[pc]:  # a barrier: the speculative path stops here
                    return end_path(self, pc, st, cp)
            else:
                reached[pc] = 1
            if isjmp[pc]:
                self._jmps += 1
            self._last_pc = pc
            h = fast[pc]
            if h is not None:
                delta = h(st.frames[-1].regs)
                if delta is not None:
                    if delta > fastpath.DECIDED_MIN:  # a branch known scalars decided: defer
                        delta -= fastpath.DECIDED  # its precision request (precision.defer)
                        c = code[pc]
                        precision.defer(self, st, pc, (1 << c[1]) | (1 << c[2]) if c[0] & 8 else 1 << c[1])
                    prev = pc
                    pc += delta
                    continue
            st.last = pc
            try:
                nxt = self._step(pc, st, cp, stack)
            except Reject as rej:
                if spec and recover(self, pc, rej.errno):
                    return end_path(self, pc, st, cp)
                self._reject_at(pc, st, rej)
            if nxt is None:
                precision.flush(self, st)
                self._finish(cp)
                return
            if spec and self.nospec_result[pc]:  # a barrier follows the store
                return end_path(self, pc, st, cp)
            prev = pc
            pc = nxt

    def _may_goto(self, pc: int, st: State, cp: _Checkpoint | None, stack: _Stack, off: int) -> int:
        """``may_goto``: the path goes on at the jump target; the fall-through (the loop body)
        is explored later one ``may_goto`` deeper, with the scalars that changed since the
        previous visit of this instruction on the path widened to unknown (the kernel's
        widen_imprecise_scalars; every scalar counts as imprecise here)."""
        precision.flush(self, st)  # the marks the widening reads
        body = st.copy()
        body.may_goto_depth += 1
        prev = cp.parent if cp is not None and cp.pc == pc else cp
        while prev is not None and prev.pc != pc:
            prev = prev.parent
        if prev is not None and self.env.bpf_capable:
            widen_scalars(prev.state, body)
        stack.append((pc + 1, body, cp))
        if cp is not None:
            cp.branches += 1
        return pc + 1 + off

    def _reject_at(self, pc: int, st: State, rej: Reject) -> NoReturn:
        regs = " ".join(f"R{i}={r.describe()}" for i, r in enumerate(st.cur.regs) if r.type != RegType.NOT_INIT)
        self.log.add(regs)
        self.log.add(f"{pc}: ({self.code[pc][0]:02x}) {format_insn(self._insn(pc))}")
        raise rej

    # -- one instruction -------------------------------------------------------------------
    def _step(self, pc: int, st: State, cp: _Checkpoint | None, stack: _Stack) -> int | None:
        # scalar ALU ops and non-forking jumps usually never get here: fastpath.handlers does
        # what _alu / _jcond do for them; a change to those paths must be mirrored there
        c, d, s, o, i = self.code[pc]
        spec = OPCODES[c]
        k = spec.kind
        if k in (Kind.ALU, Kind.MOV, Kind.NEG, Kind.END):
            self._alu(st, c, d, s, o, i, spec.is64, k)
            return pc + 1
        if k == Kind.LD_IMM64:
            check_ld_imm64(self, st, pc, d, s, i)
            return pc + 2
        if k == Kind.LDX:
            base = self._src_ok(st, s)
            self._dst_ok(d)
            fill = precision.fill_slot(st, base, o, spec.size)
            val = check_access(self, st, s, o, spec.size, write=False, value=None, signed=spec.signed)
            assert val is not None
            st.cur.regs[d] = val
            if fill is not None:  # a register restored from the stack: the history names the slot
                precision.record_stack_access(st, pc, *fill)
            return pc + 1
        if k in (Kind.ST, Kind.STX):
            value: Reg | None = self._src_ok(st, s) if k == Kind.STX else const(i)
            if k == Kind.STX and value is not None:
                unpriv.check_store_leak(self, st.cur.regs[d], value, s)
                value = before_spill(self, st, d, o, spec.size, s)
            store_barrier(self, st, d, o, spec.size, value if k == Kind.STX else None)
            if spec.size < 8 and not (value is not None and value.type == RegType.SCALAR):
                value = None  # a partial store of a pointer; scalars may be narrow spills
            check_access(self, st, d, o, spec.size, write=True, value=value)
            spilled = precision.spill_slot(st, st.cur.regs[d], o)
            if spilled is not None:  # a register (or an immediate) spilled: the history names the slot
                precision.record_stack_access(st, pc, *spilled)
            return pc + 1
        if k == Kind.ATOMIC:
            check_atomic(self, st, d, s, o, i, spec.size)
            return pc + 1
        if k == Kind.JA:
            return pc + 1 + (o if spec.is64 else i)
        if k == Kind.MAY_GOTO:
            return self._may_goto(pc, st, cp, stack, o)
        if k == Kind.JCOND:
            return self._jcond(pc, st, cp, stack, c, d, s, o, i, spec.is64)
        if k == Kind.CALL:
            if st.lock is not None:  # do_check, before the call's own checks
                locks.check_call_locked(self, st, s, i, o)
            if s == 0 and not (self.env.bpf_capable and self.env.allow_ptr_leaks):
                unpriv.check_helper_allowed(self, i)
            if s == BPF_PSEUDO_CALL:
                calls.call_subprog(self, st, pc, pc + 1 + i)
                return pc + 1 + i
            if s == BPF_PSEUDO_KFUNC_CALL and pc in self.iter_next:
                return iters.next_call(self, st, pc, cp, stack, i, o)
            if s == BPF_PSEUDO_KFUNC_CALL:
                calls.call_kfunc(self, st, pc, i, o)
            elif i in timer.TIMER_HELPERS:
                return timer.call_timer_helper(self, st, pc, i, cp, stack)
            elif i == 194:  # bpf_kptr_xchg
                from structops.verifier.kptr import call_kptr_xchg

                return call_kptr_xchg(self, st, pc)
            else:
                calls.call_helper(self, st, pc, i)
            return pc + 1
        if k in (Kind.LD_ABS, Kind.LD_IND):
            check_ld_abs(self, st, c, d, s, o)
            if len(st.frames) == 1:
                return pc + 1
            # in a subprogram an out-of-bounds load returns 0 to the caller: both paths
            stack.append((pc + 1, st.copy(), cp))
            if cp is not None:
                cp.branches += 1
            st.cur.regs[0] = const(0)
            return self._frame_exit(st)
        if k == Kind.EXIT:
            stackdepth.record_depth(self, st, pc)
            if len(st.frames) == 1 and st.cur.callsite == timer.ASYNC_CALLSITE:
                timer.async_exit(self, st)
                return None
            if len(st.frames) > 1:
                return calls.exit_subprog(st)
            calls.check_main_exit(self, st)
            return None
        raise Reject(errno.EINVAL, f"unknown insn class {c:#x}")  # pragma: no cover - check_cfg

    def _frame_exit(self, st: State) -> int:
        """Leave the current subprogram frame (R0 set); the caller's next insn."""
        return calls.exit_subprog(st)

    def _src_ok(self, st: State, r: int) -> Reg:
        reg = st.cur.regs[r]
        if reg.type == RegType.NOT_INIT:
            raise Reject(errno.EACCES, f"R{r} !read_ok")
        return reg

    def _dst_ok(self, r: int) -> None:
        if r == 10:
            raise Reject(errno.EACCES, "frame pointer is read only")

    # -- ALU -------------------------------------------------------------------------------
    def _alu(self, st: State, c: int, d: int, s: int, o: int, i: int, is64: bool, k: Kind) -> None:
        regs = st.cur.regs
        op = c & 0xF0
        bits = 64 if is64 else 32
        use_x = bool(c & 0x08)
        self._dst_ok(d)
        if k in (Kind.NEG, Kind.END):
            dst = self._src_ok(st, d)
            if dst.is_ptr:
                raise Reject(errno.EACCES, f"R{d} pointer arithmetic prohibited")
            mode = "bswap" if is64 and k == Kind.END else ("be" if use_x else "le")
            res = unary(op, dst, bits, i, mode)  # a byte-order op that changes nothing keeps the link
            regs[d] = res if res is dst else with_id(res, 0)
            return
        if use_x:
            src = self._src_ok(st, s)
        else:
            src = const(i if is64 else i & _M32)
            if op in (0x30, 0x90) and i == 0:
                raise Reject(errno.EINVAL, "div by zero")
            if op in (0x60, 0x70, 0xC0) and not 0 <= i < bits:
                raise Reject(errno.EINVAL, f"invalid shift {i}")
        if k == Kind.MOV:
            if use_x and src.is_ptr:
                if not is64 and not self.env.allow_ptr_leaks:
                    raise Reject(errno.EACCES, f"R{s} partial copy of pointer")
                regs[d] = src if is64 and o == 0 else unknown(0, _M32 if not is64 else U64_MAX)
                return
            res = alu_range(0xB0, NOT_INIT, src, bits, o)
            regs[d] = mov_result(self, regs, s, res, bits, o) if use_x else res
            return
        dst = self._src_ok(st, d)
        if dst.is_ptr or src.is_ptr:
            if use_x and dst.is_ptr != src.is_ptr:  # the pointer moves by the scalar's value
                precision.mark(self, st, s if dst.is_ptr else d)
            regs[d] = ptrops.ptr_alu(self, d, s if use_x else -1, op, dst, src, is64, st)
            return
        if use_x and op in (0x00, 0x10) and not self.env.allow_ptr_leaks and not self.nospec[self._last_pc]:
            unpriv.val_sanitation(self, d, op)
        regs[d] = alu_result(self, op, dst, src, alu_range(op, dst, src, bits, o), bits)

    # -- conditional jumps -----------------------------------------------------------------
    def _jcond(
        self,
        pc: int,
        st: State,
        cp: _Checkpoint | None,
        stack: _Stack,
        c: int,
        d: int,
        s: int,
        o: int,
        i: int,
        is64: bool,
    ) -> int | None:
        op = c & 0xF0
        bits = 64 if is64 else 32
        a = self._src_ok(st, d)
        b = self._src_ok(st, s) if c & 0x08 else const(i if is64 else i & _M32)
        target = pc + 1 + o
        precision.flush(self, st)  # before a fork: each side would walk the requests again
        if a.is_ptr or b.is_ptr:
            return ptrops.ptr_jcond(self, pc, st, cp, stack, op, d, s if c & 0x08 else -1, a, b, is64, target)
        outcome = branch_outcome(op, a, b, bits)
        if outcome is not None:  # the compared scalars decided it: they must stay as they are
            precision.mark(self, st, d, s) if c & 0x08 else precision.mark(self, st, d)
            if not self.env.allow_ptr_leaks:  # the other side, as a mispredicted branch would take it
                push_branch(self, st, pc + 1 if outcome else target, (d, s) if c & 0x08 else (d,))
            return target if outcome else pc + 1
        links = jump(st, pc, d, s if c & 0x08 else -1) if a.id or b.id else None
        other = st.copy()
        regs_t, regs_f = other.cur.regs, st.cur.regs
        # reg_set_min_max: both compared scalars narrowed on each side (in place when d == s)
        use_x = bool(c & 0x08)
        same = use_x and s == d
        regs_t[d], bt = refine_pair(op, a, b, bits, same, use_x)
        regs_f[d], bf = refine_pair(REV[op], a, b, bits, same, use_x)
        if use_x:
            regs_t[s], regs_f[s] = bt, bf
        if a.id or b.id:  # sync_linked_regs on both sides
            for side in (other, st):
                after_jump(side, d, s if c & 0x08 else -1, a, b if c & 0x08 else None, links)
        stack.append((target, other, cp))
        if cp is not None:
            cp.branches += 1
        return pc + 1
