"""PROG_LOAD and MAP_CREATE on the embedded kernel raise only BpfError (issue 12 item 6).

Mutated attrs — random bytecode, license bytes that are not UTF-8, odd log levels and
buffers, insn counts that disagree with the buffer, unknown types and flags, huge map
sizes — must give a :class:`~structops.errors.BpfError` carrying an errno, never a
``UnicodeDecodeError``/``ValueError``/``IndexError``, and must leave no object behind.
"""

from __future__ import annotations

import errno
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from structops.errors import BpfError
from structops.kernel.attrs import MapCreateAttr, ProgLoadAttr
from structops.kernel.emulated import EmulatedKernel
from structops.uapi import Cmd, MapType, ProgType

_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A few real instructions to splice into random bytecode so verification gets deep.
_SEEDS = [
    struct.pack("<BBhi", 0xB7, 0, 0, 0),  # mov r0, 0
    struct.pack("<BBhi", 0x95, 0, 0, 0),  # exit
    struct.pack("<BBhi", 0x79, 0x01, 0, 0),  # ldxdw r1, [r0]
    struct.pack("<BBhi", 0x85, 0, 0, 1),  # call 1
    struct.pack("<BBhi", 0x18, 0x01, 0, 3) + struct.pack("<BBhi", 0, 0, 0, 0),  # ld_imm64 map fd 3
    struct.pack("<BBhi", 0x05, 0, -1, 0),  # ja -1
    struct.pack("<BBhi", 0xBF, 0xA1, 0, 0),  # mov r1, r10
    struct.pack("<BBhi", 0x7A, 0x0A, -8, 7),  # stdw [r10-8], 7
]


@st.composite
def _bytecode(draw: st.DrawFn) -> bytes:
    parts = draw(
        st.lists(
            st.one_of(st.sampled_from(_SEEDS), st.binary(min_size=8, max_size=8)),
            min_size=0,
            max_size=12,
        )
    )
    return b"".join(parts) + draw(st.sampled_from([b"", b"\x95" + bytes(7), b"\x01\x02\x03"]))


def _prog_types() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from([int(t) for t in ProgType]), st.integers(0, 2**32 - 1))


def _check_clean(k: EmulatedKernel, before: int, fn: object) -> None:
    assert callable(fn)
    try:
        fd = fn()
    except BpfError as exc:
        assert isinstance(exc.errno, int) and exc.errno > 0
    else:
        assert isinstance(fd, int) and fd >= 0
        k.close(fd)
    k.rcu.synchronize()
    assert _live(k) == before


def _live(k: EmulatedKernel) -> int:
    return sum(len(ids) for ids in k.live_objects().values())


_KERNELS: dict[str, EmulatedKernel] = {}


def _kernel(name: str) -> EmulatedKernel:
    """One kernel per test (a fresh one per example would dominate the run time)."""
    if name not in _KERNELS:
        k = EmulatedKernel()
        if name == "prog":
            k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 4))  # fd 3 for ld_imm64
        _KERNELS[name] = k
    return _KERNELS[name]


@_SETTINGS
@given(
    prog_type=_prog_types(),
    insns=_bytecode(),
    license_=st.one_of(st.just(b"GPL"), st.binary(max_size=24), st.just(b"\xff\xfeGPL\x00junk")),
    insn_cnt=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
    log_level=st.sampled_from([0, 1, 2, 3, 4, 7, 2**31]),
    log_size=st.sampled_from([0, 1, 127, 128, 4096]),
    prog_flags=st.sampled_from([0, 1, 2, 4, 8, 0x40, 2**31]),
    prog_name=st.binary(max_size=20),
    attach_btf_id=st.sampled_from([0, 1, 7, 2**20, 2**32 - 1]),
    expected_attach_type=st.integers(0, 64),
)
def test_prog_load_raises_only_bpf_error(
    prog_type: int,
    insns: bytes,
    license_: bytes,
    insn_cnt: int | None,
    log_level: int,
    log_size: int,
    prog_flags: int,
    prog_name: bytes,
    attach_btf_id: int,
    expected_attach_type: int,
) -> None:
    k = _kernel("prog")
    before = _live(k)
    attr = ProgLoadAttr(prog_type, insns, license_)
    if insn_cnt is not None:
        attr.insn_cnt = insn_cnt
    attr.log_level = log_level
    attr.log_buf = bytearray(log_size) if log_size else None
    attr.prog_flags = prog_flags
    attr.prog_name = prog_name
    attr.attach_btf_id = attach_btf_id
    attr.expected_attach_type = expected_attach_type
    _check_clean(k, before, lambda: k.bpf(Cmd.BPF_PROG_LOAD, attr))


@_SETTINGS
@given(
    map_type=st.one_of(st.sampled_from([int(t) for t in MapType]), st.integers(0, 2**32 - 1)),
    key_size=st.sampled_from([0, 1, 4, 8, 64, 512, 2**16, 2**31, 2**32 - 1]),
    value_size=st.sampled_from([0, 1, 8, 4096, 2**20, 2**31, 2**32 - 1]),
    max_entries=st.sampled_from([0, 1, 16, 2**20, 2**31, 2**32 - 1]),
    map_flags=st.sampled_from([0, 1, 0x80, 0x400, 2**31]),
    map_name=st.binary(max_size=20),
)
def test_map_create_raises_only_bpf_error(
    map_type: int, key_size: int, value_size: int, max_entries: int, map_flags: int, map_name: bytes
) -> None:
    k = _kernel("map")
    before = _live(k)
    attr = MapCreateAttr(map_type, key_size, value_size, max_entries)
    attr.map_flags = map_flags
    attr.map_name = map_name
    _check_clean(k, before, lambda: k.bpf(Cmd.BPF_MAP_CREATE, attr))


def test_non_utf8_license_is_an_opaque_c_string() -> None:
    """The license is compared as bytes up to the NUL: b'GPL\\0\\xff' is GPL, b'\\xffGPL' is not."""
    k = EmulatedKernel()
    ret0 = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    fd = k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ret0, b"GPL\0\xff\xfe"))
    k.close(fd)
    fd = k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ret0, b"\xff\xfeGPL"))
    k.close(fd)


@pytest.mark.parametrize(
    ("map_type", "key", "value", "entries"),
    [
        (MapType.BPF_MAP_TYPE_ARRAY, 4, 2**31, 2**31),
        (MapType.BPF_MAP_TYPE_ARRAY, 4, 1 << 20, 1 << 20),
        (MapType.BPF_MAP_TYPE_HASH, 8, 1 << 20, 2**32 - 1),
    ],
)
def test_huge_maps_give_an_errno(map_type: MapType, key: int, value: int, entries: int) -> None:
    k = EmulatedKernel()
    with pytest.raises(BpfError) as info:
        k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(map_type, key, value, entries))
    assert info.value.errno in (errno.E2BIG, errno.ENOMEM, errno.EINVAL)


@_SETTINGS
@given(
    insns=_bytecode(),
    target=st.sampled_from(
        [
            ("bpf_dummy_ops", "test_1"),
            ("bpf_dummy_ops", "test_2"),
            ("tcp_congestion_ops", "ssthresh"),
            ("tcp_congestion_ops", "cong_avoid"),
        ]
    ),
    log_level=st.sampled_from([0, 1, 2]),
)
def test_struct_ops_prog_load_of_random_bytecode_raises_only_bpf_error(
    insns: bytes, target: tuple[str, str], log_level: int
) -> None:
    """Random bytecode that reaches the verifier (a valid struct_ops attach target)."""
    k = _kernel("prog")
    before = _live(k)
    d = k.find_struct_ops(target[0])
    assert d is not None
    attr = ProgLoadAttr(
        ProgType.BPF_PROG_TYPE_STRUCT_OPS,
        insns,
        expected_attach_type=[m.name for m in d.type.members].index(target[1]),
        attach_btf_id=d.type_id,
        log_buf=bytearray(4096) if log_level else None,
        log_level=log_level,
    )
    _check_clean(k, before, lambda: k.bpf(Cmd.BPF_PROG_LOAD, attr))
