"""Map-in-map behaviour (BPF_MAP_TYPE_ARRAY_OF_MAPS / HASH_OF_MAPS), written once against the
``Kernel`` protocol: ``tests/unit/kernel/test_map_in_map.py`` runs these on the embedded
kernel, ``tests/kernel/test_map_in_map_real.py`` on Linux 6.18 (where every errno here was
first observed).
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from structops.abi.attrs import MapCreateAttr, MapElemAttr, MapFreezeAttr, ProgLoadAttr, TestRunAttr
from structops.errors import BpfError
from structops.isa.asm import assemble
from structops.isa.codec import encode
from structops.kernel.protocol import Kernel
from structops.uapi import ENOTSUPP, Cmd, MapFlags, MapType, ProgType

T = MapType
AOM = T.BPF_MAP_TYPE_ARRAY_OF_MAPS
HOM = T.BPF_MAP_TYPE_HASH_OF_MAPS


def errno_of(fn: Callable[[], object]) -> int:
    """The errno ``fn`` fails with (0 when it succeeds)."""
    try:
        fn()
    except BpfError as exc:
        return exc.errno or -1
    return 0


class Maps:
    """Creates maps on one kernel and closes them all at the end."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.fds: list[int] = []

    def create(self, mtype: int, key: int, value: int, entries: int, **kw: int) -> int:
        fd = self.k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(int(mtype), key, value, entries, **kw))
        self.fds.append(fd)
        return fd

    def create_errno(self, mtype: int, key: int, value: int, entries: int, **kw: int) -> int:
        return errno_of(lambda: self.create(mtype, key, value, entries, **kw))

    def update(self, fd: int, key: bytes, value: bytes, flags: int = 0) -> int:
        return errno_of(lambda: self.k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(fd, key=key, value=value, flags=flags)))

    def lookup(self, fd: int, key: bytes, size: int = 4) -> bytes | int:
        buf = bytearray(size)
        err = errno_of(lambda: self.k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd, key=key, value=buf)))
        return err if err else bytes(buf)

    def delete(self, fd: int, key: bytes) -> int:
        return errno_of(lambda: self.k.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(fd, key=key)))

    def close(self) -> None:
        for fd in reversed(self.fds):
            self.k.close(fd)


@contextmanager
def maps_on(k: Kernel) -> Iterator[Maps]:
    """A :class:`Maps` closed when the block ends."""
    m = Maps(k)
    try:
        yield m
    finally:
        m.close()


def u32(v: int) -> bytes:
    return struct.pack("<I", v)


def u64(v: int) -> bytes:
    return struct.pack("<Q", v)


def map_id(k: Kernel, fd: int) -> int:
    """The id of map ``fd`` (bpf_map_info.id at offset 4)."""
    from structops.abi.attrs import InfoAttr

    info = InfoAttr(fd, bytearray(80))
    k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
    return int(struct.unpack_from("<I", info.info, 4)[0])


def scenario_create_rules(k: Kernel) -> None:
    """inner_map_fd must be a map (EBADF / EINVAL); value_size 4; array key 4; no nesting;
    prog arrays cannot be inner maps (ENOTSUPP); flags each outer type accepts."""
    with maps_on(k) as m:
        q = m.create(T.BPF_MAP_TYPE_QUEUE, 0, 4, 10)
        assert m.create_errno(AOM, 4, 4, 4, inner_map_fd=999) == errno.EBADF
        assert m.create_errno(AOM, 4, 8, 4, inner_map_fd=q) == errno.EINVAL  # value is an fd: 4 bytes
        assert m.create_errno(AOM, 8, 4, 4, inner_map_fd=q) == errno.EINVAL
        assert m.create_errno(AOM, 4, 4, 0, inner_map_fd=q) == errno.EINVAL
        assert m.create_errno(HOM, 8, 8, 4, inner_map_fd=q) == errno.EINVAL
        assert m.create_errno(HOM, 0, 4, 4, inner_map_fd=q) == errno.EINVAL
        outer = m.create(AOM, 4, 4, 4, inner_map_fd=q)
        houter = m.create(HOM, 8, 4, 4, inner_map_fd=q)
        assert m.create_errno(AOM, 4, 4, 4, inner_map_fd=outer) == errno.EINVAL  # no map-in-map-in-map
        assert m.create_errno(HOM, 8, 4, 4, inner_map_fd=houter) == errno.EINVAL
        for inner in (
            m.create(T.BPF_MAP_TYPE_HASH, 4, 4, 4),
            m.create(T.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 4),
            m.create(T.BPF_MAP_TYPE_STACK, 0, 4, 4),
            m.create(T.BPF_MAP_TYPE_ARRAY, 4, 8, 4),
        ):
            assert m.create_errno(AOM, 4, 4, 4, inner_map_fd=inner) == 0
        flags = {
            MapFlags.BPF_F_NO_PREALLOC: (errno.EINVAL, 0),
            MapFlags.BPF_F_NUMA_NODE: (0, 0),
            MapFlags.BPF_F_RDONLY: (0, 0),
            MapFlags.BPF_F_RDONLY_PROG: (errno.EINVAL, 0),
            MapFlags.BPF_F_ZERO_SEED: (errno.EINVAL, 0),
            MapFlags.BPF_F_INNER_MAP: (errno.EINVAL, errno.EINVAL),
            MapFlags.BPF_F_MMAPABLE: (errno.EINVAL, errno.EINVAL),
        }
        for flag, (want_a, want_h) in flags.items():
            got = (
                m.create_errno(AOM, 4, 4, 4, inner_map_fd=q, map_flags=int(flag)),
                m.create_errno(HOM, 4, 4, 4, inner_map_fd=q, map_flags=int(flag)),
            )
            assert got == (want_a, want_h), flag


def scenario_prog_array_inner(k: Kernel) -> None:
    """A map type without map_meta_equal (prog array) cannot be an inner map: ENOTSUPP."""
    with maps_on(k) as m:
        pa = m.create(T.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4)
        assert m.create_errno(AOM, 4, 4, 4, inner_map_fd=pa) == ENOTSUPP


def scenario_array_of_maps_elements(k: Kernel) -> None:
    """Update takes a map fd matching the template (queues may differ in max_entries);
    BPF_ANY only; E2BIG past the end, checked before the fd; lookup gives the inner map's
    id; delete E2BIG / ENOENT; lookup_and_delete ENOTSUPP; get_next_key as an array;
    the template may be closed; a frozen outer map refuses updates (EPERM)."""
    with maps_on(k) as m:
        template = m.create(T.BPF_MAP_TYPE_QUEUE, 0, 4, 10)
        outer = m.create(AOM, 4, 4, 3, inner_map_fd=template)
        k.close(m.fds.pop(0))  # the template is not needed once the outer map exists
        q = m.create(T.BPF_MAP_TYPE_QUEUE, 0, 4, 10)
        q_big = m.create(T.BPF_MAP_TYPE_QUEUE, 0, 4, 20)
        q8 = m.create(T.BPF_MAP_TYPE_QUEUE, 0, 8, 10)
        q_ro = m.create(T.BPF_MAP_TYPE_QUEUE, 0, 4, 10, map_flags=int(MapFlags.BPF_F_RDONLY_PROG))
        stack = m.create(T.BPF_MAP_TYPE_STACK, 0, 4, 10)
        assert m.update(outer, u32(0), u32(q)) == 0
        assert m.update(outer, u32(1), u32(q_big)) == 0
        for bad in (q8, q_ro, stack, outer):
            assert m.update(outer, u32(2), u32(bad)) == errno.EINVAL
        assert m.update(outer, u32(2), u32(999)) == errno.EBADF
        assert m.update(outer, u32(3), u32(q)) == errno.E2BIG
        assert m.update(outer, u32(3), u32(999)) == errno.E2BIG
        for flags in (1, 2, 4):
            assert m.update(outer, u32(0), u32(q), flags) == errno.EINVAL
        assert m.lookup(outer, u32(0)) == u32(map_id(k, q))
        assert m.lookup(outer, u32(1)) == u32(map_id(k, q_big))
        assert m.lookup(outer, u32(2)) == errno.ENOENT
        assert m.lookup(outer, u32(7)) == errno.ENOENT
        buf = bytearray(4)
        lad = errno_of(lambda: k.bpf(Cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, MapElemAttr(outer, key=u32(0), value=buf)))
        assert lad == ENOTSUPP
        nxt = bytearray(4)
        k.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(outer, key=None, value=nxt))
        assert bytes(nxt) == u32(0)
        assert errno_of(lambda: k.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(outer, key=u32(2), value=nxt))) == (
            errno.ENOENT
        )
        assert m.delete(outer, u32(1)) == 0
        assert m.delete(outer, u32(1)) == errno.ENOENT
        assert m.delete(outer, u32(9)) == errno.E2BIG
        k.bpf(Cmd.BPF_MAP_FREEZE, MapFreezeAttr(outer))
        assert m.update(outer, u32(1), u32(q)) == errno.EPERM


def scenario_array_template_max_entries(k: Kernel) -> None:
    """An array template fixes max_entries unless it was created with BPF_F_INNER_MAP."""
    with maps_on(k) as m:
        a4 = m.create(T.BPF_MAP_TYPE_ARRAY, 4, 8, 4)
        a5 = m.create(T.BPF_MAP_TYPE_ARRAY, 4, 8, 5)
        outer = m.create(AOM, 4, 4, 2, inner_map_fd=a4)
        assert m.update(outer, u32(0), u32(a5)) == errno.EINVAL
        assert m.update(outer, u32(0), u32(a4)) == 0
        inner_flag = int(MapFlags.BPF_F_INNER_MAP)
        i4 = m.create(T.BPF_MAP_TYPE_ARRAY, 4, 8, 4, map_flags=inner_flag)
        i5 = m.create(T.BPF_MAP_TYPE_ARRAY, 4, 8, 5, map_flags=inner_flag)
        outer2 = m.create(AOM, 4, 4, 2, inner_map_fd=i4)
        assert m.update(outer2, u32(0), u32(i5)) == 0
        assert m.update(outer2, u32(1), u32(a5)) == errno.EINVAL  # map_flags differ


def scenario_hash_of_maps_elements(k: Kernel) -> None:
    """Hash-of-maps: hash update flags (EEXIST / ENOENT), template mismatch EINVAL,
    lookup gives the id, delete ENOENT when absent."""
    with maps_on(k) as m:
        q = m.create(T.BPF_MAP_TYPE_QUEUE, 0, 4, 10)
        q8 = m.create(T.BPF_MAP_TYPE_QUEUE, 0, 8, 10)
        outer = m.create(HOM, 8, 4, 4, inner_map_fd=q)
        assert m.update(outer, u64(5), u32(q)) == 0
        assert m.update(outer, u64(5), u32(q), 1) == errno.EEXIST  # BPF_NOEXIST
        assert m.update(outer, u64(6), u32(q), 2) == errno.ENOENT  # BPF_EXIST
        assert m.update(outer, u64(6), u32(q8)) == errno.EINVAL
        assert m.lookup(outer, u64(5)) == u32(map_id(k, q))
        assert m.lookup(outer, u64(6)) == errno.ENOENT
        assert m.delete(outer, u64(5)) == 0
        assert m.delete(outer, u64(5)) == errno.ENOENT


def scenario_struct_ops_inner(k: Kernel, tcp_value_type_id: int, tcp_value_size: int) -> None:
    """A struct_ops map has no map_meta_equal either: ENOTSUPP as the inner map template."""
    from test_linux_scenarios import minimal_btf

    from structops.abi.attrs import BtfLoadAttr

    with maps_on(k) as m:
        btf_fd = k.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=minimal_btf()))
        m.fds.append(btf_fd)
        so = m.create(
            T.BPF_MAP_TYPE_STRUCT_OPS,
            4,
            tcp_value_size,
            1,
            btf_fd=btf_fd,
            btf_vmlinux_value_type_id=tcp_value_type_id,
        )
        assert m.create_errno(AOM, 4, 4, 1, inner_map_fd=so) == ENOTSUPP


#: A socket filter that looks up slot 0 of the outer map and pushes 42 into the inner queue.
PUSH_PROG = """
    stw [%r10-4], 0
    ld_pseudo %r1, 1, {outer}
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, miss
    mov %r1, %r0
    stw [%r10-8], 42
    mov %r2, %r10
    add %r2, -8
    mov %r3, 0
    call 87
    mov %r0, 1
    exit
miss:
    mov %r0, 2
    exit
"""


def load_prog(k: Kernel, text: str, log: bytearray | None = None) -> int:
    """Load ``text`` as a socket filter (a verifier log in ``log`` when given)."""
    attr = ProgLoadAttr(
        int(ProgType.BPF_PROG_TYPE_SOCKET_FILTER),
        encode(assemble(text)),
        license="GPL",
        log_buf=log,
        log_level=1 if log is not None else 0,
    )
    return k.bpf(Cmd.BPF_PROG_LOAD, attr)


def run_prog(k: Kernel, fd: int) -> int:
    attr = TestRunAttr(fd, data_in=bytes(64), data_size_in=64)
    k.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
    return int(attr.retval)


def scenario_program_uses_inner_map(k: Kernel) -> None:
    """bpf_map_lookup_elem on an array-of-maps gives the inner map; after the NULL check it
    is the map argument of bpf_map_push_elem; an empty slot gives NULL."""
    with maps_on(k) as m:
        q = m.create(T.BPF_MAP_TYPE_QUEUE, 0, 4, 10)
        outer = m.create(AOM, 4, 4, 2, inner_map_fd=q)
        prog = load_prog(k, PUSH_PROG.format(outer=outer))
        try:
            assert run_prog(k, prog) == 2  # slot 0 empty
            assert m.update(outer, u32(0), u32(q)) == 0
            assert run_prog(k, prog) == 1
            assert run_prog(k, prog) == 1
            popped = bytearray(4)
            k.bpf(Cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, MapElemAttr(q, key=None, value=popped))
            assert bytes(popped) == u32(42)
            assert m.delete(outer, u32(0)) == 0
            assert run_prog(k, prog) == 2
        finally:
            k.close(prog)


#: A socket filter that pops one u32 from the queue stored under key 7 of a hash-of-maps.
POP_PROG = """
    stdw [%r10-8], 7
    ld_pseudo %r1, 1, {outer}
    mov %r2, %r10
    add %r2, -8
    call 1
    jeq %r0, 0, miss
    mov %r1, %r0
    mov %r2, %r10
    add %r2, -16
    call 88
    jne %r0, 0, empty
    ldxw %r0, [%r10-16]
    exit
empty:
    mov %r0, 1000
    exit
miss:
    mov %r0, 2000
    exit
"""


def scenario_program_pops_from_hash_of_maps(k: Kernel) -> None:
    """bpf_map_lookup_elem on a hash-of-maps gives the inner map stored under the key;
    bpf_map_pop_elem on it returns what user space pushed (NULL when the key is absent)."""
    with maps_on(k) as m:
        q = m.create(T.BPF_MAP_TYPE_QUEUE, 0, 4, 10)
        outer = m.create(HOM, 8, 4, 4, inner_map_fd=q)
        prog = load_prog(k, POP_PROG.format(outer=outer))
        try:
            assert run_prog(k, prog) == 2000
            assert m.update(outer, u64(7), u32(q)) == 0
            assert run_prog(k, prog) == 1000
            k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(q, key=None, value=u32(55)))  # push
            assert run_prog(k, prog) == 55
            assert run_prog(k, prog) == 1000
        finally:
            k.close(prog)


#: Look up slot 1 of an array-of-maps, then element 2 of that inner array; add 5 to it.
INNER_ARRAY_PROG = """
    stw [%r10-4], 1
    ld_pseudo %r1, 1, {outer}
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, miss
    stw [%r10-8], 2
    mov %r1, %r0
    mov %r2, %r10
    add %r2, -8
    call 1
    jeq %r0, 0, miss
    ldxdw %r1, [%r0+8]
    add %r1, 5
    stxdw [%r0+8], %r1
    mov %r0, %r1
    exit
miss:
    mov %r0, 0
    exit
"""


def scenario_program_writes_inner_array(k: Kernel) -> None:
    """The inner map pointer is typed by the template (an ARRAY of 16-byte values): a lookup
    in it gives a map value the program may read and write within value_size."""
    with maps_on(k) as m:
        template = m.create(T.BPF_MAP_TYPE_ARRAY, 4, 16, 4)
        inner = m.create(T.BPF_MAP_TYPE_ARRAY, 4, 16, 4)
        outer = m.create(AOM, 4, 4, 2, inner_map_fd=template)
        assert m.update(outer, u32(1), u32(inner)) == 0
        assert m.update(inner, u32(2), u64(0) + u64(37)) == 0
        prog = load_prog(k, INNER_ARRAY_PROG.format(outer=outer))
        try:
            assert run_prog(k, prog) == 42
            assert m.lookup(inner, u32(2), 16) == u64(0) + u64(42)
            assert m.lookup(template, u32(2), 16) == bytes(16)
        finally:
            k.close(prog)
        too_far = INNER_ARRAY_PROG.format(outer=outer).replace("[%r0+8]", "[%r0+12]")
        log = bytearray(1 << 16)
        assert errno_of(lambda: k.close(load_prog(k, too_far, log))) == errno.EACCES
        assert "invalid access to map value, value_size=16 off=12 size=8" in log.rstrip(b"\0").decode()


#: Look up a constant in-range key of an ARRAY and dereference without a NULL check.
CONST_KEY_PROG = """
    stw [%r10-8], 0
    ld_pseudo %r1, 1, {arr}
    mov %r2, %r10
    add %r2, -8
    call 1
    ldxdw %r0, [%r0+0]
    exit
"""


def scenario_inner_map_flag_keeps_null_checks(k: Kernel) -> None:
    """A constant in-range key makes an ARRAY lookup non-NULL, except for an array created
    with BPF_F_INNER_MAP (a template whose inner maps may have other sizes): EACCES."""
    with maps_on(k) as m:
        plain = m.create(T.BPF_MAP_TYPE_ARRAY, 4, 8, 4)
        inner = m.create(T.BPF_MAP_TYPE_ARRAY, 4, 8, 4, map_flags=int(MapFlags.BPF_F_INNER_MAP))
        assert errno_of(lambda: k.close(load_prog(k, CONST_KEY_PROG.format(arr=plain)))) == 0
        log = bytearray(1 << 16)
        assert errno_of(lambda: k.close(load_prog(k, CONST_KEY_PROG.format(arr=inner), log))) == errno.EACCES
        assert "R0 invalid mem access 'map_value_or_null'" in log.rstrip(b"\0").decode()


def scenario_verifier_rules(k: Kernel) -> None:
    """The lookup result is map_ptr_or_null until checked (no dereference, not a map
    argument: EACCES); programs may only look up a map-in-map (update: EINVAL)."""
    with maps_on(k) as m:
        q = m.create(T.BPF_MAP_TYPE_QUEUE, 0, 4, 10)
        outer = m.create(AOM, 4, 4, 2, inner_map_fd=q)
        head = f"stw [%r10-4], 0\nld_pseudo %r1, 1, {outer}\nmov %r2, %r10\nadd %r2, -4\n"
        cases = {
            "deref": (head + "call 1\nldxw %r0, [%r0+0]\nexit\n", errno.EACCES, "invalid mem access 'map_ptr_or_null'"),
            "push unchecked": (
                head + "call 1\nmov %r1, %r0\nmov %r2, %r10\nadd %r2, -4\nmov %r3, 0\ncall 87\nexit\n",
                errno.EACCES,
                "R1 type=map_ptr_or_null expected=map_ptr",
            ),
            "update outer": (
                head + "mov %r3, %r10\nadd %r3, -4\nmov %r4, 0\ncall 2\nexit\n",
                errno.EINVAL,
                "cannot pass map_type 12 into func bpf_map_update_elem#2",
            ),
        }
        for name, (text, want, line) in cases.items():
            log = bytearray(1 << 16)

            def load(text: str = text, log: bytearray = log) -> None:
                k.close(load_prog(k, text, log))

            err = errno_of(load)
            assert err == want, name
            assert line in log.rstrip(b"\0").decode(), (name, log.rstrip(b"\0").decode()[-400:])


_KEY4 = "stw [%r10-4], 0\nld_pseudo %r1, 1, {m}\nmov %r2, %r10\nadd %r2, -4\n"
_VAL8 = "stdw [%r10-8], 0\nld_pseudo %r1, 1, {m}\nmov %r2, %r10\nadd %r2, -8\n"
#: (map kind, program, helper) whose pairing check_map_func_compatibility refuses.
MAP_FUNC_MISMATCHES = {
    "delete on array-of-maps": ("outer", _KEY4 + "call 3\nexit\n", "bpf_map_delete_elem#3"),
    "push on array-of-maps": ("outer", _VAL8 + "mov %r3, 0\ncall 87\nexit\n", "bpf_map_push_elem#87"),
    "push on array": ("array", _VAL8 + "mov %r3, 0\ncall 87\nexit\n", "bpf_map_push_elem#87"),
    "pop on hash": ("hash", _VAL8 + "call 88\nexit\n", "bpf_map_pop_elem#88"),
    "peek on hash": ("hash", _VAL8 + "call 89\nexit\n", "bpf_map_peek_elem#89"),
    "lookup_percpu_elem on array": (
        "array",
        _KEY4 + "mov %r3, 0\ncall 195\nmov %r0, 0\nexit\n",
        "bpf_map_lookup_percpu_elem#195",
    ),
}


def scenario_map_func_compatibility(k: Kernel) -> None:
    """Programs may pass a map only to the helpers of its type (and a helper takes only its
    map types): EINVAL, "cannot pass map_type N into func NAME#ID"."""
    with maps_on(k) as m:
        q = m.create(T.BPF_MAP_TYPE_QUEUE, 0, 4, 4)
        fds = {
            "outer": m.create(AOM, 4, 4, 2, inner_map_fd=q),
            "array": m.create(T.BPF_MAP_TYPE_ARRAY, 4, 8, 4),
            "hash": m.create(T.BPF_MAP_TYPE_HASH, 4, 8, 4),
        }
        types = {"outer": int(AOM), "array": int(T.BPF_MAP_TYPE_ARRAY), "hash": int(T.BPF_MAP_TYPE_HASH)}
        for case, (kind, text, func) in MAP_FUNC_MISMATCHES.items():
            log = bytearray(1 << 16)

            def load(text: str = text, kind: str = kind, log: bytearray = log) -> None:
                k.close(load_prog(k, text.format(m=fds[kind]), log))

            assert errno_of(load) == errno.EINVAL, case
            assert f"cannot pass map_type {types[kind]} into func {func}" in log.rstrip(b"\0").decode(), case
        # a queue has no key: its (zero-sized) key argument is refused before the pairing
        log = bytearray(1 << 16)
        assert errno_of(lambda: k.close(load_prog(k, _KEY4.format(m=q) + "call 1\nmov %r0, 0\nexit\n", log))) == (
            errno.EACCES
        )
        assert "invalid zero-sized read" in log.rstrip(b"\0").decode()


SCENARIOS = {
    "create_rules": scenario_create_rules,
    "array_of_maps_elements": scenario_array_of_maps_elements,
    "array_template_max_entries": scenario_array_template_max_entries,
    "hash_of_maps_elements": scenario_hash_of_maps_elements,
    "program_uses_inner_map": scenario_program_uses_inner_map,
    "program_pops_from_hash_of_maps": scenario_program_pops_from_hash_of_maps,
    "program_writes_inner_array": scenario_program_writes_inner_array,
    "inner_map_flag_keeps_null_checks": scenario_inner_map_flag_keeps_null_checks,
    "map_func_compatibility": scenario_map_func_compatibility,
    "verifier_rules": scenario_verifier_rules,
}
