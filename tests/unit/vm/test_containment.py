"""Containment: a running program reaches only the memory it was given (issue 12 item 4).

Every program here is UNVERIFIED bytecode run straight on the VM (or loaded as a program
type the embedded verifier does not check): the VM alone must stop it.  A run is given
its stack frames, the regions its arguments point into, the maps its ``ld_imm64``
references resolve into and what helpers/kfuncs return; constant addresses of anything
else — another map's value, another program's stack, a kernel object nobody handed it —
fault with a :class:`~structops.errors.VMFault`, and so does every out-of-bounds access
through each pointer kind.  Nothing outside is read or written, and Python never crashes.
"""

from __future__ import annotations

import contextlib
import errno
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from structops.errors import BpfError, VMFault
from structops.isa import BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, Insn, assemble, encode
from structops.vm import VM, KfuncSpec, MemoryFault, Perm, Program, RunContext
from structops.vm.testrun import run_with_args, run_with_ctx

ENGINES = ["interp", "fast"]
SECRET = b"top-secret-value"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class ArrayLike:
    """A one-region map (values + an object region), registered with the VM."""

    def __init__(self, vm: VM, name: str, value: bytes = b"") -> None:
        self.vm = vm
        self.key_size = 4
        self.value_size = 16
        self.values = vm.space.map(16, name=f"{name}-values", kind="map", data=value)
        self.obj = vm.space.map(64, name=f"bpf_map:{name}", perm=Perm.R, kind="map")
        vm.register_map(self.obj.base, self)

    def bpf_lookup(self, key: bytes) -> int:
        return self.values.base if key == bytes(4) else 0

    def bpf_update(self, key: bytes, value: bytes, flags: int) -> int:
        self.values.buf[:16] = value
        return 0

    def bpf_delete(self, key: bytes) -> int:
        return -errno.EINVAL


def _load(vm: VM, text: str, refs: list[int] | None = None) -> Program:
    """Load assembly whose ``ld_pseudo`` imm N resolves to ``refs[N]``."""
    table = refs or []
    return Program.load(assemble(text), vm=vm, resolver=lambda src, imm, hi: table[imm])


def _run(prog: Program, engine: str, *args: int) -> int:
    return prog.run(*args, engine=engine)  # type: ignore[arg-type]


# ------------------------------------------------------------ constant addresses
def test_constant_address_read_of_another_maps_value_faults(engine: str) -> None:
    vm = VM()
    other = ArrayLike(vm, "other", SECRET)
    prog = _load(vm, f"lddw %r1, {other.values.base:#x}\nldxdw %r0, [%r1]\nexit")
    with pytest.raises(MemoryFault, match="not given to this program") as info:
        _run(prog, engine)
    assert info.value.pc == 2 and info.value.addr == other.values.base


def test_constant_address_write_to_another_maps_value_faults_and_changes_nothing(engine: str) -> None:
    vm = VM()
    mine = ArrayLike(vm, "mine")
    other = ArrayLike(vm, "other", SECRET)
    text = f"""
    ld_pseudo %r1, {BPF_PSEUDO_MAP_VALUE}, 0
    stdw [%r1], 7
    lddw %r2, {other.values.base:#x}
    stdw [%r2+8], 666
    exit
    """
    prog = _load(vm, text, [mine.values.base])
    with pytest.raises(MemoryFault, match="write of 8 bytes: region 'other-values' was not given") as info:
        _run(prog, engine)
    assert info.value.pc == 5  # ld_imm64 takes two slots
    assert bytes(other.values.buf) == SECRET
    assert struct.unpack_from("<Q", mine.values.buf)[0] == 7  # its own map was writable


@pytest.mark.parametrize("op", ["lock add [%r1], %r2", "lock fetch xor [%r1+8], %r2", "lock xchg32 [%r1], %r2"])
def test_atomics_on_foreign_memory_fault(engine: str, op: str) -> None:
    vm = VM()
    other = ArrayLike(vm, "other", SECRET)
    prog = _load(vm, f"lddw %r1, {other.values.base:#x}\nmov %r2, 1\n{op}\nexit")
    with pytest.raises(MemoryFault, match="not given"):
        _run(prog, engine)
    assert bytes(other.values.buf) == SECRET


def test_map_helper_with_a_fabricated_map_pointer_faults(engine: str) -> None:
    """A map object address the program does not reference is no map for it."""
    vm = VM()
    other = ArrayLike(vm, "other", SECRET)
    text = f"""
    stw [%r10-4], 0
    lddw %r1, {other.obj.base:#x}
    mov %r2, %r10
    add %r2, -4
    call 1
    ldxdw %r0, [%r0]
    exit
    """
    with pytest.raises(VMFault, match="not a map") as info:
        _run(_load(vm, text), engine)
    assert info.value.pc == 5


def test_referenced_map_gives_its_values_through_lookup(engine: str) -> None:
    vm = VM()
    m = ArrayLike(vm, "m", SECRET)
    text = f"""
    stw [%r10-4], 0
    ld_pseudo %r1, {BPF_PSEUDO_MAP_FD}, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, out
    ldxdw %r0, [%r0]
    out:
    exit
    """
    assert _run(_load(vm, text, [m.obj.base]), engine) == struct.unpack_from("<Q", SECRET)[0]


@pytest.mark.parametrize("which", ["key", "value"])
def test_helper_reading_foreign_memory_for_the_program_faults(engine: str, which: str) -> None:
    """map_update_elem(map, key, value): both pointers must be the program's memory."""
    vm = VM()
    m = ArrayLike(vm, "m")
    other = ArrayLike(vm, "other", SECRET)
    key = f"lddw %r2, {other.values.base:#x}" if which == "key" else "mov %r2, %r10\nadd %r2, -4"
    value = f"lddw %r3, {other.values.base:#x}" if which == "value" else "mov %r3, %r10\nadd %r3, -24"
    text = f"""
    stw [%r10-4], 0
    ld_pseudo %r1, {BPF_PSEUDO_MAP_FD}, 0
    {key}
    {value}
    mov %r4, 0
    call 2
    exit
    """
    with pytest.raises(MemoryFault, match="not given"):
        _run(_load(vm, text, [m.obj.base]), engine)
    assert bytes(m.values.buf) == bytes(16)


def test_trace_printk_cannot_print_foreign_strings(engine: str) -> None:
    vm = VM()
    fmt = vm.space.map(8, name="fmt", perm=Perm.R, data=b"<%s>\0")
    other = ArrayLike(vm, "other", SECRET)
    text = f"""
    ld_pseudo %r1, {BPF_PSEUDO_MAP_VALUE}, 0
    mov %r2, 5
    lddw %r3, {other.values.base:#x}
    call 6
    exit
    """
    _run(_load(vm, text, [fmt.base]), engine)
    assert vm.trace_log == ["<(efault)>"]  # the helper's read for the program faulted


# ------------------------------------------------------------ stacks
def test_another_programs_stack_is_not_reachable(engine: str) -> None:
    """Program A leaks its frame pointer through a shared map; B cannot use it."""
    vm = VM()
    shared = ArrayLike(vm, "shared")
    a = _load(
        vm,
        f"""
        stdw [%r10-8], 0x5EC
        ld_pseudo %r1, {BPF_PSEUDO_MAP_VALUE}, 0
        stxdw [%r1], %r10
        mov %r0, 0
        exit
        """,
        [shared.values.base],
    )
    b = _load(
        vm,
        f"""
        ld_pseudo %r1, {BPF_PSEUDO_MAP_VALUE}, 0
        ldxdw %r2, [%r1]
        ldxdw %r0, [%r2-8]
        mov %r3, %r10
        exit
        """,
        [shared.values.base],
    )  # B uses its frame pointer as a value, so it runs on a mapped frame from the pool
    _run(a, engine)
    leaked = struct.unpack_from("<Q", shared.values.buf)[0]
    # Frames are pooled: B's own frame may be A's old one, zeroed, so nothing leaks ...
    assert _run(b, engine) == 0
    _run(a, engine)
    # ... and while that frame belongs to another run (held here), B cannot reach it.
    held = vm.space.acquire_frame()
    assert held.base + 512 == leaked and bytes(held.buf[-8:]) == bytes(8)
    held.buf[-8:] = struct.pack("<Q", 0x5EC)
    with pytest.raises(MemoryFault, match=r"stack#.*not given") as info:
        _run(b, engine)
    assert info.value.pc == 3
    vm.space.release_frame(held)


def test_a_returned_subprogram_frame_is_revoked(engine: str) -> None:
    """A callee's frame pointer escaping in r0 is dead once the callee returned."""
    vm = VM()
    text = """
    call local sub
    ldxdw %r0, [%r0-8]
    exit
    sub:
    stdw [%r10-8], 1
    mov %r0, %r10
    exit
    """
    with pytest.raises(MemoryFault, match="not given") as info:
        _run(_load(vm, text), engine)
    assert info.value.pc == 1


def test_callers_frame_passed_down_stays_usable(engine: str) -> None:
    vm = VM()
    text = """
    stdw [%r10-8], 41
    mov %r1, %r10
    add %r1, -8
    call local sub
    ldxdw %r0, [%r10-8]
    exit
    sub:
    ldxdw %r2, [%r1]
    add %r2, 1
    stxdw [%r1], %r2
    exit
    """
    assert _run(_load(vm, text), engine) == 42


# ------------------------------------------------------------ out of bounds, every pointer kind
@pytest.mark.parametrize(
    ("setup", "access"),
    [
        ("mov %r1, %r10", "ldxdw %r0, [%r1+0]"),  # stack: past the frame top
        ("mov %r1, %r10\nadd %r1, -520", "ldxdw %r0, [%r1]"),  # stack: below the frame
        ("mov %r1, %r10\nadd %r1, -4", "stxdw [%r1], %r1"),  # stack: crossing the top
        ("mov %r1, %r10", "stdw [%r1-4096], 1"),  # stack: a page below
    ],
)
def test_stack_out_of_bounds_faults(engine: str, setup: str, access: str) -> None:
    with pytest.raises(MemoryFault):
        _run(_load(VM(), f"{setup}\n{access}\nexit"), engine)


@pytest.mark.parametrize("off", [16, 12, -8, 4096])
def test_ctx_args_out_of_bounds_faults(engine: str, off: int) -> None:
    vm = VM()
    prog = _load(vm, f"ldxdw %r0, [%r1{off:+d}]\nexit")
    with pytest.raises(MemoryFault):
        run_with_args(prog, [1, 2], engine=engine)  # type: ignore[arg-type]
    assert run_with_args(_load(vm, "ldxdw %r0, [%r1+8]\nexit"), [1, 2], engine=engine) == 2  # type: ignore[arg-type]


def test_ctx_buffer_out_of_bounds_faults(engine: str) -> None:
    vm = VM()
    prog = _load(vm, "ldxw %r0, [%r1+4]\nstw [%r1+8], 1\nexit")
    with pytest.raises(MemoryFault, match="crosses the end of region 'ctx'"):
        run_with_ctx(prog, bytes(10), engine=engine)  # type: ignore[arg-type]


@pytest.mark.parametrize("off", [16, 9, -1, -4096])
def test_map_value_out_of_bounds_faults(engine: str, off: int) -> None:
    vm = VM()
    m = ArrayLike(vm, "m")
    text = f"ld_pseudo %r1, {BPF_PSEUDO_MAP_VALUE}, 0\nldxdw %r0, [%r1{off:+d}]\nexit"
    with pytest.raises(MemoryFault):
        _run(_load(vm, text, [m.values.base]), engine)


def test_helper_returned_pointer_out_of_bounds_faults(engine: str) -> None:
    vm = VM()
    m = ArrayLike(vm, "m", SECRET)
    text = f"""
    stw [%r10-4], 0
    ld_pseudo %r1, {BPF_PSEUDO_MAP_FD}, 0
    mov %r2, %r10
    add %r2, -4
    call 1
    ldxdw %r6, [%r0+8]
    ldxdw %r0, [%r0+16]
    exit
    """
    with pytest.raises(MemoryFault, match=r"crosses|not mapped") as info:
        _run(_load(vm, text, [m.obj.base]), engine)
    assert info.value.pc == 7


def test_trusted_object_handed_in_args_is_reachable_others_are_not(engine: str) -> None:
    """Like a trampoline's tcp_sock: the object a ctx slot points to is given, a sibling is not."""
    vm = VM()
    sock = vm.space.map(64, name="tcp_sock:1", data=b"\x0a" + bytes(63))
    other = vm.space.map(64, name="tcp_sock:2", data=b"\x0b" + bytes(63))
    read_own = _load(vm, "ldxdw %r1, [%r1]\nldxb %r0, [%r1]\nexit")
    assert run_with_args(read_own, [sock.base], engine=engine) == 0x0A  # type: ignore[arg-type]
    beyond = _load(vm, "ldxdw %r1, [%r1]\nldxb %r0, [%r1+64]\nexit")
    with pytest.raises(MemoryFault):
        run_with_args(beyond, [sock.base], engine=engine)  # type: ignore[arg-type]
    sibling = _load(vm, f"lddw %r1, {other.base:#x}\nstb [%r1], 0x99\nexit")
    with pytest.raises(MemoryFault, match=r"tcp_sock:2.*not given"):
        run_with_args(sibling, [sock.base], engine=engine)  # type: ignore[arg-type]
    assert other.buf[0] == 0x0B


def test_kfunc_returned_object_is_given_and_bounded(engine: str) -> None:
    vm = VM()
    obj = vm.space.map(24, name="task", data=b"\x07" * 24)

    def acquire(run: RunContext, *_: int) -> int:
        return obj.base

    vm.kfuncs.register(KfuncSpec("bpf_task_acquire_test", acquire))
    vm.kfuncs.bind("bpf_task_acquire_test", 777)
    ok = _load(vm, "call runtime 777\nldxb %r0, [%r0+23]\nexit")
    assert _run(ok, engine) == 7
    oob = _load(vm, "call runtime 777\nldxdw %r0, [%r0+20]\nexit")
    with pytest.raises(MemoryFault, match="crosses the end of region 'task'"):
        _run(oob, engine)


def test_grants_do_not_outlive_the_run(engine: str) -> None:
    """An object given to one run (in its args) is not reachable from the next run."""
    vm = VM()
    sock = vm.space.map(64, name="sk")
    prog = _load(vm, f"lddw %r1, {sock.base:#x}\nldxdw %r0, [%r1]\nexit")
    assert run_with_args(prog, [sock.base], engine=engine) == 0  # type: ignore[arg-type]
    with pytest.raises(MemoryFault):
        run_with_args(prog, [5], engine=engine)  # type: ignore[arg-type]


# ------------------------------------------------------------ hostile bytecode
_REGS = st.integers(0, 9)
_SIZES = st.sampled_from(["b", "h", "w", "dw"])


def _hostile_line(draw: st.DrawFn, secret: int) -> str:
    kind = draw(st.integers(0, 7))
    d, s = draw(_REGS), draw(_REGS)
    off = draw(st.integers(-600, 600))
    size = draw(_SIZES)
    if kind == 0:
        return f"lddw %r{d}, {draw(st.sampled_from([secret, secret + 8, 0x1000, 2**64 - 8]))}"
    if kind == 1:
        return f"ldx{size} %r{d}, [%r{s}{off:+d}]"
    if kind == 2:
        return f"stx{size} [%r{d}{off:+d}], %r{s}"
    if kind == 3:
        return f"st{size} [%r{d}{off:+d}], {draw(st.integers(-(2**31), 2**31 - 1))}"
    if kind == 4:
        return f"mov %r{d}, %r10"
    if kind == 5:
        return f"add %r{d}, {off}"
    if kind == 6:
        return f"lock add [%r{d}{off:+d}], %r{s}"
    return f"mov %r{d}, %r{s}"


@st.composite
def _hostile_program(draw: st.DrawFn, secret: int) -> str:
    lines = [_hostile_line(draw, secret) for _ in range(draw(st.integers(1, 12)))]
    return "\n".join(lines) + "\nmov %r0, 0\nexit"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_straight_line_programs_are_contained(data: st.DataObject) -> None:
    """Random loads/stores at constant, stack-relative and wild addresses: they either
    finish or fault with a VMFault; the foreign region's bytes never change."""
    vm = VM()
    other = ArrayLike(vm, "other", SECRET)
    text = data.draw(_hostile_program(other.values.base))
    try:
        prog = Program.load(assemble(text), vm=vm)
    except (ValueError, BpfError):  # r10 written, etc.: refused at load is contained too
        return
    for engine in ENGINES:
        with contextlib.suppress(VMFault):
            _run(prog, engine)
        assert bytes(other.values.buf) == SECRET


# ------------------------------------------------------------ the embedded kernel
#: A 64-byte Ethernet frame (an 802.2 payload): a socket filter's test run needs a packet.
FRAME = bytes(12) + b"\x00\x40" + bytes(50)


def test_unverified_socket_filter_cannot_touch_another_maps_value() -> None:
    """SOCKET_FILTER programs are not verified by the embedded kernel (issue 12 item 1):
    the VM still contains them.  The program references map A and pokes map B's value
    by its constant kernel address: the test run fails with EFAULT and B is intact."""
    from structops.kernel.attrs import MapCreateAttr, MapElemAttr, ProgLoadAttr, TestRunAttr
    from structops.kernel.emulated import EmulatedKernel
    from structops.uapi import Cmd, MapType, ProgType

    k = EmulatedKernel()
    k.verify_programs = False  # type: ignore[attr-defined]  # as if the verifier were wrong (it refuses this)
    fd_a = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 16, 1))
    fd_b = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 16, 1))
    k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd_b, key=bytes(4), value=SECRET))
    map_b, _ = k.current_process().get_map(fd_b)
    addr_b = int(map_b.value_addr(0))  # type: ignore[attr-defined]
    insns = [
        Insn.ld_imm64(1, fd_a, src=BPF_PSEUDO_MAP_VALUE),
        Insn.ld_imm64(2, addr_b),
        Insn(0x7A, dst=2, off=0, imm=0x41),  # *(u64 *)(r2 + 0) = 0x41
        Insn(0xB7, dst=0, imm=0),
        Insn(0x95),
    ]
    prog_fd = k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, encode(insns)))
    attr = TestRunAttr(prog_fd, data_in=FRAME, ctx_in=bytes(32))  # a socket filter runs on an skb
    with pytest.raises(BpfError) as info:
        k.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
    assert info.value.errno == errno.EFAULT
    out = bytearray(16)
    k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd_b, key=bytes(4), value=out))
    assert bytes(out) == SECRET


def test_unverified_probe_read_kernel_reads_and_writes_only_given_memory() -> None:
    """bpf_probe_read_kernel (113) on behalf of an unverified SOCKET_FILTER: a foreign
    source reads as a fault (-EFAULT, destination zeroed, as the kernel does for an
    unreadable address); a foreign destination faults the program (EFAULT from the run)."""
    from structops.kernel.attrs import MapCreateAttr, MapElemAttr, ProgLoadAttr, TestRunAttr
    from structops.kernel.emulated import EmulatedKernel
    from structops.uapi import Cmd, MapType, ProgType

    k = EmulatedKernel()
    k.verify_programs = False  # type: ignore[attr-defined]  # as if the verifier were wrong (it refuses this)
    fd_b = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 16, 1))
    k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd_b, key=bytes(4), value=SECRET))
    map_b, _ = k.current_process().get_map(fd_b)
    addr_b = int(map_b.value_addr(0))  # type: ignore[attr-defined]

    def load(text: str) -> int:
        code = encode(assemble(text))
        return k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, code))

    steal = load(
        f"""
        stdw [%r10-16], 1
        mov %r1, %r10
        add %r1, -16
        mov %r2, 16
        lddw %r3, {addr_b:#x}
        call 113
        ldxdw %r1, [%r10-16]
        jne %r1, 0, leaked
        exit
        leaked:
        mov %r0, 99
        exit
        """
    )
    attr = TestRunAttr(steal, data_in=FRAME, ctx_in=bytes(32))
    k.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
    assert attr.retval == (-errno.EFAULT) & 0xFFFFFFFF
    clobber = load(
        f"""
        stdw [%r10-16], 0x41
        lddw %r1, {addr_b:#x}
        mov %r2, 8
        mov %r3, %r10
        add %r3, -16
        call 113
        exit
        """
    )
    with pytest.raises(BpfError) as info:
        k.bpf(Cmd.BPF_PROG_TEST_RUN, TestRunAttr(clobber, data_in=FRAME, ctx_in=bytes(32)))
    assert info.value.errno == errno.EFAULT
    out = bytearray(16)
    k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd_b, key=bytes(4), value=out))
    assert bytes(out) == SECRET
