"""The abstract interpreter (``do_check``): every path, state pruning, the insn budget.

The driver first checks the control-flow graph (``check_cfg``: well-formed insns, jump
targets, no unreachable insn, a final exit or jump), then walks the program depth-first
from insn 0 with an explicit branch stack.  At jump targets it compares the current
state with the states already seen there: a fully explored state that covers it
(:func:`~structops.verifier.state.state_subsumes`) prunes the path; an identical state
still on the current path is an infinite loop.  Bounded loops therefore converge (or
run out of the budget: E2BIG, like the kernel's 1M processed-insn limit).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import NoReturn

from structops import btf as btflib
from structops.isa import Insn, check_insn, format_insn
from structops.isa.opcodes import OPCODES, AtomicOp, Kind
from structops.uapi import (
    BPF_PSEUDO_BTF_ID,
    BPF_PSEUDO_CALL,
    BPF_PSEUDO_FUNC,
    BPF_PSEUDO_KFUNC_CALL,
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_VALUE,
)
from structops.verifier import calls, fastpath, iters, ptrops, stackdepth, timer, unpriv
from structops.verifier.env import BPF_COMPLEXITY_LIMIT_INSNS, LogSink, ProgEnv, Reject
from structops.verifier.memory import check_access, sized_unknown
from structops.verifier.refine import REV, refine_pair
from structops.verifier.scalar import alu_range, branch_outcome, unary
from structops.verifier.state import (
    NOT_INIT,
    U64_MAX,
    Frame,
    Reg,
    RegType,
    State,
    const,
    state_subsumes,
    unknown,
    widen_scalars,
)

__all__ = ["VerifyStats", "Verifier"]

_M32 = 0xFFFFFFFF
#: Insns a path runs before a new pruning checkpoint may be recorded (kernel heuristic).
_CHECKPOINT_EVERY = 4
#: States kept per insn for subsumption checks.
_MAX_STATES_PER_INSN = 64
#: Pointer kinds an atomic read-modify-write may not target (ctx, packet, flow keys, sockets).
_NO_ATOMIC = frozenset({RegType.PTR_TO_CTX})
#: Kinds whose successors are not just the next slot (``check_cfg``, :func:`fastpath.reach`).
_CTRL = frozenset({Kind.LD_IMM64, Kind.EXIT, Kind.JA, Kind.JCOND, Kind.MAY_GOTO})
#: Encodings ``check_cfg`` found well-formed that just fall through (checked once each).
_SIMPLE: set[tuple[int, int, int, int, int]] = set()


@dataclass(eq=False)
class _Checkpoint:
    """A state recorded at a pruning point; ``branches`` counts paths still being explored below it."""

    pc: int
    state: State
    parent: _Checkpoint | None
    branches: int = 1


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
        self._exact: dict[fastpath.StateKey, list[_Checkpoint]] = {}
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
                second.add(pc + 1)
            try:
                why = check_insn(self._insn(pc))
            except Exception as exc:
                why = str(exc)
            if why is not None:
                if c not in OPCODES:  # resolve_pseudo_ldimm64's opcode check: no insn line
                    raise Reject(errno.EINVAL, f"unknown opcode {c:02x}")
                raise Reject(errno.EINVAL, f"insn {pc}: {why}")
            spec = OPCODES[c]
            if spec.kind in (Kind.LD_ABS, Kind.LD_IND):
                raise Reject(errno.EINVAL, "BPF_LD_[ABS|IND] instructions not allowed for this program type")
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
        """Verify; raise :class:`Reject` on the first invalid path."""
        self.check_cfg()
        self.iter_next = iters.iter_next_pcs(self)
        self._prune.update(self.iter_next)
        first = self.initial_state()
        first.priv = self.env.allow_uninit_stack
        stack: _Stack = [(0, first, None)]
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
            cp = cp.parent

    def _is_ancestor(self, old: _Checkpoint, cp: _Checkpoint | None) -> bool:
        while cp is not None:
            if cp is old:
                return True
            cp = cp.parent
        return False

    def _checkpoint(self, pc: int, st: State, parent: _Checkpoint | None, olds: list[_Checkpoint]) -> _Checkpoint:
        """Record ``st`` at ``pc`` (a new explored state below ``parent``)."""
        new = _Checkpoint(pc, st.copy(), parent)
        olds.append(new)
        self.stats.total_states += 1
        self.stats.max_states_per_insn = max(self.stats.max_states_per_insn, len(olds))
        return new

    def _walk(self, pc: int, st: State, cp: _Checkpoint | None, stack: _Stack) -> None:
        since = _CHECKPOINT_EVERY
        special = self._special
        if special is None:  # the pruning points and shortcuts, once the cfg is known
            special = self._special = bytearray(len(self.code))
            for x in (*self.iter_next, *self._may_goto_pcs, *self._prune):
                special[x] = 1
            self._fast = fastpath.handlers(self.code)
        fast = self._fast
        reached = self.reached
        stats = self.stats
        limit = self.limit
        while True:
            if not special[pc]:
                pass
            elif pc in self.iter_next:  # forced checkpoint; converged loops are pruned here
                olds = self._visited.setdefault(pc, [])
                if iters.visit(self, pc, st, olds[-_MAX_STATES_PER_INSN:]):
                    stackdepth.record_depth(self, st, pc)
                    self._finish(cp)
                    return
                cp = self._checkpoint(pc, st, cp, olds)
                since = 0
            elif pc in self._may_goto_pcs:  # forced checkpoint; another depth of the same state prunes
                olds = self._visited.setdefault(pc, [])
                for old in olds[-_MAX_STATES_PER_INSN:]:
                    if (old.branches == 0 or old.state.may_goto_depth != st.may_goto_depth) and state_subsumes(
                        old.state, st
                    ):
                        self.stats.insns_processed += 1
                        stackdepth.record_depth(self, st, pc)
                        self._finish(cp)
                        return
                cp = self._checkpoint(pc, st, cp, olds)
                since = 0
            elif pc in self._prune:
                key = fastpath.StateKey((pc, st.key()))
                for old in self._exact.get(key, ()):
                    if old.branches == 0:
                        stackdepth.record_depth(self, st, pc)
                        self._finish(cp)
                        return
                    if not self._has_may_goto and self._is_ancestor(old, cp):
                        self._reject_at(pc, st, Reject(errno.EINVAL, f"infinite loop detected at insn {pc}"))
                olds = self._visited.setdefault(pc, [])
                if self._ndone.get(pc):  # else every state here is still being explored
                    for old in olds[-_MAX_STATES_PER_INSN:]:
                        if old.branches == 0 and state_subsumes(old.state, st):
                            stackdepth.record_depth(self, st, pc)
                            self._finish(cp)
                            return
                if since >= _CHECKPOINT_EVERY:
                    cp = self._checkpoint(pc, st, cp, olds)
                    self._exact.setdefault(key, []).append(cp)
                    since = 0
            stats.insns_processed += 1
            since += 1
            if stats.insns_processed > limit:  # checked before the insn is printed:
                too_big = Reject(errno.E2BIG, f"BPF program is too large. Processed {stats.insns_processed} insn")
                self._reject_at(self._last_pc, st, too_big)  # the log ends at the previous one
            self._last_pc = pc
            reached[pc] = 1
            h = fast[pc]
            if h is not None:
                delta = h(st.frames[-1].regs)
                if delta is not None:
                    pc += delta
                    continue
            try:
                nxt = self._step(pc, st, cp, stack)
            except Reject as rej:
                self._reject_at(pc, st, rej)
            if nxt is None:
                self._finish(cp)
                return
            pc = nxt

    def _may_goto(self, pc: int, st: State, cp: _Checkpoint | None, stack: _Stack, off: int) -> int:
        """``may_goto``: the path goes on at the jump target; the fall-through (the loop body)
        is explored later one ``may_goto`` deeper, with the scalars that changed since the
        previous visit of this instruction on the path widened to unknown (the kernel's
        widen_imprecise_scalars; every scalar counts as imprecise here)."""
        body = st.copy()
        body.may_goto_depth += 1
        prev = cp.parent if cp is not None and cp.pc == pc else cp
        while prev is not None and prev.pc != pc:
            prev = prev.parent
        if prev is not None:
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
            self._ld_imm64(st, pc, d, s, i)
            return pc + 2
        if k == Kind.LDX:
            self._src_ok(st, s)
            self._dst_ok(d)
            val = check_access(self, st, s, o, spec.size, write=False, value=None, signed=spec.signed)
            assert val is not None
            st.cur.regs[d] = val
            return pc + 1
        if k in (Kind.ST, Kind.STX):
            value: Reg | None = self._src_ok(st, s) if k == Kind.STX else const(i)
            if k == Kind.STX and value is not None:
                unpriv.check_store_leak(self, st.cur.regs[d], value, s)
            if spec.size < 8 and not (value is not None and value.type == RegType.SCALAR):
                value = None  # a partial store of a pointer; scalars may be narrow spills
            check_access(self, st, d, o, spec.size, write=True, value=value)
            return pc + 1
        if k == Kind.ATOMIC:
            self._atomic(st, d, s, o, i, spec.size)
            return pc + 1
        if k == Kind.JA:
            return pc + 1 + (o if spec.is64 else i)
        if k == Kind.MAY_GOTO:
            return self._may_goto(pc, st, cp, stack, o)
        if k == Kind.JCOND:
            return self._jcond(pc, st, cp, stack, c, d, s, o, i, spec.is64)
        if k == Kind.CALL:
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
        if k == Kind.EXIT:
            stackdepth.record_depth(self, st, pc)
            if len(st.frames) == 1 and st.cur.callsite == timer.ASYNC_CALLSITE:
                timer.async_exit(st)
                return None
            if len(st.frames) > 1:
                return calls.exit_subprog(st)
            calls.check_main_exit(self, st)
            return None
        raise Reject(errno.EINVAL, f"unknown insn class {c:#x}")  # pragma: no cover - check_cfg

    def _src_ok(self, st: State, r: int) -> Reg:
        reg = st.cur.regs[r]
        if reg.type == RegType.NOT_INIT:
            raise Reject(errno.EACCES, f"R{r} !read_ok")
        return reg

    def _dst_ok(self, r: int) -> None:
        if r == 10:
            raise Reject(errno.EACCES, "frame pointer is read only")

    def _ld_imm64(self, st: State, pc: int, d: int, s: int, i: int) -> None:
        self._dst_ok(d)
        hi = self.code[pc + 1][4]
        regs = st.cur.regs
        if s == 0:
            regs[d] = const(((hi & _M32) << 32) | (i & _M32))
        elif s in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE):
            if self.env.get_map is None:
                raise Reject(errno.EINVAL, f"fd {i} is not pointing to valid bpf_map")
            try:
                m = self.env.get_map(i)
            except OSError as exc:
                raise Reject(exc.errno or errno.EBADF, f"fd {i} is not pointing to valid bpf_map") from None
            if s == BPF_PSEUDO_MAP_FD:
                regs[d] = Reg(RegType.CONST_PTR_TO_MAP, 0, 0, obj=m)
            else:
                vsize = int(getattr(m, "value_size", 0))
                if not 0 <= hi < max(vsize, 1):
                    raise Reject(errno.EINVAL, f"invalid access to map value pointer, value_size={vsize} off={hi}")
                regs[d] = Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, off=hi, obj=m)
        elif s == BPF_PSEUDO_FUNC:
            regs[d] = Reg(RegType.PTR_TO_FUNC, 0, 0, obj=pc + 1 + i)
        elif s == BPF_PSEUDO_BTF_ID:
            regs[d] = Reg(RegType.PTR_TO_MEM, 0, 0)
        else:
            raise Reject(errno.EINVAL, f"unrecognized bpf_ld_imm64 insn src {s}")

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
            regs[d] = unary(op, dst, bits, i, mode)
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
            regs[d] = alu_range(0xB0, NOT_INIT, src, bits, o)
            return
        dst = self._src_ok(st, d)
        if dst.is_ptr or src.is_ptr:
            regs[d] = ptrops.ptr_alu(self, d, s if use_x else -1, op, dst, src, is64)
            return
        regs[d] = alu_range(op, dst, src, bits, o)

    # -- atomics ---------------------------------------------------------------------------
    def _atomic(self, st: State, d: int, s: int, o: int, i: int, size: int) -> None:
        regs = st.cur.regs
        if i == AtomicOp.LOAD_ACQ:
            self._src_ok(st, s)
            self._dst_ok(d)
            val = check_access(self, st, s, o, size, write=False, value=None)
            assert val is not None
            regs[d] = val
            return
        if i == AtomicOp.STORE_REL:
            value = self._src_ok(st, s)
            check_access(self, st, d, o, size, write=True, value=value if size == 8 else None)
            return
        self._src_ok(st, s)
        base = self._src_ok(st, d)
        if base.type in _NO_ATOMIC:  # check_atomic_rmw; BTF pointers go through btf_struct_access
            raise Reject(errno.EACCES, f"BPF_ATOMIC stores into R{d} {base.type_str()} is not allowed")
        if i == AtomicOp.CMPXCHG:
            self._src_ok(st, 0)
        check_access(self, st, d, o, size, write=False, value=None)
        check_access(self, st, d, o, size, write=True, value=None)
        if i == AtomicOp.CMPXCHG:
            regs[0] = sized_unknown(size)
        elif i & 0x01:  # BPF_FETCH (incl. xchg)
            regs[s] = sized_unknown(size)

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
        if a.is_ptr or b.is_ptr:
            return ptrops.ptr_jcond(self, pc, st, cp, stack, op, d, s if c & 0x08 else -1, a, b, is64, target)
        outcome = branch_outcome(op, a, b, bits)
        if outcome is True:
            return target
        if outcome is False:
            return pc + 1
        other = st.copy()
        regs_t, regs_f = other.cur.regs, st.cur.regs
        # reg_set_min_max: both compared scalars narrowed on each side (in place when d == s)
        use_x = bool(c & 0x08)
        same = use_x and s == d
        regs_t[d], bt = refine_pair(op, a, b, bits, same, use_x)
        regs_f[d], bf = refine_pair(REV[op], a, b, bits, same, use_x)
        if use_x:
            regs_t[s], regs_f[s] = bt, bf
        stack.append((target, other, cp))
        if cp is not None:
            cp.branches += 1
        return pc + 1
