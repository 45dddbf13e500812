"""Helpers and kfuncs: registry rules, map helpers through MapBackend, trace_printk, tail calls."""

from __future__ import annotations

import errno

import pytest

from structops.errors import VMFault
from structops.isa import BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, Insn, assemble
from structops.vm import (
    MAX_TAIL_CALL_CNT,
    VM,
    HelperRegistry,
    HelperSpec,
    KfuncSpec,
    MapBackend,
    Perm,
    Program,
    ProgramError,
    RunContext,
    UnknownFunction,
    base_helpers,
)

ENGINES = ["interp", "fast"]


class DictMap:
    """A hash map with 4-byte keys whose values live in one region of the address space."""

    def __init__(self, vm: VM, value_size: int, slots: int = 4) -> None:
        self.vm = vm
        self.value_size = value_size
        self.key_size = 4
        self.values = vm.space.map(value_size * slots, name="map-values", kind="map")
        self.obj = vm.space.map(64, name="struct bpf_map", perm=Perm.NONE, kind="map")
        self.index: dict[bytes, int] = {}
        vm.register_map(self.obj.base, self)

    def bpf_lookup(self, key: bytes) -> int:
        slot = self.index.get(key)
        return 0 if slot is None else self.values.base + slot * self.value_size

    def bpf_update(self, key: bytes, value: bytes, flags: int) -> int:
        slot = self.index.setdefault(key, len(self.index))
        if slot * self.value_size >= self.values.size:
            del self.index[key]
            return -errno.E2BIG
        self.vm.space.write(self.values.base + slot * self.value_size, value)
        return 0

    def bpf_delete(self, key: bytes) -> int:
        return 0 if self.index.pop(key, None) is not None else -errno.ENOENT


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_dictmap_satisfies_protocol() -> None:
    assert isinstance(DictMap(VM(), 8), MapBackend)


def test_map_helpers_via_resolved_fd(engine: str) -> None:
    vm = VM()
    m = DictMap(vm, 8)
    fds = {3: m.obj.base}

    def resolver(src: int, imm: int, imm_hi: int) -> int:
        assert src == BPF_PSEUDO_MAP_FD
        return fds[imm]

    text = """
    stw [%r10-4], 7
    stdw [%r10-16], 1234
    ld_pseudo %r1, 1, 3
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -16
    mov %r4, 0
    call 2
    ld_pseudo %r1, 1, 3
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, miss
    ldxdw %r6, [%r0]
    add %r6, 1
    stxdw [%r0], %r6
    mov %r0, %r6
    exit
    miss:
    mov %r0, -1
    exit
    """
    prog = Program.load(assemble(text), vm=vm, resolver=resolver)
    assert prog.run(engine=engine) == 1235  # type: ignore[arg-type]
    # the program wrote through the returned address into the map's own memory
    assert vm.space.read_u64(m.bpf_lookup((7).to_bytes(4, "little"))) == 1235


def test_map_delete_and_missing_key(engine: str) -> None:
    vm = VM()
    m = DictMap(vm, 8)
    text = f"""
    stw [%r10-4], 9
    ld_pseudo %r1, {BPF_PSEUDO_MAP_FD}, 0
    mov %r2, %r10
    add %r2, -4
    call 3
    exit
    """
    prog = Program.load(assemble(text), vm=vm, resolver=lambda src, imm, hi: m.obj.base)
    assert prog.run(engine=engine) == (-errno.ENOENT) & (2**64 - 1)  # type: ignore[arg-type]


def test_map_helper_on_non_map_faults(engine: str) -> None:
    prog = Program.load(assemble("mov %r1, 4096\nmov %r2, %r10\ncall 1\nexit"))
    with pytest.raises(VMFault, match="not a map") as info:
        prog.run(engine=engine)  # type: ignore[arg-type]
    assert info.value.pc == 2


def test_ld_imm64_map_value_resolution() -> None:
    vm = VM()
    value = vm.space.map(16, name="value", kind="map", data=(77).to_bytes(8, "little") * 2)

    def resolver(src: int, imm: int, imm_hi: int) -> int:
        assert (src, imm) == (BPF_PSEUDO_MAP_VALUE, 5)
        return value.base + imm_hi

    prog = Program.load(assemble("ld_pseudo %r1, 2, 5, 8\nldxdw %r0, [%r1]\nexit"), vm=vm, resolver=resolver)
    assert prog.ld64[0] == value.base + 8
    assert prog.run() == 77


def test_pseudo_without_resolver_is_a_load_error() -> None:
    with pytest.raises(ProgramError, match="needs a resolver"):
        Program.load(assemble("ld_pseudo %r1, 1, 3\nmov %r0, 0\nexit"))


def _printk_prog(vm: VM, fmt: bytes, *args: int) -> Program:
    """trace_printk(fmt, len, args...): fmt and args arrive as map-value references (as
    .rodata does), so a pointer argument is memory the program was given (issue 12 item 4)."""
    region = vm.space.map(len(fmt) + 1, name="fmt", perm=Perm.R, data=fmt + b"\0")
    values = [region.base, *(a & (2**64 - 1) for a in args)]
    text = f"ld_pseudo %r1, {BPF_PSEUDO_MAP_VALUE}, 0\nmov %r2, {len(fmt) + 1}\n"
    for i, reg in enumerate((3, 4, 5)[: len(args)]):
        text += f"ld_pseudo %r{reg}, {BPF_PSEUDO_MAP_VALUE}, {i + 1}\n"
    return Program.load(assemble(text + "call 6\nexit"), vm=vm, resolver=lambda src, imm, hi: values[imm])


@pytest.mark.parametrize(
    ("fmt", "args", "expected"),
    [
        (b"x=%d y=%u", (-5, 7), "x=-5 y=7"),
        (b"%x|%llx", (0x1_0000_00FF, 0x1_0000_00FF), "ff|1000000ff"),
        (b"%lld %llu", (-1, -1), f"-1 {2**64 - 1}"),
        (b"%c%c 100%%", (ord("o"), ord("k")), "ok 100%"),
        (b"%p", (0x1234,), "0x0000000000001234"),
    ],
)
def test_trace_printk_formats(engine: str, fmt: bytes, args: tuple[int, ...], expected: str) -> None:
    vm = VM()
    r0 = _printk_prog(vm, fmt, *args).run(engine=engine)  # type: ignore[arg-type]
    assert vm.trace_log == [expected]
    assert r0 == len(expected)


def test_trace_printk_string_and_bad_format(engine: str) -> None:
    vm = VM()
    s = vm.space.map(8, name="str", data=b"hi\0")
    _printk_prog(vm, b"<%s>", s.base).run(engine=engine)  # type: ignore[arg-type]
    assert vm.trace_log == ["<hi>"]
    r0 = _printk_prog(vm, b"%q", 1).run(engine=engine)  # type: ignore[arg-type]
    assert r0 == (-errno.EINVAL) & (2**64 - 1)
    assert vm.trace_log == ["<hi>"]


def test_clock_random_and_cpu_helpers(engine: str) -> None:
    vm = VM(clock_ns=lambda: 10_123_456_789, cpu=3, seed=1)
    text = "call {}\nexit"
    assert Program.load(assemble(text.format(5)), vm=vm).run(engine=engine) == 10_123_456_789  # type: ignore[arg-type]
    assert Program.load(assemble(text.format(125)), vm=vm).run(engine=engine) == 10_123_456_789  # type: ignore[arg-type]
    assert Program.load(assemble(text.format(160)), vm=vm).run(engine=engine) == 10_120_000_000  # type: ignore[arg-type]
    assert Program.load(assemble(text.format(8)), vm=vm).run(engine=engine) == 3  # type: ignore[arg-type]
    rnd = [Program.load(assemble(text.format(7)), vm=VM(seed=9)).run(engine=engine) for _ in range(2)]  # type: ignore[arg-type]
    assert rnd[0] == rnd[1] and 0 <= rnd[0] < 2**32


def test_helper_ids_match_kernel_uapi() -> None:
    names = {spec.id: spec.name for spec in base_helpers()}
    # enum bpf_func_id values of include/uapi/linux/bpf.h
    assert names == {
        1: "map_lookup_elem",
        2: "map_update_elem",
        3: "map_delete_elem",
        5: "ktime_get_ns",
        6: "trace_printk",
        7: "get_prandom_u32",
        8: "get_smp_processor_id",
        14: "get_current_pid_tgid",
        15: "get_current_uid_gid",
        12: "tail_call",
        125: "ktime_get_boot_ns",
        160: "ktime_get_coarse_ns",
    }


def test_registry_registration_rules_and_allow_lists() -> None:
    reg = HelperRegistry()

    def add(run: RunContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        return r1 + r2

    reg.register(HelperSpec(200, "add", add, prog_types=frozenset({27})))
    with pytest.raises(ValueError, match="already registered"):
        reg.register(HelperSpec(200, "other", add))
    vm = VM(helpers=reg)
    prog = Program.load(assemble("mov %r1, 2\nmov %r2, 3\ncall 200\nexit"), vm=vm, prog_type=27)
    assert prog.run() == 5
    with pytest.raises(ProgramError, match="may not call helper add#200"):
        Program.load(assemble("call 200\nexit"), vm=vm, prog_type=1)
    with pytest.raises(UnknownFunction):
        reg.resolve(5)


def test_kfunc_by_btf_id(engine: str) -> None:
    vm = VM()

    def triple(run: RunContext, r1: int, *_: int) -> int:
        return 3 * r1

    vm.kfuncs.register(KfuncSpec("bpf_triple", triple))
    vm.kfuncs.bind("bpf_triple", 4242)
    prog = Program.load(assemble("mov %r1, 14\ncall runtime 4242\nexit"), vm=vm)
    assert prog.run(engine=engine) == 42  # type: ignore[arg-type]


def test_callx_resolves_helper_at_run_time(engine: str) -> None:
    vm = VM(clock_ns=lambda: 99)
    assert Program.load(assemble("mov %r2, 5\ncall %r2\nexit"), vm=vm).run(engine=engine) == 99  # type: ignore[arg-type]
    with pytest.raises(VMFault, match="callx to unknown helper"):
        Program.load(assemble("mov %r2, 4\ncall %r2\nexit"), vm=vm).run(engine=engine)  # type: ignore[arg-type]


def test_tail_calls_chain_and_stop_at_limit(engine: str) -> None:
    vm = VM()
    progs: dict[int, Program] = {}
    vm.prog_array_lookup = lambda array, index: progs.get(index)
    # each program counts tail calls in ctx[0] and tail-calls slot 0 again
    loop = Program.load(
        assemble(
            "ldxdw %r2, [%r1]\nadd %r2, 1\nstxdw [%r1], %r2\nmov %r6, %r1\n"
            "mov %r2, 0\nmov %r3, 0\ncall 12\n"
            "ldxdw %r0, [%r6]\nexit"
        ),
        vm=vm,
    )
    progs[0] = loop
    ctx = vm.space.map(8, name="ctx")
    r0 = loop.run(ctx.base, engine=engine)  # type: ignore[arg-type]
    # the first run plus MAX_TAIL_CALL_CNT tail calls, then the call falls through
    assert r0 == MAX_TAIL_CALL_CNT + 1


def test_failed_tail_call_falls_through(engine: str) -> None:
    vm = VM()
    prog = Program.load(assemble("mov %r0, 3\nmov %r2, 0\nmov %r3, 1\ncall 12\nadd %r0, 1\nexit"), vm=vm)
    assert prog.run(engine=engine) == 4  # type: ignore[arg-type]


def test_function_pointer_and_callback() -> None:
    vm = VM()
    calls: list[int] = []

    def call_cb(run: RunContext, r1: int, r2: int, *_: int) -> int:
        for i in range(r2):
            calls.append(run.program.call_function(run, r1, (i,)))
        return len(calls)

    vm.helpers.register(HelperSpec(181, "loop", call_cb))
    text = "ld_pseudo %r1, 4, 4\nmov %r2, 3\ncall 181\nexit\ncb:\nmov %r0, %r1\nmul %r0, 10\nexit"
    insns = assemble(text)
    assert insns[0] == Insn(0x18, 1, 4, 0, 4)  # src 4 = BPF_PSEUDO_FUNC, imm = relative slot
    prog = Program.load(insns, vm=vm)
    assert prog.run() == 3
    assert calls == [0, 10, 20]


def test_tail_call_keeps_the_call_depth(engine: str) -> None:
    """A tail call from a subprogram runs at that depth (MAX_CALL_FRAMES still applies)."""
    vm = VM()
    deep = Program.load(assemble("call local f\nexit\nf:\nmov %r0, 5\nexit"), vm=vm)
    vm.prog_array_lookup = lambda array, index: deep
    assert deep.run(engine=engine) == 5  # type: ignore[arg-type]
    # main -> a .. f -> g at depth 8 tail-calls `deep`, whose own call needs a 9th frame
    text = "call local a\nexit\n" + "".join(
        f"{n}:\ncall local {m}\nexit\n" for n, m in zip("abcdef", "bcdefg", strict=True)
    )
    text += "g:\nmov %r2, 0\nmov %r3, 0\ncall 12\nexit"
    with pytest.raises(VMFault, match="deeper than 8"):
        Program.load(assemble(text), vm=vm).run(engine=engine)  # type: ignore[arg-type]
