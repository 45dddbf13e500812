"""Subprograms and their BTF: func_info checks, global functions, dead code (``bpf_check``).

What Linux 6.18 does with a program's ``func_info`` and subprograms, mirrored here:

* ``check_btf_func``: with func_info, there must be exactly one record per subprogram
  (a function start: insn 0, every ``call`` target, every ``ld_imm64`` function
  address), the first at insn 0, offsets strictly increasing and each on a subprogram
  start, each naming a BTF FUNC whose type is a FUNC_PROTO (all ``EINVAL``);
* a function address (``BPF_PSEUDO_FUNC``, a callback) without func_info is
  ``EINVAL`` "missing btf func_info";
* a FUNC with ``global`` linkage is a *global* function: the caller only checks the
  arguments against its BTF signature and gets an unknown scalar back; the function
  itself is verified once on its own, its arguments typed from the signature (scalars
  unknown, a pointer to memory ``mem_or_null`` of the pointee's size), so it must
  check pointers for NULL itself;
* after a successful verification, instructions the verifier never reached are dead
  code: they become ``ja -1`` (``sanitize_dead_code``), so libbpf's poisoned
  relocations in dead branches never run.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from typing import Any, Final

from structops import btf as btflib
from structops.isa.scan import insn_starts
from structops.loader.btf_ext import FuncInfo  # one struct bpf_func_info record, as the kernel received it
from structops.verifier import precision
from structops.verifier.core import Verifier, VerifyStats
from structops.verifier.env import MAX_CALL_FRAMES, LogSink, ProgEnv, Reject
from structops.verifier.ldabs import subprogs_with_ld_abs
from structops.verifier.locks import check_call_locked, check_global_call
from structops.verifier.stackdepth import check_max_stack_depth
from structops.verifier.state import NOT_INIT, Frame, Reg, RegType, State, unknown, widen_scalars
from structops.verifier.timer import ASYNC_CALLSITE
from structops.verifier.unpriv import check_calls_allowed, check_helper_allowed

__all__ = [
    "FuncInfo",
    "FuncInfoVerifier",
    "SubprogInfo",
    "check_func_info",
    "sanitize_dead_code",
    "subprog_starts",
    "verify_with_func_info",
]

FUNC_INFO_MIN: Final = 8
_PSEUDO_CALL: Final = 1
_PSEUDO_FUNC: Final = 4
#: Helpers whose second argument is a callback subprogram.
CALLBACK_HELPERS: Final = {181: "bpf_loop", 164: "bpf_for_each_map_elem"}
#: ``BPF_JMP | BPF_JA`` with offset -1: the trap dead instructions become.
DEAD_TRAP: Final = struct.pack("<BBhi", 0x05, 0, -1, 0)


@dataclass(frozen=True, slots=True)
class SubprogInfo:
    """A subprogram: its first instruction and, with func_info, its BTF FUNC."""

    start: int
    func: btflib.Func | None = None

    @property
    def is_global(self) -> bool:
        """True for a FUNC with ``global`` linkage (verified on its own)."""
        return self.func is not None and self.func.linkage == btflib.FuncLinkage.GLOBAL

    @property
    def name(self) -> str:
        """The function's BTF name ('' without func_info)."""
        return self.func.name if self.func is not None else ""


def subprog_starts(insns: bytes) -> tuple[list[int], bool]:
    """Sorted subprogram starts, and whether any ``ld_imm64`` takes a function address."""
    n = len(insns) // 8
    starts = {0}
    has_func_addr = False
    for pc in insn_starts(insns, b"\x18\x85"):
        code, regs, _off, imm = struct.unpack_from("<BBhi", insns, pc * 8)
        src = regs >> 4
        if code == 0x85 and src == _PSEUDO_CALL:
            starts.add(pc + 1 + imm)
        elif code == 0x18 and src == _PSEUDO_FUNC:
            starts.add(pc + 1 + imm)
            has_func_addr = True
    return sorted(s for s in starts if 0 <= s < n), has_func_addr


def decode_func_info(raw: bytes, rec_size: int) -> list[FuncInfo]:
    """Split the user's func_info bytes into records (``rec_size`` checked like the kernel)."""
    if not raw:
        return []
    if rec_size < FUNC_INFO_MIN or rec_size > 4096 or rec_size % 4:
        raise Reject(errno.EINVAL, f"invalid func info rec size {rec_size}")
    return [FuncInfo(*struct.unpack_from("<II", raw, i)) for i in range(0, len(raw) - rec_size + 1, rec_size)]


def check_func_info(insns: bytes, infos: list[FuncInfo], btf: btflib.Spec | None) -> list[SubprogInfo]:
    """``check_btf_func`` (see module doc): the subprograms with their FUNC, or Reject."""
    starts, _has_func_addr = subprog_starts(insns)
    with_ld_abs = subprogs_with_ld_abs(insns, starts)
    if not infos:  # a function address then fails at its ld_imm64 (FuncInfoVerifier._step)
        if any(n > 0 for n in with_ld_abs):  # check_abnormal_return
            raise Reject(errno.EINVAL, "LD_ABS is not allowed in subprogs without BTF")
        return [SubprogInfo(s) for s in starts]
    if btf is None:
        raise Reject(errno.EINVAL, "func_info needs prog_btf_fd")
    if len(infos) != len(starts):
        raise Reject(errno.EINVAL, "number of funcs in func_info doesn't match number of subprogs")
    out: list[SubprogInfo] = []
    prev = -1
    for i, (rec, start) in enumerate(zip(infos, starts, strict=True)):
        if i == 0 and rec.insn_off:
            raise Reject(errno.EINVAL, f"nonzero insn_off {rec.insn_off} for the first func info record")
        if rec.insn_off <= prev and i:
            raise Reject(errno.EINVAL, f"same or smaller insn offset ({rec.insn_off}) than previous func info record")
        if rec.insn_off != start:
            raise Reject(errno.EINVAL, "func_info BTF section doesn't match subprog layout in BPF program")
        try:
            func = btf.type_by_id(rec.type_id)
        except Exception:
            func = None
        if not isinstance(func, btflib.Func) or not isinstance(func.type, btflib.FuncProto):
            raise Reject(errno.EINVAL, f"invalid type id {rec.type_id}")
        if i and i in with_ld_abs and not _returns_int(func):
            raise Reject(errno.EINVAL, "LD_ABS is only allowed in functions that return 'int'.")
        out.append(SubprogInfo(start, func))
        prev = rec.insn_off
    return out


def _returns_int(func: btflib.Func) -> bool:
    """Whether ``func`` returns a scalar: an integer of at most 8 bytes or an enum
    (``check_btf_func``'s rule for a subprogram with LD_ABS)."""
    ret = btflib.underlying(func.type.return_type)
    return (isinstance(ret, btflib.Int) and ret.size <= 8) or isinstance(ret, btflib.Enum | btflib.Enum64)


def _union(a: bytearray, b: bytearray) -> bytearray:
    """Slot flags reached in ``a`` or ``b`` (same length)."""
    n = len(a)
    return bytearray((int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(n, "little"))


def sanitize_dead_code(insns: bytes, seen: set[int] | bytearray) -> bytes:
    """Replace every instruction the verifier never reached with ``ja -1``.

    ``seen``: the reached slots (a set of slot indexes, or one flag byte per slot as
    ``Verifier.reached``).  The second slot of a reached ``ld_imm64`` counts as reached.
    """
    n = len(insns) // 8
    live = bytearray(n)
    if isinstance(seen, bytearray):
        live[:] = seen[:n]
    else:
        for pc in seen:
            if 0 <= pc < n:
                live[pc] = 1
    ops = insns[0::8]
    pc = ops.find(0x18)
    while 0 <= pc < n - 1:  # the second slot of a reached ld_imm64
        if live[pc] and not live[pc + 1]:
            live[pc + 1] = 1
        pc = ops.find(0x18, pc + 1)
    if live.find(0) < 0:
        return insns
    out = bytearray(insns)
    pc = live.find(0)
    while pc >= 0:
        out[pc * 8 : pc * 8 + 8] = DEAD_TRAP
        pc = live.find(0, pc + 1)
    return bytes(out)


# -- verification with func_info: global functions and dead code ----------------------------


def _arg_reg(v: Verifier, func: btflib.Func, index: int, ptype: btflib.Type) -> Reg:
    """The entry value of argument ``index`` of a global function (``btf_prepare_func_args``)."""
    t = btflib.underlying(ptype)
    if isinstance(t, btflib.Int | btflib.Enum | btflib.Enum64):
        return unknown()
    if isinstance(t, btflib.Pointer):
        try:
            btflib.sizeof(t.target)
        except Exception:
            raise Reject(
                errno.EINVAL,
                f"arg#{index} reference type('{type(t.target).__name__.upper()} ') size cannot be determined",
            ) from None
        return Reg(RegType.PTR_TO_MEM, 0, 0, maybe_null=True, id=v.new_id())
    raise Reject(errno.EINVAL, f"Func '{func.name}' arg#{index} type {type(t).__name__.upper()} is not supported")


class FuncInfoVerifier(Verifier):
    """The verifier with func_info: global functions checked alone, reached insns recorded."""

    def __init__(
        self,
        insns: bytes,
        env: ProgEnv,
        log: LogSink,
        *,
        limit: int,
        subprogs: list[SubprogInfo],
        entry: SubprogInfo | None = None,
    ) -> None:
        super().__init__(insns, env, log, limit=limit)
        self.subprogs = {s.start: s for s in subprogs}
        self.entry = entry
        self.called_globals: list[SubprogInfo] = []

    def initial_state(self) -> State:
        if self.entry is None:
            return super().initial_state()
        func = self.entry.func
        assert func is not None
        regs = [NOT_INIT] * 11
        for i, p in enumerate(func.type.params[:5]):
            regs[i + 1] = _arg_reg(self, func, i, p.type)
        regs[10] = Reg(RegType.PTR_TO_STACK, 0, 0, obj=0)
        return State([Frame(regs, {})])

    def run(self) -> VerifyStats:
        if self.entry is None:
            return super().run()
        self.check_cfg()
        self.log.add(f"Validating {self.entry.name}() func#{list(self.subprogs).index(self.entry.start)}...")
        stack: list[Any] = [(self.entry.start, self.initial_state(), None)]
        while stack:
            pc, st, cp = stack.pop()
            self._walk(pc, st, cp, stack)
        return self.stats

    def _step(self, pc: int, st: State, cp: Any, stack: Any) -> int | None:
        code, _dst, src, _off, imm = self.code[pc]
        if code == 0x18 and src == _PSEUDO_FUNC and all(s.func is None for s in self.subprogs.values()):
            raise Reject(errno.EINVAL, "missing btf func_info")  # check_ld_imm: at the insn
        if code == 0x85 and st.lock is not None:  # before callbacks and global calls (verifier/locks.py)
            check_call_locked(self, st, src, imm, _off)
        if code == 0x85 and src == 0 and not (self.env.bpf_capable and self.env.allow_ptr_leaks):  # capabilities
            check_helper_allowed(self, imm)
        if code == 0x85 and src == _PSEUDO_CALL:
            target = self.subprogs.get(pc + 1 + imm)
            if target is not None and target.is_global:
                check_global_call(st)
                self._call_global(st, target)
                return pc + 1
        if code == 0x85 and src == 0 and imm in CALLBACK_HELPERS:
            return self._call_with_callback(pc, st, imm, cp, stack)
        if code == 0x85 and src == 2 and self.env.kfunc is not None:  # a kfunc with a callback
            k = self.env.kfunc(imm, _off)
            if getattr(k, "name", "") == "bpf_rbtree_add_impl":
                from structops.verifier.graph import enter_rbtree_less

                return enter_rbtree_less(self, pc, st, cp, stack)
        if code == 0x95 and len(st.frames) > 1 and st.cur.callsite < 0:
            return self._callback_exit(st, cp)
        if code == 0x95 and len(st.frames) == 1 and st.cur.callsite == ASYNC_CALLSITE:
            return super()._step(pc, st, cp, stack)  # a timer callback's exit (verifier.timer)
        if code == 0x95 and len(st.frames) == 1 and self.entry is not None:
            r0 = st.cur.regs[0]
            ret = btflib.underlying(self.entry.func.type.return_type) if self.entry.func else None
            if not isinstance(ret, btflib.Void) and r0.type != RegType.SCALAR:
                raise Reject(
                    errno.EINVAL, f"At subprogram exit the register R0 is not a scalar value ({r0.type_str()})"
                )
            return None
        return super()._step(pc, st, cp, stack)

    def _call_with_callback(self, pc: int, st: State, hid: int, cp: Any, stack: Any) -> int:
        """``bpf_loop`` / ``bpf_for_each_map_elem``: check the arguments, queue the callback.

        As Linux 6.18 (``push_callback_call``) the callback is verified as a loop: a copy of
        the state enters it in a new frame (R1-R4 as the helper passes them) and is queued;
        this path goes on as if the callback were not called.  The callback's exit
        (:meth:`_callback_exit`) returns to this call instruction, which queues the next
        iteration with the state the previous one left, until a state at the call is
        covered by one still being explored (``is_state_visited``) or, for ``bpf_loop``,
        the iteration count reaches the precise upper bound of R1.
        """
        regs = st.cur.regs
        name = CALLBACK_HELPERS[hid]
        for r in range(1, 5):
            if regs[r].type == RegType.NOT_INIT:
                raise Reject(errno.EACCES, f"R{r} !read_ok")
        fn = regs[2]
        if fn.type != RegType.PTR_TO_FUNC:
            raise Reject(errno.EACCES, f"R2 type={fn.type_str()} expected=func")
        ctx = regs[3]
        if not (ctx.type == RegType.PTR_TO_STACK or (ctx.type == RegType.SCALAR and ctx.is_const and ctx.umin == 0)):
            raise Reject(errno.EACCES, f"R3 type={ctx.type_str()} expected=fp, scalar")
        if len(st.frames) >= MAX_CALL_FRAMES:
            raise Reject(errno.E2BIG, f"the call stack of {len(st.frames) + 1} frames is too deep")
        target = int(fn.obj)
        sub = self.subprogs.get(target)
        if sub is not None and sub.is_global:
            raise Reject(errno.EINVAL, f"{name}: callback {sub.name} must be static")
        frameno = len(st.frames)
        new = [NOT_INIT] * 11
        enter = True
        if hid == 181:  # bpf_loop: callback(u32 index, void *ctx)
            if regs[4].is_const and regs[4].umin == 0:  # loop_flag_is_zero (inlining)
                precision.mark(self, st, 4)
            if regs[1].type != RegType.SCALAR:
                raise Reject(errno.EACCES, f"R1 type={regs[1].type_str()} expected=scalar")
            precision.mark(self, st, 1)  # the iteration count decides when the loop ends
            if st.cur.callback_depth >= regs[1].umax:
                enter = False
                st.cur.callback_depth = 0
                self.log.add(f"frame{frameno - 1} bpf_loop iteration limit reached")
            new[1] = unknown(0, 0xFFFFFFFF)
            new[2] = ctx
        else:  # bpf_for_each_map_elem: callback(map, key, value, ctx)
            m = regs[1]
            if m.type != RegType.CONST_PTR_TO_MAP:
                raise Reject(errno.EACCES, f"R1 type={m.type_str()} expected=map_ptr")
            new[1] = m
            new[2] = Reg(RegType.PTR_TO_MEM, 0, 0)
            new[3] = Reg(RegType.PTR_TO_MAP_VALUE, 0, 0, obj=m.obj)
            new[4] = ctx
        if enter:
            new[10] = Reg(RegType.PTR_TO_STACK, 0, 0, obj=frameno)
            cb = st.copy()
            cb.cb_unroll += 1
            cb.cur.callback_depth += 1
            cb.frames.append(Frame(new, {}, callsite=-(pc + 2), frameno=frameno))
            stack.append((target, cb, cp))
            if cp is not None:
                cp.branches += 1
            st.cur.callback_depth = 0
        for r in range(1, 6):
            regs[r] = NOT_INIT
        regs[0] = unknown()
        return pc + 1

    def _frame_exit(self, st: State) -> int:
        if st.cur.callsite < 0:  # a callback frame
            return self._callback_exit(st, self.cur_cp)
        return super()._frame_exit(st)

    def _callback_exit(self, st: State, cp: Any = None) -> int:
        """A callback returns: R0 must be 0 or 1; the caller goes back to the helper call
        (``prepare_func_exit``), its registers as they were when the callback was queued."""
        r0 = st.cur.regs[0]
        if r0.type == RegType.SCALAR:  # the return range is relied on
            precision.mark(self, st, 0)
        callee = st.frames.pop()
        if r0.type != RegType.SCALAR:
            raise Reject(errno.EACCES, f"At callback return the register R0 is not a known value ({r0.type_str()})")
        if r0.umax > 1:
            raise Reject(errno.EACCES, "At callback return the register R0 should have been in [0, 1]")
        at = -callee.callsite - 2
        if at in self.cb_calls:  # a helper's callback: back to the call, the next iteration
            # widen_imprecise_scalars against the state of the previous visit of the call
            precision.flush(self, st)
            prev = _prev_visit(at, st, cp)
            if prev is not None:
                widen_scalars(prev, st)
            return at
        caller = st.cur.regs  # the rbtree_add less() callback (verifier.graph): after the call
        for r in range(1, 6):
            caller[r] = NOT_INIT
        caller[0] = unknown()
        return at + 1

    def _call_global(self, st: State, target: SubprogInfo) -> None:
        """``check_func_call`` of a global function: arguments against BTF, R0 unknown."""
        func = target.func
        assert func is not None
        regs = st.cur.regs
        for i, p in enumerate(func.type.params[:5]):
            reg = regs[i + 1]
            t = btflib.underlying(p.type)
            if reg.type == RegType.NOT_INIT:
                raise Reject(errno.EACCES, f"R{i + 1} !read_ok")
            if isinstance(t, btflib.Pointer):
                if reg.type == RegType.SCALAR and not (reg.is_const and reg.umin == 0):
                    raise Reject(errno.EINVAL, f"arg#{i} expected pointer to stack or const struct bpf_dynptr")
            elif reg.type != RegType.SCALAR:
                raise Reject(errno.EINVAL, f"R{i + 1} is not a scalar")
        self.log.add(f"Func#{list(self.subprogs).index(target.start)} ('{target.name}') is global and assumed valid.")
        if target not in self.called_globals:
            self.called_globals.append(target)
        for r in range(1, 6):
            regs[r] = NOT_INIT
        regs[0] = unknown()


def _prev_visit(pc: int, st: State, cp: Any) -> State | None:
    """``find_prev_entry`` at a callback's exit: the latest checkpoint at ``pc`` (the helper
    call) on this path, with the same call sites."""
    calls = [f.callsite for f in st.frames]
    while cp is not None:
        if cp.pc == pc and [f.callsite for f in cp.state.frames] == calls:
            return cp.state  # type: ignore[no-any-return]
        cp = cp.parent
    return None


def verify_with_func_info(
    insns: bytes, env: ProgEnv, log: LogSink, *, limit: int, func_info: bytes, btf: btflib.Spec | None
) -> tuple[VerifyStats, bytes]:
    """Verify the main program, then each global function it calls; return stats and sanitized code."""
    check_calls_allowed(insns, env)
    subprogs = check_func_info(insns, decode_func_info(func_info, FUNC_INFO_MIN), btf)
    main = FuncInfoVerifier(insns, env, log, limit=limit, subprogs=subprogs)
    stats = main.run()
    seen = main.reached
    done: set[int] = set()
    queue = list(main.called_globals)
    while queue:
        g = queue.pop(0)
        if g.start in done:
            continue
        done.add(g.start)
        sub = FuncInfoVerifier(insns, env, log, limit=limit, subprogs=subprogs, entry=g)
        sub_stats = sub.run()
        stats.insns_processed += sub_stats.insns_processed
        stats.total_states += sub_stats.total_states
        seen = _union(seen, sub.reached)
        queue.extend(sub.called_globals)
        for at, used in sub.stack_depth.items():
            main.stack_depth[at] = max(used, main.stack_depth.get(at, 0))
    roots = [0, *(g for g in done if g)]
    check_max_stack_depth(insns, main.owner, main.stack_depth, roots)
    return stats, sanitize_dead_code(insns, seen)
