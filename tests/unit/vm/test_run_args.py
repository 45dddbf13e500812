"""Program.run_args: the struct_ops calling convention without per-call allocations (issue 17).

The same results, grants and faults as ``run_with_args`` on the interpreter; the run
context of a finished run is reused, and a nested run of the same program gets its own.
"""

from __future__ import annotations

import pytest

from structops.errors import VMFault
from structops.isa import assemble
from structops.vm import VM, KfuncSpec, Program, RunContext
from structops.vm.testrun import run_with_args

# r0 = ctx[0] + ctx[1]; r1..: kfunc 4242 (ctx[0] - 1) when ctx[0] > 0, added to r0
_SUM = """
ldxdw %r6, [%r1]
ldxdw %r7, [%r1+8]
mov %r0, %r6
add %r0, %r7
jeq %r6, 0, +5
mov %r8, %r0
mov %r1, %r6
sub %r1, 1
call runtime 4242
add %r0, %r8
exit
"""


def _nested_vm() -> tuple[VM, list[Program], list[RunContext]]:
    vm = VM()
    progs: list[Program] = []
    seen: list[RunContext] = []

    def again(run: RunContext, r1: int, *_: int) -> int:
        seen.append(run)
        return progs[0].run_args([r1, 0])  # a nested run of the same program

    vm.kfuncs.register(KfuncSpec("bpf_again", again))
    vm.kfuncs.bind("bpf_again", 4242)
    progs.append(Program.load(assemble(_SUM), vm=vm))
    return vm, progs, seen


def test_run_args_matches_the_interpreter_and_nests() -> None:
    """3 + 4, then the nested runs for 2, 1 and 0 (each its own context) add 2 + 1 + 0."""
    vm, (prog,), seen = _nested_vm()
    assert prog.run_args([3, 4]) == 10
    assert run_with_args(prog, [3, 4], engine="interp") == 10
    assert len({id(r) for r in seen[:3]}) == 3  # outer and nested runs had distinct contexts
    assert vm.active is None


def test_run_args_reuses_the_finished_run_and_resets_it() -> None:
    vm, (prog,), _ = _nested_vm()
    prog.run_args([0, 1])
    (run,) = prog._idle[2]
    assert prog.run_args([0, 2]) == 2
    assert prog._idle[2] == [run] and run.left > vm.insn_limit - 20 and run.tail_calls == 0
    assert prog.run_args([0, 2, 9]) == 2  # three arguments: a context of their own
    assert prog._idle[2] == [run] and len(prog._idle[3]) == 1


def test_run_args_fault_has_its_pc_and_leaves_the_program_usable() -> None:
    """A fault (r1 points nowhere: a u64 argument is not an address) keeps its BPF pc;
    the next run starts from a clean context."""
    vm = VM()
    prog = Program.load(assemble("ldxdw %r2, [%r1]\nldxdw %r0, [%r2]\nexit"), vm=vm)
    with pytest.raises(VMFault) as info:
        prog.run_args([0xDEAD0000])
    assert info.value.pc == 1
    assert vm.active is None
    region = vm.space.map(8, name="obj", data=(7).to_bytes(8, "little"))
    assert prog.run_args([region.base]) == 7  # the argument's region is granted


def test_run_args_takes_negative_arguments_as_u64() -> None:
    prog = Program.load(assemble("ldxdw %r0, [%r1]\nexit"), vm=VM())
    assert prog.run_args([-1]) == 0xFFFF_FFFF_FFFF_FFFF
    assert run_with_args(prog, [-1], engine="interp") == 0xFFFF_FFFF_FFFF_FFFF
