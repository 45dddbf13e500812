"""CollectionSpec of every testdata object, checked against llvm-readelf listings and the
C sources (selftests report B.1-B.3 for the struct_ops rules)."""

from __future__ import annotations

import struct
from dataclasses import fields

import pytest
from readelf_listing import TESTDATA, Listing, load_listing

from structops.loader import (
    CollectionSpec,
    MapKind,
    RelocKind,
    load_collection_spec,
)
from structops.uapi import AttachType, MapFlags, MapType, ProgType

OBJECTS = sorted(p.name.removesuffix(".bpf.o") for p in TESTDATA.glob("*.bpf.o"))
STRUCT_OPS_SECS = (".struct_ops", ".struct_ops.link", "?.struct_ops", "?.struct_ops.link")

_cache: dict[str, CollectionSpec] = {}


def spec_of(obj: str) -> CollectionSpec:
    if obj not in _cache:
        _cache[obj] = load_collection_spec(TESTDATA / f"{obj}.bpf.o")
    return _cache[obj]


def raw_of(obj: str) -> bytes:
    return (TESTDATA / f"{obj}.bpf.o").read_bytes()


def section_bytes(obj: str, listing: Listing, name: str, start: int, size: int) -> bytes:
    sec = listing.section(name)
    return raw_of(obj)[sec.offset + start : sec.offset + start + size]


def test_every_source_has_an_object() -> None:
    sources = sorted(p.name.removesuffix(".bpf.c") for p in TESTDATA.glob("*.bpf.c"))
    assert sources == OBJECTS
    assert len(OBJECTS) >= 15


@pytest.mark.parametrize("obj", OBJECTS)
def test_programs_are_the_functions_of_program_sections(obj: str) -> None:
    """Every FUNC symbol outside .text is a program, with its section and own code first."""
    lst, spec = load_listing(obj), spec_of(obj)
    expected = {}
    for sec in lst.exec_sections():
        if sec.name == ".text":
            continue
        for sym in lst.funcs_in(sec.name):
            expected[sym.name] = (sec.name, sym.value, sym.size)
    assert set(spec.programs) == set(expected)
    for name, (sec_name, value, size) in expected.items():
        p = spec.programs[name]
        assert p.section == sec_name
        assert p.section_insn_offset == value // 8
        assert _same_ignoring_calls(p.instructions[:size], section_bytes(obj, lst, sec_name, value, size))
        assert p.license == spec.license


@pytest.mark.parametrize("obj", OBJECTS)
def test_subprograms_are_appended_text_functions(obj: str) -> None:
    """Appended subprogram code equals the .text bytes of that function (calls aside)."""
    lst, spec = load_listing(obj), spec_of(obj)
    text = {s.name: s for s in lst.funcs_in(".text")} if any(s.name == ".text" for s in lst.sections) else {}
    for p in spec.programs.values():
        pos = None
        for sub in p.subprograms:
            sym = text[sub]
            # locate the piece by its func_info entry (records move with code)
            starts = [fi.insn_off for fi in p.func_infos]
            want = section_bytes(obj, lst, ".text", sym.value, sym.size)
            hits = [s for s in starts if _same_ignoring_calls(p.instructions[s * 8 : s * 8 + sym.size], want)]
            assert hits, f"{p.name}: code of {sub} not found after linking"
            pos = hits[0]
            assert pos * 8 >= len(p.instructions) - sum(text[s].size for s in p.subprograms)
        assert p.insn_count * 8 == _own_size(lst, p) + sum(text[s].size for s in p.subprograms)


def _own_size(lst: Listing, p: object) -> int:
    name = p.name  # type: ignore[attr-defined]
    return next(s.size for s in lst.symbols if s.name == name and s.type == "FUNC")


def _same_ignoring_calls(a: bytes, b: bytes) -> bool:
    if len(a) != len(b):
        return False
    for i in range(0, len(a), 8):
        x, y = a[i : i + 8], b[i : i + 8]
        if x[0] == 0x85 and y[0] == 0x85:
            continue  # call imm is rewritten by linking
        if x != y:
            return False
    return True


@pytest.mark.parametrize("obj", OBJECTS)
def test_call_immediates_land_on_the_named_subprogram(obj: str) -> None:
    """After linking, pc + imm + 1 of each CALL is the first insn of its callee's func_info."""
    spec = spec_of(obj)
    for p in spec.programs.values():
        fi_starts = {fi.insn_off for fi in p.func_infos}
        for r in p.relocations:
            if r.kind != RelocKind.CALL:
                continue
            op, regs, _off, imm = struct.unpack("<BBhi", p.slot(r.insn))
            assert op == 0x85 and regs >> 4 == 1  # BPF_PSEUDO_CALL
            target = r.insn + imm + 1
            assert target in fi_starts
            assert target * 8 < len(p.instructions)


def test_cubic_links_cbrt_once_and_keeps_rodata_offsets() -> None:
    lst, spec = load_listing("cubic_like"), spec_of("cubic_like")
    p = spec.programs["so_cubic_cong_avoid"]
    assert p.subprograms == ("so_cbrt",)
    own = _own_size(lst, p) // 8
    calls = [r for r in p.relocations if r.kind == RelocKind.CALL]
    assert [c.target for c in calls] == ["so_cbrt"]
    _op, _regs, _off, imm = struct.unpack("<BBhi", p.slot(calls[0].insn))
    assert calls[0].insn + imm + 1 == own
    syms = {s.name: s for s in lst.symbols}
    ro = {r.offset for r in p.relocations if r.kind == RelocKind.MAP_VALUE and r.target == ".rodata"}
    # cube_scale (global symbol) and cbrt_seed (static, via the section symbol + imm)
    assert ro == {syms["cube_scale"].value, syms["cbrt_seed"].value}
    kcfg = [r for r in p.relocations if r.target == ".kconfig"]
    assert kcfg and all(r.offset == 0 for r in kcfg)
    assert spec.externs["CONFIG_HZ"].size == 8
    # no other program calls the cube root
    assert all(q.subprograms == () for q in spec.programs.values() if q is not p)


def test_mixed_links_static_and_global_subprograms_in_first_use_order() -> None:
    spec = spec_of("mixed")
    assert spec.programs["mixed_tc"].subprograms == ("bump", "mixed_global_helper")
    assert spec.programs["mixed_socket"].subprograms == ("bump",)
    assert spec.programs["mixed_xdp"].subprograms == ("bump",)
    assert spec.programs["mixed_test_1"].subprograms == ("mixed_global_helper",)
    tc = spec.programs["mixed_tc"]
    # bump's map reference moved with it
    maps = [r for r in tc.relocations if r.kind == RelocKind.MAP]
    assert [m.target for m in maps] == ["mixed_counts"]
    assert maps[0].insn >= _own_size(load_listing("mixed"), tc) // 8


@pytest.mark.parametrize("obj", OBJECTS)
def test_program_relocations_match_readelf(obj: str) -> None:
    """Each ELF relocation of a program section is a Reloc of that program at the same insn."""
    lst, spec = load_listing(obj), spec_of(obj)
    syms = {s.name: s for s in lst.symbols}
    for p in spec.programs.values():
        rels = lst.relocs.get(".rel" + p.section, [])
        sym = next(s for s in lst.symbols if s.name == p.name and s.type == "FUNC")
        own = [r for r in rels if sym.value <= r.offset < sym.value + sym.size]
        own_relocs = [r for r in p.relocations if r.insn < sym.size // 8]
        assert len(own_relocs) == len(own), p.name
        for lr, r in zip(sorted(own, key=lambda r: r.offset), own_relocs, strict=True):
            assert r.insn == (lr.offset - sym.value) // 8
            target_sym = syms.get(lr.symbol)
            if lr.symbol in spec.externs:
                assert r.kind in (RelocKind.KFUNC, RelocKind.MAP_VALUE, RelocKind.KSYM)
                if r.kind == RelocKind.KFUNC:
                    assert r.target == lr.symbol
            elif (target_sym is not None and target_sym.type == "FUNC") or lr.symbol == ".text":
                assert r.kind == RelocKind.CALL
            elif lr.symbol in spec.maps and spec.maps[lr.symbol].kind == MapKind.BTF_DEFINED:
                assert (r.kind, r.target) == (RelocKind.MAP, lr.symbol)
            else:
                assert r.kind == RelocKind.MAP_VALUE
                sec_idx = target_sym.ndx if target_sym else None
                sec = next(s for s in lst.sections if str(s.index) == sec_idx)
                assert r.target == sec.name


def test_reno_kfunc_and_bss_relocations() -> None:
    lst, spec = load_listing("reno"), spec_of("reno")
    syms = {s.name: s for s in lst.symbols}
    p = spec.programs["so_reno_ssthresh"]
    kinds = [(r.kind, r.target, r.offset) for r in p.relocations]
    assert kinds == [
        (RelocKind.MAP_VALUE, ".bss", syms["n_ssthresh"].value),
        (RelocKind.KFUNC, "tcp_reno_ssthresh", 0),
    ]
    assert set(spec.externs) == {"tcp_reno_ssthresh", "tcp_reno_cong_avoid", "tcp_reno_undo_cwnd"}
    assert all(e.kind.value == "kfunc" and not e.weak for e in spec.externs.values())


# -- struct_ops maps ---------------------------------------------------------------------

RENO_BINDINGS = {
    "init": "so_reno_init",
    "release": "so_reno_release",
    "ssthresh": "so_reno_ssthresh",
    "cong_avoid": "so_reno_cong_avoid",
    "undo_cwnd": "so_reno_undo_cwnd",
}
# byte offsets of tcp_congestion_ops members on 6.18 (kernel-6.18-observed.md §2)
TCP_CA_OFFSETS = {"ssthresh": 0, "cong_avoid": 8, "set_state": 16, "cwnd_event": 24, "in_ack_event": 32,
                  "pkts_acked": 40, "undo_cwnd": 64, "name": 88, "flags": 132, "init": 136, "release": 144}  # fmt: skip


@pytest.mark.parametrize("obj", OBJECTS)
def test_struct_ops_maps_are_the_variables_of_struct_ops_sections(obj: str) -> None:
    """B.1: one STRUCT_OPS map per variable; value = section bytes; BPF_F_LINK for .link."""
    lst, spec = load_listing(obj), spec_of(obj)
    expected = {}
    for sec in lst.sections:
        if sec.name in STRUCT_OPS_SECS:
            for s in lst.symbols:
                if s.ndx == str(sec.index) and s.type == "OBJECT":
                    expected[s.name] = (sec.name, s.value, s.size)
    assert set(spec.struct_ops_maps) == set(expected)
    for name, (sec_name, value, size) in expected.items():
        m = spec.maps[name]
        assert m.type == MapType.BPF_MAP_TYPE_STRUCT_OPS
        assert (m.key_size, m.value_size, m.max_entries) == (4, size, 1)
        assert m.flags == (MapFlags.BPF_F_LINK if sec_name.endswith(".link") else 0)
        assert m.autocreate == (not sec_name.startswith("?"))
        assert m.struct_ops is not None
        assert m.struct_ops.data == section_bytes(obj, lst, sec_name, value, size)
        assert m.struct_ops.is_link == sec_name.endswith(".link")
        # every relocation of the section binds one member of this map
        rels = [r for r in lst.relocs.get(".rel" + sec_name, []) if value <= r.offset < value + size]
        assert sorted(m.struct_ops.funcs.values()) == sorted(r.symbol for r in rels)
        assert sorted(m.struct_ops.func_offsets.values()) == sorted(r.offset - value for r in rels)


@pytest.mark.parametrize(("obj", "link"), [("reno", True), ("reno_legacy", False)])
def test_reno_struct_ops_bindings(obj: str, link: bool) -> None:
    spec = spec_of(obj)
    m = spec.maps["so_reno"]
    assert m.struct_ops is not None
    assert m.struct_ops.type_name == "tcp_congestion_ops"
    assert m.struct_ops.funcs == RENO_BINDINGS
    assert m.struct_ops.func_offsets == {k: TCP_CA_OFFSETS[k] for k in RENO_BINDINGS}
    assert m.struct_ops.data[88:96] == b"so_reno\0"
    assert m.value_size == 192
    assert m.struct_ops.is_link is link
    assert all(spec.programs[p].is_struct_ops for p in RENO_BINDINGS.values())


def test_reno_v2_has_the_same_cc_name_in_a_link_map() -> None:
    m = spec_of("reno_v2").maps["so_reno_v2"]
    assert m.struct_ops is not None and m.struct_ops.is_link
    assert m.struct_ops.data[88:96] == b"so_reno\0"
    assert set(m.struct_ops.funcs) == {"init", "ssthresh", "cong_avoid", "undo_cwnd"}


def test_dctcp_sk_storage_map_and_flags_member() -> None:
    spec = spec_of("dctcp_like")
    stg = spec.maps["so_dctcp_stg"]
    assert stg.kind == MapKind.BTF_DEFINED
    assert stg.type == MapType.BPF_MAP_TYPE_SK_STORAGE
    assert (stg.key_size, stg.value_size, stg.max_entries, stg.flags) == (4, 20, 0, MapFlags.BPF_F_NO_PREALLOC)
    assert spec.btf is not None
    assert spec.btf.type_by_id(stg.btf_value_type_id).name == "so_dctcp_state"
    ops = spec.maps["so_dctcp"].struct_ops
    assert ops is not None
    flags = struct.unpack_from("<I", ops.data, TCP_CA_OFFSETS["flags"])[0]
    assert flags == 0x2  # TCP_CONG_NEEDS_ECN
    assert ops.funcs["in_ack_event"] == "so_dctcp_in_ack_event"
    init = spec.programs["so_dctcp_init"]
    assert [r.target for r in init.relocations if r.kind == RelocKind.MAP] == ["so_dctcp_stg"]


def test_dummy_ops_sleepable_and_bindings() -> None:
    spec = spec_of("dummy_ops")
    ops = spec.maps["dummy_1"].struct_ops
    assert ops is not None and ops.type_name == "bpf_dummy_ops"
    assert ops.funcs == {"test_1": "dummy_test_1", "test_2": "dummy_test_2", "test_sleepable": "dummy_test_sleepable"}
    assert ops.func_offsets == {"test_1": 0, "test_2": 8, "test_sleepable": 16}
    assert spec.programs["dummy_test_sleepable"].sleepable
    assert not spec.programs["dummy_test_1"].sleepable
    assert spec.programs["dummy_test_sleepable"].section == "struct_ops.s/test_sleepable"


def test_optional_sections_autoload_and_autocreate() -> None:
    spec = spec_of("optional")
    auto = {n: p.autoload for n, p in spec.programs.items()}
    assert auto == {"opt_plain": True, "opt_q_1": False, "opt_q_2": False, "opt_unbound": False}
    assert spec.programs["opt_unbound"].sleepable
    assert {n: m.autocreate for n, m in spec.maps.items()} == {
        "dummy_opt_base": True,
        "dummy_opt_q": False,
        "dummy_opt_ql": False,
    }
    assert spec.maps["dummy_opt_ql"].flags == MapFlags.BPF_F_LINK
    assert spec.maps["dummy_opt_ql"].section == "?.struct_ops.link"


def test_testmod_forty_trampolines_and_scalar_member() -> None:
    spec = spec_of("testmod_ops")
    tramp = spec.maps["testmod_tramp"].struct_ops
    assert tramp is not None
    assert tramp.funcs == {f"tramp_{i}": f"testmod_tramp_{i}" for i in range(1, 41)}
    # 4 function pointers then `int data`, then tramp_1.. (declared in testmod_ops.bpf.c)
    assert tramp.func_offsets["tramp_1"] == 40
    one = spec.maps["testmod_1"].struct_ops
    assert one is not None
    assert struct.unpack_from("<i", one.data, 32)[0] == 13
    assert one.funcs == {"test_1": "testmod_test_1", "test_2": "testmod_test_2",
                         "test_maybe_null": "testmod_maybe_null"}  # fmt: skip
    bad = spec.maps["testmod_bad"]
    assert not bad.autocreate
    assert bad.struct_ops is not None and bad.struct_ops.funcs == {"test_maybe_null": "testmod_maybe_null_bad"}
    assert not spec.programs["testmod_maybe_null_bad"].autoload


def test_broken_objects_are_still_specs() -> None:
    """Errors that libbpf reports at load time are not spec errors (B.2, B.4)."""
    reuse = spec_of("bad_reuse").maps["so_reuse"].struct_ops
    assert reuse is not None
    assert reuse.funcs["ssthresh"] == reuse.funcs["undo_cwnd"] == "so_twice"

    member = spec_of("bad_member").maps["so_badmember"].struct_ops
    assert member is not None
    assert member.type_name == "tcp_congestion_ops___bad"
    assert member.kernel_type_name == "tcp_congestion_ops"
    # 3 func pointers (24) + name[16] + unused_zero (4): does_not_exist at 44
    assert struct.unpack_from("<ii", member.data, 40) == (0, 1)

    nx = spec_of("bad_type").maps["nx_ops"].struct_ops
    assert nx is not None and nx.type_name == "nonexistent_ops"

    unref = spec_of("bad_unreferenced")
    bound = {p for m in unref.struct_ops_maps.values() if m.struct_ops for p in m.struct_ops.funcs.values()}
    assert "forgotten_test_2" in unref.programs and "forgotten_test_2" not in bound

    assert spec_of("bad_license").license == "X"


# -- global data maps --------------------------------------------------------------------


# Names and flags as printed by `bpftool map show` for objects loaded by libbpf on the
# project machine (reno_legacy / dctcp_like / cubic_like were registered for real).
OBSERVED_DATA_MAPS = {
    ("reno_legacy", ".bss"): ("reno_leg.bss", 0x400, 40),
    ("dctcp_like", ".data"): ("dctcp_li.data", 0x400, 4),
    ("dctcp_like", ".bss"): ("dctcp_li.bss", 0x400, 8),
    ("cubic_like", ".rodata"): ("cubic_li.rodata", 0x480, 72),
    ("cubic_like", ".bss"): ("cubic_li.bss", 0x400, 20),
    ("cubic_like", ".kconfig"): ("cubic_l.kconfig", 0x480, 8),
}


@pytest.mark.parametrize(("obj", "sec"), sorted(OBSERVED_DATA_MAPS))
def test_global_data_maps_match_libbpf(obj: str, sec: str) -> None:
    name, flags, size = OBSERVED_DATA_MAPS[(obj, sec)]
    m = spec_of(obj).maps[sec]
    assert (m.name, m.flags, m.value_size) == (name, flags, size)
    assert (m.type, m.key_size, m.max_entries) == (MapType.BPF_MAP_TYPE_ARRAY, 4, 1)
    assert spec_of(obj).map_by_name(name) is m


@pytest.mark.parametrize("obj", OBJECTS)
def test_global_data_contents_are_the_section_bytes(obj: str) -> None:
    lst, spec = load_listing(obj), spec_of(obj)
    for sec in lst.sections:
        if sec.name in (".data", ".rodata", ".bss") and sec.size:
            m = spec.maps[sec.name]
            want = bytes(sec.size) if sec.name == ".bss" else section_bytes(obj, lst, sec.name, 0, sec.size)
            assert m.contents == want
            assert m.kind.value == sec.name


def test_mixed_maps_and_program_types() -> None:
    spec = spec_of("mixed")
    sized = spec.maps["mixed_sized"]
    assert (sized.type, sized.key_size, sized.value_size, sized.max_entries, sized.flags) == (
        MapType.BPF_MAP_TYPE_HASH, 8, 16, 128, 1)  # fmt: skip
    counts = spec.maps["mixed_counts"]
    assert (counts.type, counts.key_size, counts.value_size, counts.max_entries) == (
        MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 4)  # fmt: skip
    assert spec.maps[".rodata"].contents == b"mixed\0\0\0"
    assert spec.license == "Dual BSD/GPL"
    types = {n: (p.prog_type, p.expected_attach_type) for n, p in spec.programs.items()}
    assert types == {
        "mixed_tc": (ProgType.BPF_PROG_TYPE_SCHED_CLS, 0),
        "mixed_socket": (ProgType.BPF_PROG_TYPE_SOCKET_FILTER, 0),
        "mixed_xdp": (ProgType.BPF_PROG_TYPE_XDP, AttachType.BPF_XDP),
        "mixed_test_1": (ProgType.BPF_PROG_TYPE_STRUCT_OPS, 0),
    }


def test_sections_object_map_attributes_and_version() -> None:
    spec = spec_of("sections")
    pinned = spec.maps["s_pinned"]
    assert (pinned.type, pinned.key_size, pinned.value_size, pinned.max_entries) == (
        MapType.BPF_MAP_TYPE_LRU_HASH, 8, 4, 64)  # fmt: skip
    assert (pinned.pinning, pinned.numa_node, pinned.flags, pinned.map_extra) == (1, 0, 4, 0)
    ring = spec.maps["s_ringbuf"]
    assert (ring.type, ring.max_entries, ring.key_size, ring.value_size) == (MapType.BPF_MAP_TYPE_RINGBUF, 4096, 0, 0)
    assert spec.kversion == 0x61200


def test_determinism_path_vs_bytes() -> None:
    for obj in ("cubic_like", "mixed", "testmod_ops"):
        a = spec_of(obj)
        b = load_collection_spec(raw_of(obj), object_name=obj)
        for f in fields(CollectionSpec):
            if f.name in ("btf",):
                continue
            assert getattr(a, f.name) == getattr(b, f.name), f.name
    assert load_collection_spec(raw_of("reno")).maps[".bss"].name == ".bss"
