"""CO-RE relocation values (llvm_reloc.rst "CO-RE Relocations", libbpf relo_core rules)
for the testdata objects against real and synthetic target BTF."""

from __future__ import annotations

import struct
from functools import cache
from pathlib import Path

import pytest
from readelf_listing import TESTDATA

from structops.btf.build import encode
from structops.btf.layout import member_offset, underlying
from structops.btf.parse import Spec, parse
from structops.btf.types import Enum, EnumValue, Int, IntEncoding, Member, Struct
from structops.errors import ELFError
from structops.loader import CoreRelo, CoreReloKind, load_collection_spec
from structops.loader.core import POISON_HELPER_ID, patch_insn, relocate

K = CoreReloKind
EMULATED_VMLINUX = Path(__file__).resolve().parents[3] / "src/structops/kernel/data/vmlinux.btf"
OBJS = ["cubic_like", "dctcp_like", "reno_v2", "mixed", "dummy_ops", "bad_license"]
U32 = Int("unsigned int", 4)
U8 = Int("unsigned char", 1)


def _targets() -> list[tuple[str, Path]]:
    out = [("emulated", EMULATED_VMLINUX)] if EMULATED_VMLINUX.exists() else []
    if Path("/sys/kernel/btf/vmlinux").exists():
        out.append(("running", Path("/sys/kernel/btf/vmlinux")))
    return out


@cache
def _parsed(path: Path) -> Spec:
    return parse(path.read_bytes())


def _path_names(local: Spec, relo: CoreRelo) -> str:
    t = underlying(local.type_by_id(relo.type_id))
    names = []
    for idx in relo.access_spec[1:]:
        m = t.members[idx]  # type: ignore[attr-defined]
        names.append(m.name)
        t = underlying(m.type)
    return ".".join(names)


@pytest.mark.parametrize(("label", "path"), _targets())
@pytest.mark.parametrize("obj", OBJS)
def test_objects_resolve_against_kernel_btf(obj: str, label: str, path: Path) -> None:
    """vmlinux.h came from this kernel, so every relocation resolves to its local value;
    field offsets equal the target struct's member offsets looked up by name."""
    spec = load_collection_spec(TESTDATA / f"{obj}.bpf.o")
    assert spec.btf is not None
    target = _parsed(path)
    n = 0
    for p in spec.programs.values():
        for c in p.core_relos:
            r = relocate(c, spec.btf, target)
            assert not r.poison, (p.name, c)
            if c.kind == K.FIELD_BYTE_OFFSET and c.access_spec[0] == 0 and len(c.access_spec) > 1:
                root = spec.btf.type_by_id(c.type_id)
                tstruct = target.find(underlying(root).name)  # type: ignore[attr-defined]
                assert r.target == member_offset(tstruct, _path_names(spec.btf, c))
            if label == "running":
                assert r.target == r.local
            n += 1
    assert n == sum(len(p.core_relos) for p in spec.programs.values())


def _cubic() -> tuple[Spec, list[CoreRelo], bytes]:
    spec = load_collection_spec(TESTDATA / "cubic_like.bpf.o")
    assert spec.btf is not None
    p = spec.programs["so_cubic_cong_avoid"]
    return spec.btf, list(p.core_relos), p.instructions


def _target(*types: object) -> Spec:
    return parse(encode(list(types)))  # type: ignore[arg-type]


def _tcp_sock(**offsets: int) -> Struct:
    members = tuple(Member(n, U32, off * 8) for n, off in offsets.items())
    return Struct("tcp_sock", 4096, members)


def test_moved_field_gets_the_target_offset_and_patches_the_insn() -> None:
    local, relos, code = _cubic()
    cwnd = [c for c in relos if c.kind == K.FIELD_BYTE_OFFSET and _path_names(local, c) == "snd_cwnd"]
    assert cwnd
    target = _target(_tcp_sock(snd_cwnd=100, snd_ssthresh=200, snd_cwnd_cnt=300, snd_cwnd_clamp=304))
    r = relocate(cwnd[0], local, target)
    assert (r.local, r.target, r.poison) == (member_offset(local.find("tcp_sock"), "snd_cwnd"), 100, False)
    buf = bytearray(code)
    patch_insn(buf, cwnd[0].insn_off, r)
    op, _regs, off, imm = struct.unpack_from("<BBhi", buf, cwnd[0].insn_off * 8)
    assert (off if op & 7 in (1, 2, 3) else imm) == 100


def test_missing_field_exists_is_zero_and_offset_is_poisoned() -> None:
    spec = load_collection_spec(TESTDATA / "cubic_like.bpf.o")
    assert spec.btf is not None
    init = spec.programs["so_cubic_init"]
    exists = [c for c in init.core_relos if c.kind == K.FIELD_EXISTS]
    assert [_path_names(spec.btf, c) for c in exists] == ["snd_cwnd_clamp"]
    target = _target(_tcp_sock(snd_cwnd=8))
    assert relocate(exists[0], spec.btf, target).target == 0
    reads = [c for c in init.core_relos if c.kind == K.FIELD_BYTE_OFFSET and "clamp" in _path_names(spec.btf, c)]
    r = relocate(reads[0], spec.btf, target)
    assert r.poison
    buf = bytearray(init.instructions)
    patch_insn(buf, reads[0].insn_off, r)
    assert struct.unpack_from("<Bxxxi", buf, reads[0].insn_off * 8) == (0x85, POISON_HELPER_ID)


def test_enum_value_and_type_exists() -> None:
    spec = load_collection_spec(TESTDATA / "cubic_like.bpf.o")
    assert spec.btf is not None
    relos = [c for p in spec.programs.values() for c in p.core_relos]
    enum_r = next(c for c in relos if c.kind == K.ENUMVAL_VALUE)
    state = Enum("tcp_ca_state", 4, (EnumValue("TCP_CA_Open", 0), EnumValue("TCP_CA_Loss", 7)))
    r = relocate(enum_r, spec.btf, _target(state))
    assert (r.local, r.target) == (4, 7)
    assert relocate(enum_r, spec.btf, _target(U32)).poison
    type_r = next(c for c in relos if c.kind == K.TYPE_EXISTS)
    assert relocate(type_r, spec.btf, _target(U32)).target == 0
    assert relocate(type_r, spec.btf, _target(Struct("ack_sample", 16, ()))).target == 1


def test_conflicting_candidates_are_an_error() -> None:
    local, relos, _code = _cubic()
    cwnd = next(c for c in relos if c.kind == K.FIELD_BYTE_OFFSET and _path_names(local, c) == "snd_cwnd")
    target = _target(_tcp_sock(snd_cwnd=100), _tcp_sock(snd_cwnd=104))
    with pytest.raises(ELFError, match="candidates disagree"):
        relocate(cwnd, local, target)


def test_bitfield_shifts() -> None:
    """struct s { u32 a; u32 b:3, c:5; }: c loads the u32 at 4, << 56, >> 59."""
    s = Struct("s", 8, (Member("a", U32, 0), Member("b", U32, 32, 3), Member("c", U32, 35, 5)))
    local = _target(s)
    sid = local.type_id(local.find("s"))
    moved = Struct("s", 16, (Member("c", U32, 64 + 12, 5),))
    target = _target(moved)
    want = {
        K.FIELD_BYTE_OFFSET: (4, 8),
        K.FIELD_BYTE_SIZE: (4, 4),
        K.FIELD_LSHIFT_U64: (56, 64 - (76 + 5 - 64)),
        K.FIELD_RSHIFT_U64: (59, 59),
        K.FIELD_SIGNED: (0, 0),
        K.FIELD_EXISTS: (1, 1),
    }
    for kind, (lv, tv) in want.items():
        r = relocate(CoreRelo(0, sid, 0, kind, "0:2"), local, target)
        assert (r.local, r.target) == (lv, tv), kind


def test_signed_field_and_type_size() -> None:
    s = Struct("t", 8, (Member("x", Int("int", 4, IntEncoding.SIGNED), 0), Member("y", U8, 32)))
    local = _target(s)
    sid = local.type_id(local.find("t"))
    r = relocate(CoreRelo(0, sid, 0, K.FIELD_SIGNED, "0:0"), local, local)
    assert (r.local, r.target) == (1, 1)
    bigger = _target(Struct("t", 24, (Member("x", U32, 0),)))
    r = relocate(CoreRelo(0, sid, 0, K.TYPE_SIZE, "0"), local, bigger)
    assert (r.local, r.target) == (8, 24)
    r = relocate(CoreRelo(0, sid, 0, K.FIELD_SIGNED, "0:0"), local, bigger)
    assert r.target == 0


def test_patch_refuses_an_instruction_that_does_not_hold_the_local_value() -> None:
    local, relos, code = _cubic()
    c = next(c for c in relos if c.kind == K.FIELD_BYTE_OFFSET)
    r = relocate(c, local, local)
    bad = type(r)(r.kind, r.local + 1, r.target)
    with pytest.raises(ELFError, match="expected"):
        patch_insn(bytearray(code), c.insn_off, bad)
