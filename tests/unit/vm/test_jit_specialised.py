"""Specialised translation (issue 17): what the translator proves from the bytecode alone.

* A function that never names ``r10`` runs without a stack frame; one that only loads
  and stores at constant in-frame ``r10`` offsets runs on a private zeroed buffer (no
  address reaches it); any other use of ``r10`` gets a mapped, granted frame as before.
* Loads through the main function's entry ``r1`` read the run's argument tuple when
  ``r1`` is the ``run_args`` argument array, and go through the checked accessors
  otherwise (``r1`` rewritten on some path, another context, beyond the arguments).
* Kfuncs registered with a ``direct`` form are called without the run.

Every case is compared with the reference interpreter, which has none of this.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from structops.errors import VMFault
from structops.isa import assemble
from structops.vm import VM, KfuncSpec, MemoryFault, Perm, Program
from structops.vm.testrun import run_with_args

U64 = st.integers(min_value=0, max_value=(1 << 64) - 1)


def _both(prog: Program, args: list[int]) -> int:
    fast = prog.run_args(args)
    assert run_with_args(prog, args, engine="interp") == fast
    return fast


# ------------------------------------------------------------------ frames
def test_a_function_without_r10_takes_no_frame() -> None:
    vm = VM()
    prog = Program.load(assemble("mov %r0, 5\nexit"), vm=vm)
    assert prog.run() == 5
    assert vm.space._frame_count == 0 and "ACQ()" not in prog.jit_source


def test_a_private_frame_is_zeroed_for_every_run() -> None:
    """Constant in-frame accesses only: no frame region; a slot written by one run reads
    0 in the next (as the interpreter's pooled, zeroed frames)."""
    vm = VM()
    text = """
    ldxdw %r0, [%r10-16]
    jne %r1, 1, +1
    stdw [%r10-16], 77
    ldxw %r2, [%r10-4]
    add %r0, %r2
    exit
    """
    prog = Program.load(assemble(text), vm=vm)
    assert "ACQ()" not in prog.jit_source and "BA(16)" in prog.jit_source
    for r1 in (1, 0, 1, 0):
        assert prog.run(r1) == 0
        assert prog.run(r1, engine="interp") == 0
    assert prog.run_args([1]) == 0  # r1 is the argument array here, not 1
    assert vm.space._frame_count == 1  # the interpreter's frame only


@pytest.mark.parametrize(
    "use",
    ["mov %r2, %r10", "stxdw [%r10-8], %r10", "ldxdw %r2, [%r10+0]", "jeq %r10, 0, +0", "lock add [%r10-8], %r1"],
)
def test_any_other_use_of_r10_maps_a_frame(use: str) -> None:
    vm = VM()
    prog = Program.load(assemble(f"stdw [%r10-8], 1\n{use}\nmov %r0, 0\nexit"), vm=vm)
    assert "ACQ()" in prog.jit_source
    if use.startswith("ldxdw"):  # r10 + 0 is past the frame: a fault on both engines
        for engine in ("fast", "interp"):
            with pytest.raises(MemoryFault):
                prog.run(1, engine=engine)  # type: ignore[arg-type]
    else:
        assert prog.run(1) == prog.run(1, engine="interp") == 0


def test_a_subprogram_frame_is_its_own() -> None:
    text = """
    stdw [%r10-8], 40
    call local sub
    ldxdw %r1, [%r10-8]
    add %r0, %r1
    exit
    sub:
    ldxdw %r0, [%r10-8]
    add %r0, 2
    exit
    """
    prog = Program.load(assemble(text), vm=VM())
    assert prog.run() == prog.run(engine="interp") == 42


# ------------------------------------------------------------------ argument loads
_ARG_LOADS = """
ldxdw %r6, [%r1+8]
ldxw %r7, [%r1+4]
ldxh %r8, [%r1+18]
ldxb %r9, [%r1+23]
ldxsw %r2, [%r1+16]
xor %r6, %r7
xor %r6, %r8
xor %r6, %r9
xor %r6, %r2
mov %r0, %r6
exit
"""


@settings(max_examples=60, deadline=None)
@given(a=U64, b=U64, c=U64)
def test_argument_loads_read_the_packed_bytes(a: int, b: int, c: int) -> None:
    prog = Program.load(assemble(_ARG_LOADS), vm=VM())
    assert "CA[" in prog.jit_source
    raw = struct.pack("<3Q", a, b, c)
    w = struct.unpack_from("<I", raw, 4)[0]
    h = struct.unpack_from("<H", raw, 18)[0]
    s = struct.unpack_from("<i", raw, 16)[0] & (1 << 64) - 1
    assert _both(prog, [a, b, c]) == b ^ w ^ h ^ raw[23] ^ s


def test_argument_loads_beyond_the_arguments_fault_as_before() -> None:
    prog = Program.load(assemble(_ARG_LOADS), vm=VM())
    for engine in ("fast", "interp"):
        with pytest.raises(MemoryFault, match="invalid read of 2 bytes") as info:
            run_with_args(prog, [1, 2], engine=engine)  # type: ignore[arg-type]
        assert info.value.pc == 2


def test_loads_through_a_rewritten_r1_are_checked() -> None:
    """On the loop's second pass r1 is the object the first argument points to."""
    vm = VM()
    obj = vm.space.map(16, name="obj", data=struct.pack("<QQ", 0, 1000))
    text = """
    mov %r0, 0
    loop:
    ldxdw %r2, [%r1+8]
    add %r0, %r2
    jgt %r0, 999, out
    ldxdw %r1, [%r1]
    ja loop
    out:
    exit
    """
    prog = Program.load(assemble(text), vm=vm)
    assert "CA[" not in prog.jit_source  # the loop head is reached with another r1
    assert _both(prog, [obj.base, 5]) == 1005
    assert prog.run_args([obj.base + 0, 2000]) == 2000


def test_argument_loads_through_another_context_are_checked() -> None:
    """Run on a writable ctx region (not run_args): the same loads read that region."""
    vm = VM()
    prog = Program.load(assemble("stdw [%r1+8], 9\nldxdw %r0, [%r1+8]\nexit"), vm=vm)
    ctx = vm.space.map(16, name="ctx")
    assert prog.run(ctx.base) == 9
    with pytest.raises(MemoryFault, match="not writable"):
        prog.run_args([1, 2])  # the argument array is read-only


# ------------------------------------------------------------------ kfuncs
def test_a_direct_kfunc_is_called_without_the_run() -> None:
    vm = VM()
    calls: list[tuple[int, ...]] = []

    def with_run(run: object, *regs: int) -> int:
        raise AssertionError("the translated code calls the direct form")

    def direct(*regs: int) -> int:
        calls.append(regs)
        return -1  # truncated to u64

    vm.kfuncs.register(KfuncSpec("k", with_run, direct=direct))
    vm.kfuncs.bind("k", 77)
    prog = Program.load(assemble("mov %r1, 3\nmov %r5, 4\ncall runtime 77\nexit"), vm=vm)
    assert prog.run(0) == (1 << 64) - 1
    assert calls == [(3, 0, 0, 0, 4)]


def test_a_fault_in_a_frameless_function_has_its_pc() -> None:
    prog = Program.load(assemble("mov %r0, 1\nldxdw %r0, [%r0+0]\nexit"), vm=VM())
    with pytest.raises(VMFault, match="NULL") as info:
        prog.run()
    assert info.value.pc == 1


# ------------------------------------------------------------------ constant map addresses
_COUNTER = """
ld_pseudo %r1, 2, 0
ldxdw %r0, [%r1+8]
add %r0, 1
stxdw [%r1+8], %r0
exit
"""


def test_constant_map_value_accesses_index_the_region_while_it_stays_as_it_was() -> None:
    """Loads and stores through an ``ld_imm64`` map-value address go to the region's bytes
    directly; once the region is re-protected or unmapped, the checked accessors fault."""
    vm = VM()
    value = vm.space.map(16, name="counter", kind="map")
    prog = Program.load(assemble(_COUNTER), vm=vm, resolver=lambda src, imm, hi: value.base)
    assert "MB0" in prog.jit_source
    assert [prog.run(), prog.run(), prog.run(engine="interp")] == [1, 2, 3]
    assert struct.unpack_from("<Q", value.buf, 8)[0] == 3
    vm.space.protect(value, Perm.R)
    for engine in ("fast", "interp"):
        with pytest.raises(MemoryFault, match="not writable") as info:
            prog.run(engine=engine)  # type: ignore[arg-type]
        assert info.value.pc == 4
    vm.space.unmap(value)
    with pytest.raises(MemoryFault, match="not mapped") as info:
        prog.run()
    assert info.value.pc == 2


@pytest.mark.parametrize("off", [16, -8, 12])
def test_constant_map_value_accesses_out_of_the_value_fault(off: int) -> None:
    vm = VM()
    value = vm.space.map(16, name="counter", kind="map")
    prog = Program.load(
        assemble(f"ld_pseudo %r1, 2, 0\nldxdw %r0, [%r1{off:+d}]\nexit"),
        vm=vm,
        resolver=lambda src, imm, hi: value.base,
    )
    assert "MB0" not in prog.jit_source
    for engine in ("fast", "interp"):
        with pytest.raises(MemoryFault) as info:
            prog.run(engine=engine)  # type: ignore[arg-type]
        assert info.value.pc == 2


def test_a_register_written_on_a_skipped_path_is_not_a_constant() -> None:
    vm = VM()
    value = vm.space.map(16, name="v", kind="map", data=struct.pack("<QQ", 5, 6))
    text = """
    ld_pseudo %r2, 2, 0
    jeq %r1, 0, +1
    mov %r2, %r1
    ldxdw %r0, [%r2+8]
    exit
    """
    prog = Program.load(assemble(text), vm=vm, resolver=lambda src, imm, hi: value.base)
    other = vm.space.map(16, name="arg", data=struct.pack("<QQ", 7, 8))
    assert prog.run(0) == 6
    assert prog.run(other.base) == prog.run(other.base, engine="interp") == 8


# ------------------------------------------------------------------ argument array bytes
@pytest.mark.parametrize(
    ("text", "private"),
    [
        ("ldxdw %r0, [%r1+8]\nldxdw %r1, [%r1]\nadd %r0, %r1\nexit", True),
        ("ldxdw %r0, [%r1+8]\nmov %r6, %r1\nldxdw %r1, [%r6]\nadd %r0, %r1\nexit", False),  # a copy
        ("ldxdw %r0, [%r1+8]\njne %r0, 0, +1\nmov %r1, 0\nldxdw %r1, [%r1]\nadd %r0, %r1\nexit", False),
        ("ldxdw %r6, [%r1+8]\ncall runtime 77\nldxdw %r1, [%r1]\nmov %r0, %r6\nadd %r0, %r1\nexit", False),  # passed on
    ],
)
def test_the_argument_array_is_filled_when_anything_may_see_it(text: str, private: bool) -> None:
    """A main function that only loads from its entry r1 leaves the array unfilled (its
    loads read the argument tuple); any other use of that r1 -- a copy, a load on a path
    where r1 may or may not be the array, a call -- fills it."""
    vm = VM()
    vm.kfuncs.register(KfuncSpec("k", lambda run, *regs: 0, direct=lambda *regs: 0))
    vm.kfuncs.bind("k", 77)
    prog = Program.load(assemble(text), vm=vm)
    assert prog.args_private is private
    assert _both(prog, [5, 6]) == 11
    (run,) = prog._idle[2]
    assert bytes(run.buf) == (bytes(16) if private else struct.pack("<QQ", 5, 6))
