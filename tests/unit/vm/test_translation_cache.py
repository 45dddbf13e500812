"""Translation once per program content: the fast path's compiled code is cached (issue 17 item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from structops.api import Collection
from structops.errors import VMFault
from structops.isa import BPF_PSEUDO_MAP_VALUE, assemble
from structops.kernel.emulated import EmulatedKernel
from structops.vm import VM, MemoryFault, Program, jit, run_with_args

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"

VALUE_PROG = "ld_pseudo %r1, 2, 5, 0\nldxdw %r0, [%r1]\nexit"


def _value_prog(vm: VM, number: int) -> Program:
    value = vm.space.map(8, name="value", kind="map", data=number.to_bytes(8, "little"))

    def resolver(src: int, imm: int, imm_hi: int) -> int:
        assert (src, imm) == (BPF_PSEUDO_MAP_VALUE, 5)
        return value.base + imm_hi

    return Program.load(assemble(VALUE_PROG), vm=vm, resolver=resolver, name="value_prog")


def _vm_program(kernel: EmulatedKernel, prog_id: int) -> Program:
    prog = next(p for p in kernel.ids["prog"] if p.id == prog_id)
    vmprog = getattr(prog, "vm_program", None)
    assert isinstance(vmprog, Program)
    return vmprog


def test_second_load_of_same_object_reuses_translation() -> None:
    """Re-loading an object on a fresh kernel compiles nothing; each load has its own bindings."""
    jit.clear_cache()
    k1 = EmulatedKernel()
    with Collection.open(TESTDATA / "reno.bpf.o").load(k1) as c1:
        first = jit.cache_stats()
        assert first["misses"] >= len(c1.programs) > 0 and first["hits"] == 0
        progs1 = dict(c1.programs)
        k2 = EmulatedKernel()
        with Collection.open(TESTDATA / "reno.bpf.o").load(k2) as c2:
            second = jit.cache_stats()
            assert second["misses"] == first["misses"]
            assert second["hits"] == first["misses"]
            for name, p2 in c2.programs.items():
                vm1 = _vm_program(k1, progs1[name].id)
                vm2 = _vm_program(k2, p2.id)
                f1, f2 = vm1._fast[0], vm2._fast[0]
                assert f1.__code__ is f2.__code__  # one compilation
                assert f1 is not f2
                # each function runs in its own kernel's address space
                assert f1.__globals__["SPACE"] is vm1.vm.space
                assert f2.__globals__["SPACE"] is vm2.vm.space
                assert vm1.vm.space is not vm2.vm.space


def test_different_bindings_do_not_collide() -> None:
    """Same instructions, different resolved map values: two translations, each reads its own."""
    jit.clear_cache()
    vm = VM()
    a = _value_prog(vm, 111)
    b = _value_prog(vm, 222)
    assert a.ld64[0] != b.ld64[0]
    assert jit.cache_stats()["misses"] == 2 and jit.cache_stats()["hits"] == 0
    assert a._fast[0].__code__ is not b._fast[0].__code__
    assert (a.run(), b.run()) == (111, 222)
    # the same binding again (a fresh VM allocates the same addresses) is a hit
    c = _value_prog(VM(), 111)
    assert c.ld64[0] == a.ld64[0]
    assert jit.cache_stats()["hits"] == 1
    assert c.run() == 111


def test_program_names_do_not_share_code() -> None:
    """The program name is part of the key: tracebacks name the right program."""
    jit.clear_cache()
    text = assemble("mov %r0, 7\nexit")
    p = Program.load(text, name="one")
    q = Program.load(text, name="two")
    assert p._filename != q._filename and "one" in p._filename and "two" in q._filename
    assert jit.cache_stats()["misses"] == 2


def test_fault_pc_from_cached_code_after_first_program_dropped() -> None:
    """A fault in reused code still reports the BPF pc, even once the first loader is gone."""
    jit.clear_cache()
    text = assemble("mov %r0, 1\nmov %r1, 4096\nldxdw %r0, [%r1]\nexit")
    first = Program.load(text, name="faulty")
    with pytest.raises(VMFault) as one:
        first.run()
    del first
    second = Program.load(text, name="faulty")
    assert jit.cache_stats()["hits"] == 1
    with pytest.raises(VMFault) as two:
        second.run()
    assert one.value.pc == two.value.pc == 2


def test_cache_is_bounded() -> None:
    jit.clear_cache()
    old = jit.CACHE_SIZE
    jit.CACHE_SIZE = 3
    try:
        for i in range(6):
            Program.load(assemble(f"mov %r0, {i}\nexit"), name="bounded")
        assert jit.cache_stats()["size"] == 3
    finally:
        jit.CACHE_SIZE = old


def test_argument_arrays_are_reused_and_stay_contained() -> None:
    """Issue 17 item 2: one args region per program and arg count, reused; unmapped on close.

    A pointer to it stashed by one run is useless to another program (never granted).
    """
    vm = VM()
    sock = vm.space.map(64, name="sock", data=(0x0A).to_bytes(8, "little"))
    reader = Program.load(assemble("ldxdw %r1, [%r1]\nldxdw %r0, [%r1]\nexit"), vm=vm, name="reader")
    ctxptr = Program.load(assemble("mov %r0, %r1\nexit"), vm=vm, name="ctxptr")
    assert run_with_args(reader, [sock.base, 1]) == 0x0A
    args = [r for r in vm.space.regions() if r.name == "args:reader"]
    assert len(args) == 1
    assert run_with_args(reader, [sock.base, 2]) == 0x0A
    assert [r for r in vm.space.regions() if r.name == "args:reader"] == args  # the same region again
    stashed = run_with_args(ctxptr, [7])
    # another program holding the stashed ctx address as a plain number cannot read it
    peek = Program.load(assemble(f"lddw %r2, {stashed:#x}\nldxdw %r0, [%r2]\nexit"), vm=vm, name="peek")
    with pytest.raises(MemoryFault):
        run_with_args(peek, [1])
    # the arguments are written fresh each run (stale values never leak into a run)
    assert run_with_args(Program.load(assemble("ldxdw %r0, [%r1+8]\nexit"), vm=vm), [1, 99]) == 99
    reader.close()
    ctxptr.close()
    assert vm.space.region_at(stashed) is None
    assert not args[0].alive
