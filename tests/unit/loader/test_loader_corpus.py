"""Issue 11 on the embedded kernel: every corpus object gets Linux's verdict, CO-RE values
are checked against values computed here from the target BTF, and the loader sends what
libbpf sends (func_info/line_info, map BTF ids, externs, globals)."""

from __future__ import annotations

import errno
import struct
from typing import Any

import pytest
from loader_corpus import CORPUS, EMBEDDED_GAPS, VERDICTS, bitfield_load, insn_value, member_path, obj

from structops import btf as btflib
from structops.api import Collection
from structops.errors import BpfError, ELFError, VerifierError
from structops.kernel.attrs import BtfLoadAttr, MapCreateAttr
from structops.kernel.emulated import EmulatedKernel
from structops.loader import load_collection_spec
from structops.loader.arena import arena_data_offset, arena_map
from structops.loader.btf_ext import CoreReloKind as K
from structops.loader.core import CoreError, apply_core
from structops.loader.externs import parse_kallsyms
from structops.loader.load import POISON_CALL_KFUNC_BASE, KernelTypes, _relocate
from structops.testing import load_cc
from structops.uapi import Cmd, MapFlags, MapType


def test_corpus_has_thirty_objects_each_with_its_c_source_and_a_verdict() -> None:
    objects = sorted(p.name.removesuffix(".bpf.o") for p in CORPUS.glob("*.bpf.o"))
    assert len(objects) >= 30
    assert objects == sorted(VERDICTS)
    for name in objects:
        assert (CORPUS / f"{name}.bpf.c").is_file(), name


def check_verdict(name: str, kernel: object) -> None:
    """Load corpus object ``name`` on ``kernel`` and compare with Linux's verdict."""
    want = VERDICTS[name]
    c = Collection.open(obj(name))
    if want.kind == "ok":
        c.load(kernel)  # type: ignore[arg-type]
        c.close()
        return
    if want.kind == "map":
        with pytest.raises(BpfError) as berr:
            c.load(kernel)  # type: ignore[arg-type]
        assert berr.value.errno == want.errno and want.text in str(berr.value)
        return
    if want.kind == "loader":
        with pytest.raises(ELFError) as exc:
            c.load(kernel)  # type: ignore[arg-type]
        assert want.text in str(exc.value) and f"prog '{want.program}'" in str(exc.value)
        return
    with pytest.raises(VerifierError) as verr:
        c.load(kernel)  # type: ignore[arg-type]
    e = verr.value
    assert e.errno == want.errno
    assert e.prog == want.program
    assert want.text in e.log
    text = str(e)
    assert f"program '{want.program}'" in text and want.text in text
    assert "permission denied" not in text


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_embedded_kernel_gives_linux_verdict(name: str) -> None:
    if name in EMBEDDED_GAPS:
        pytest.xfail(EMBEDDED_GAPS[name])
    check_verdict(name, EmulatedKernel())


# -- CO-RE: relocated instructions against values computed from the target BTF ------------------


def _key(relo: object, local: btflib.Spec) -> tuple[K, str]:
    """(kind, 'root.member.member' or 'enum::VALUE') walked here on the local BTF."""
    kind = relo.kind  # type: ignore[attr-defined]
    root = local.type_by_id(relo.type_id)  # type: ignore[attr-defined]
    spec = [int(x) for x in relo.access_str.split(":")]  # type: ignore[attr-defined]
    name = getattr(root, "name", "") or getattr(btflib.underlying(root), "name", "")
    if kind in (K.ENUMVAL_EXISTS, K.ENUMVAL_VALUE):
        e = btflib.underlying(root)
        return kind, f"{name}::{e.values[spec[0]].name}"  # type: ignore[attr-defined]
    parts = [name]
    t = btflib.underlying(root)
    for i in spec[1:]:
        if isinstance(t, btflib.Array):
            parts.append(f"[{i}]")
            t = btflib.underlying(t.type)
            continue
        m = t.members[i]  # type: ignore[attr-defined]
        if m.name:
            parts.append(m.name)
        t = btflib.underlying(m.type)
    return kind, ".".join(parts)


def expected_core_kinds(target: btflib.Spec, local_ids: dict[str, int]) -> dict[tuple[K, str], int]:
    """What every relocation of cc_core_kinds.bpf.c must become on ``target`` (computed directly)."""
    tcp_sock = target.find("tcp_sock", btflib.Struct)
    state = target.find("tcp_ca_state", btflib.Enum)
    cwnd_bits, cwnd = member_path(tcp_sock, ["snd_cwnd"])
    bf_bits, bf = member_path(tcp_sock, ["is_cwnd_limited"])
    byte, size, lshift, rshift = bitfield_load(bf_bits, bf.bitfield_size, btflib.sizeof(bf.type))
    srtt = btflib.underlying(member_path(tcp_sock, ["srtt_us"])[1].type)
    assert isinstance(srtt, btflib.Int)
    return {
        (K.TYPE_EXISTS, "tcp_sock"): 1,
        (K.TYPE_EXISTS, "lo_not_in_kernel"): 0,
        (K.TYPE_SIZE, "tcp_sock"): tcp_sock.size,
        (K.TYPE_ID_TARGET, "tcp_sock"): target.type_id(tcp_sock),
        (K.TYPE_ID_LOCAL, "tcp_sock"): local_ids["tcp_sock"],
        (K.TYPE_MATCHES, "ack_sample"): 1,
        (K.ENUMVAL_EXISTS, "tcp_ca_state::TCP_CA_Loss"): 1,
        (K.ENUMVAL_EXISTS, "lo_enum_not_in_kernel::LO_NOPE"): 0,
        (K.ENUMVAL_VALUE, "tcp_ca_state::TCP_CA_Recovery"): next(
            v.value for v in state.values if v.name == "TCP_CA_Recovery"
        ),
        (K.FIELD_BYTE_SIZE, "tcp_sock.snd_cwnd"): btflib.sizeof(cwnd.type),
        (K.FIELD_BYTE_OFFSET, "tcp_sock.snd_cwnd"): cwnd_bits // 8,
        (K.FIELD_SIGNED, "tcp_sock.srtt_us"): int(bool(srtt.encoding & btflib.IntEncoding.SIGNED)),
        (K.FIELD_EXISTS, "tcp_sock.snd_cwnd_clamp"): 1,
        (K.FIELD_LSHIFT_U64, "tcp_sock.is_cwnd_limited"): lshift,
        (K.FIELD_RSHIFT_U64, "tcp_sock.is_cwnd_limited"): rshift,
        (K.FIELD_BYTE_SIZE, "tcp_sock.is_cwnd_limited"): size,
        (K.FIELD_BYTE_OFFSET, "tcp_sock.is_cwnd_limited"): byte,
        (K.TYPE_EXISTS, "u32"): 1,
        (K.TYPE_SIZE, "u64"): 8,
    }


def check_core_kinds(target: btflib.Spec) -> None:
    """Every relocation of lo_kind_init equals the value computed from ``target``."""
    spec = load_collection_spec(obj("cc_core_kinds"))
    assert spec.btf is not None
    p = spec.programs["lo_kind_init"]
    code = apply_core(p.name, p.instructions, p.core_relos, spec.btf, target)
    want = expected_core_kinds(target, {"tcp_sock": spec.btf.type_id(spec.btf.find("tcp_sock", btflib.Struct))})
    got = {_key(r, spec.btf): insn_value(code, r.insn_off) for r in p.core_relos}
    assert got == want


def embedded_btf() -> btflib.Spec:
    return btflib.parse(EmulatedKernel().vmlinux_btf())


def test_every_core_kind_against_the_embedded_kernel_btf() -> None:
    check_core_kinds(embedded_btf())


def check_bitfield_and_dport(target: btflib.Spec) -> None:
    """cc_bitfield and cc_skc_dport: bitfield loads and anonymous-member paths resolve."""
    spec = load_collection_spec(obj("cc_bitfield"))
    assert spec.btf is not None
    p = spec.programs["lo_bitf_cong_avoid"]
    code = apply_core(p.name, p.instructions, p.core_relos, spec.btf, target)
    tcp_sock = target.find("tcp_sock", btflib.Struct)
    bits, m = member_path(tcp_sock, ["is_cwnd_limited"])
    byte, size, lshift, rshift = bitfield_load(bits, m.bitfield_size, btflib.sizeof(m.type))
    want = {K.FIELD_BYTE_OFFSET: byte, K.FIELD_BYTE_SIZE: size, K.FIELD_LSHIFT_U64: lshift, K.FIELD_RSHIFT_U64: rshift}
    checked = 0
    for r in p.core_relos:
        if _key(r, spec.btf)[1] == "tcp_sock.is_cwnd_limited" and r.kind in want:
            assert insn_value(code, r.insn_off) == want[r.kind], r
            checked += 1
    assert checked >= 5
    spec = load_collection_spec(obj("cc_skc_dport"))
    assert spec.btf is not None
    p = spec.programs["lo_dport_init"]
    code = apply_core(p.name, p.instructions, p.core_relos, spec.btf, target)
    dport_bits, _ = member_path(target.find("sock", btflib.Struct), ["__sk_common", "skc_dport"])
    dport = [r for r in p.core_relos if _key(r, spec.btf)[1] == "sock.__sk_common.skc_dport"]
    assert len(dport) == 2
    for r in dport:
        assert insn_value(code, r.insn_off) == dport_bits // 8
        assert struct.unpack_from("<Bxxxi", code, r.insn_off * 8) != (0x85, 0xBAD2310)


def test_bitfields_and_skc_dport_against_the_embedded_kernel_btf() -> None:
    check_bitfield_and_dport(embedded_btf())


def test_flavour_matches_and_a_missing_field_is_poisoned_only_where_read() -> None:
    spec = load_collection_spec(obj("cc_core_flavour"))
    assert spec.btf is not None
    target = embedded_btf()
    p = spec.programs["lo_flav_cong_avoid"]
    code = apply_core(p.name, p.instructions, p.core_relos, spec.btf, target)
    tcp_sock = target.find("tcp_sock", btflib.Struct)
    for r in p.core_relos:
        kind, path = _key(r, spec.btf)
        assert path.startswith("tcp_sock___lo.")
        field = path.split(".")[1]
        if field == "lo_field_not_in_kernel":
            if kind == K.FIELD_EXISTS:
                assert insn_value(code, r.insn_off) == 0
            else:
                assert struct.unpack_from("<BBhi", code, r.insn_off * 8) == (0x85, 0, 0, 0xBAD2310)
        else:
            assert insn_value(code, r.insn_off) == member_path(tcp_sock, [field])[0] // 8


def test_core_errors_name_program_instruction_kind_and_access_path() -> None:
    """An ambiguous relocation (two different tcp_sock layouts) is refused with context."""
    spec = load_collection_spec(obj("cc_bitfield"))
    assert spec.btf is not None
    u32 = btflib.Int("unsigned int", 4)
    a = btflib.Struct("tcp_sock", 16, (btflib.Member("reord_seen", u32, 0),))
    b = btflib.Struct("tcp_sock___v2", 16, (btflib.Member("reord_seen", u32, 64),))
    target = btflib.parse(btflib.encode([u32, a, b]))
    p = spec.programs["lo_bitf_cong_avoid"]
    relos = [r for r in p.core_relos if _key(r, spec.btf)[1] == "tcp_sock.reord_seen"]
    with pytest.raises(CoreError) as exc:
        apply_core(p.name, p.instructions, tuple(relos), spec.btf, target)
    text = str(exc.value)
    assert "prog 'lo_bitf_cong_avoid'" in text
    assert f"insn {relos[0].insn_off}" in text
    assert "byte_off tcp_sock.reord_seen" in text and "ambiguity" in text


# -- .BTF.ext at load ------------------------------------------------------------------------


def test_func_info_moves_with_appended_subprograms() -> None:
    spec = load_collection_spec(obj("cc_shared_subprogs"))
    assert spec.btf is not None
    for name in ("lo_sh_ssthresh", "lo_sh_cong_avoid"):
        p = spec.programs[name]
        names = [spec.btf.type_by_id(f.type_id).name for f in p.func_infos]  # type: ignore[attr-defined]
        assert names == [name, *p.subprograms]
        assert p.func_infos[0].insn_off == 0
        kfuncs = {r.insn for r in p.relocations if r.kind.value == "kfunc"}
        starts = sorted(
            i + 1 + struct.unpack_from("<i", p.instructions, i * 8 + 4)[0]
            for i in range(p.insn_count)
            if p.instructions[i * 8] == 0x85 and p.instructions[i * 8 + 1] >> 4 == 1 and i not in kfuncs
        )
        assert [f.insn_off for f in p.func_infos[1:]] == sorted(set(starts))
        offs = [li.insn_off for li in p.line_infos]
        assert offs == sorted(offs) and offs[0] == 0 and offs[-1] < p.insn_count


def test_embedded_kernel_refuses_a_callback_without_func_info() -> None:
    """Linux: a BPF_PSEUDO_FUNC address with no func_info is EINVAL 'missing btf func_info'."""
    spec = load_collection_spec(obj("cc_bpf_loop"))
    p = spec.programs["lo_loop_cong_avoid"]
    p.func_infos = ()
    p.line_infos = ()
    c = Collection(spec)
    with pytest.raises(VerifierError) as exc:
        c.load(EmulatedKernel())
    assert exc.value.errno == errno.EINVAL and "missing btf func_info" in exc.value.log


def test_global_function_refusal_shows_which_function_was_validated() -> None:
    k = EmulatedKernel()
    with pytest.raises(VerifierError) as exc:
        Collection.open(obj("cc_global_nonull")).load(k)
    assert "Validating lo_gbad_add() func#1..." in exc.value.log


# -- maps, externs, globals --------------------------------------------------------------------


def test_btf_defined_maps_get_their_key_and_value_type_ids() -> None:
    spec = load_collection_spec(obj("cc_hash_map"))
    assert spec.btf is not None
    m = spec.maps["lo_hist"]
    assert spec.btf.type_by_id(m.btf_key_type_id).name == "lo_key"  # type: ignore[attr-defined]
    assert spec.btf.type_by_id(m.btf_value_type_id).name == "lo_val"  # type: ignore[attr-defined]
    k = EmulatedKernel()
    with Collection.open(obj("cc_sk_storage")).load(k) as c:
        storage: Any = next(o for o in k.ids["map"] if getattr(o, "name", "") == "lo_sk_state")
        assert storage.btf_key_type_id == c.spec.maps["lo_sk_state"].btf_key_type_id != 0
        assert storage.btf_value_type_id == c.spec.maps["lo_sk_state"].btf_value_type_id != 0


def test_sk_storage_map_without_btf_is_einval_like_linux() -> None:
    k = EmulatedKernel()
    attr = MapCreateAttr(int(MapType.BPF_MAP_TYPE_SK_STORAGE), 4, 16, 0, map_flags=int(MapFlags.BPF_F_NO_PREALLOC))
    with pytest.raises(BpfError) as exc:
        k.bpf(Cmd.BPF_MAP_CREATE, attr)
    assert exc.value.errno == errno.EINVAL


def test_weak_kfunc_missing_is_poisoned_and_its_address_is_zero() -> None:
    k = EmulatedKernel()
    spec = load_collection_spec(obj("cc_ksym_weak"))
    p = spec.programs["lo_weak_init"]
    code = _relocate(p, {n: 3 for n in spec.maps}, spec, KernelTypes.of(k))
    index = list(spec.externs).index("lo_no_such_kfunc")
    poisoned = [
        i
        for i in range(len(code) // 8)
        if struct.unpack_from("<Bxxxi", code, i * 8) == (0x85, POISON_CALL_KFUNC_BASE + index)
    ]
    assert len(poisoned) == 1
    ld = [r for r in p.relocations if r.kind.value == "ksym"]
    by_target = {r.target: struct.unpack_from("<BBhi", code, r.insn * 8) for r in ld}
    assert by_target["lo_no_such_kfunc"][1] >> 4 == 0 and by_target["lo_no_such_kfunc"][3] == 0
    vml = btflib.parse(k.vmlinux_btf())
    kfunc = [r for r in p.relocations if r.kind.value == "kfunc" and r.target == "tcp_reno_ssthresh"]
    for r in kfunc:  # present kfuncs: BPF_PSEUDO_KFUNC_CALL + the FUNC id
        _op, regs, _off, imm = struct.unpack_from("<BBhi", code, r.insn * 8)
        assert regs >> 4 == 2 and imm == vml.type_id(vml.find("tcp_reno_ssthresh", btflib.Func))


def test_strong_missing_kfunc_is_a_load_error_naming_it() -> None:
    with pytest.raises(ELFError, match=r"prog 'lo_strong_init': extern \(kfunc\) 'lo_no_such_kfunc'"):
        Collection.open(obj("cc_ksym_strong_missing")).load(EmulatedKernel())


def test_untyped_ksym_loads_its_kallsyms_address_as_a_constant() -> None:
    """An untyped ``__ksym`` becomes ``ld_imm64`` (src_reg 0) of the symbol's address from the
    kernel's symbol table; a missing ``__weak`` one is 0 (bpf_ksym_exists() false)."""
    k = EmulatedKernel()
    table = k.kallsyms()
    assert table["bbr_main"] is not None and table["bbr_main"] >> 48 == 0xFFFF
    spec = load_collection_spec(obj("cc_ksym_untyped"))
    assert spec.externs["bbr_main"].typeless and spec.externs["lo_no_such_symbol"].weak
    p = spec.programs["lo_ku_init"]
    code = _relocate(p, {n: 3 for n in spec.maps}, spec, KernelTypes.of(k))
    got = {}
    for r in p.relocations:
        if r.kind.value == "ksym":
            op, regs, _off, lo = struct.unpack_from("<BBhI", code, r.insn * 8)
            hi = struct.unpack_from("<I", code, r.insn * 8 + 12)[0]
            assert op == 0x18 and regs >> 4 == 0
            got[r.target] = lo | hi << 32
    assert got == {"bbr_main": table["bbr_main"], "lo_no_such_symbol": 0}
    with load_cc(obj("cc_ksym_untyped"), kernel=k) as cc:
        cc.init(cc.socket())
        assert cc.globals["ku_present"] == table["bbr_main"]
        assert (cc.globals["ku_missing"], cc.globals["ku_missing_exists"]) == (0, 0)


def test_untyped_ksym_resolution_rules() -> None:
    """kallsyms text as libbpf reads it: module symbols by bare name, a name at two
    addresses is ambiguous (a load error naming it), a strong missing one is a load error."""
    table = parse_kallsyms(
        "ffffffff81000000 T start\nffffffffc0001000 t helper\t[mod_a]\nffffffffc0002000 t helper\t[mod_b]\n"
        "ffffffff81000010 T twice\nffffffff81000010 T twice\nbad line\n"
    )
    assert table == {"start": 0xFFFFFFFF81000000, "helper": None, "twice": 0xFFFFFFFF81000010}

    class Ambiguous(EmulatedKernel):
        def kallsyms(self) -> dict[str, int | None]:
            return {"bbr_main": None}

    with pytest.raises(ELFError, match=r"prog 'lo_ku_init': extern \(ksym\) 'bbr_main': resolution is ambiguous"):
        Collection.open(obj("cc_ksym_untyped")).load(Ambiguous())
    with pytest.raises(ELFError, match=r"prog 'lo_kum_init': extern \(ksym\) 'lo_no_such_symbol': not found"):
        Collection.open(obj("cc_ksym_untyped_missing")).load(EmulatedKernel())


def test_arena_globals_become_direct_loads_of_the_arena_map() -> None:
    """``__arena`` globals (``.addr_space.1``): their initial values are the section's bytes,
    each ld_imm64 of one is a BPF_PSEUDO_MAP_VALUE load of the arena map at the globals'
    start + the variable's offset; the start is 0 on kernels that cap direct offsets below
    1 << 30 (libbpf's probe: Linux 6.18 and the embedded kernel both do)."""
    spec = load_collection_spec(obj("arena_counter"))
    assert spec.arena_data == struct.pack("<5i", 5, 1, 2, 3, 4)
    arena = arena_map(spec.maps, spec.arena_data)
    assert arena is not None and (arena.real_name, arena.max_entries) == ("arena", 4)
    k = EmulatedKernel()
    off = arena_data_offset(k, arena, len(spec.arena_data))
    assert off == 0
    p = spec.programs["arena_count"]
    code = _relocate(p, {"arena": 7}, spec, KernelTypes.of(k), (7, 0x3000))
    got = []
    for r in p.relocations:
        op, regs, _o, imm = struct.unpack_from("<BBhi", code, r.insn * 8)
        got.append((op, regs >> 4, imm, struct.unpack_from("<I", code, r.insn * 8 + 12)[0]))
    assert got == [(0x18, 2, 7, 0x3000), (0x18, 2, 7, 0x3004)]  # ar_counter, ar_seen


def test_arena_rules_at_open() -> None:
    """Globals need exactly one declared arena map that can hold them (libbpf's open checks)."""
    spec = load_collection_spec(obj("arena_counter"))
    arena = spec.maps["arena"]
    with pytest.raises(ELFError, match=r"the ARENA map should be explicitly declared"):
        arena_map({}, b"x")
    with pytest.raises(ELFError, match=r"only a single ARENA map is supported"):
        arena_map({"a": arena, "b": arena}, None)
    with pytest.raises(ELFError, match=r"declared ARENA map size \(16384\) is too small"):
        arena_map({"arena": arena}, bytes(16385))
    assert arena_map({"arena": arena}, bytes(16384)) is arena


def test_kconfig_values_come_from_the_kernel_config() -> None:
    k = EmulatedKernel()
    cfg = k.kconfig()
    with Collection.open(obj("cc_kconfig")).load(k) as c:
        assert c.get_global("CONFIG_HZ") == int(cfg["CONFIG_HZ"])
        assert c.get_global("CONFIG_BPF_SYSCALL") == (1 if cfg["CONFIG_BPF_SYSCALL"] == "y" else 0)
        assert c.get_global("CONFIG_DEFAULT_TCP_CONG") == cfg["CONFIG_DEFAULT_TCP_CONG"].strip('"').encode()
        assert c.get_global("CONFIG_LO_DOES_NOT_EXIST") == 0
        version = c.get_global("LINUX_KERNEL_VERSION")
        assert isinstance(version, int) and version > 0


def test_custom_data_sections_are_maps_of_their_own() -> None:
    with Collection.open(obj("cc_custom_sections")).load(EmulatedKernel()) as c:
        assert {".data.lo_tunables", ".rodata.lo_consts", ".bss"} <= set(c.maps)
        assert c.maps[".data.lo_tunables"].value_size == 8
        assert (c.get_global("lo_beta"), c.get_global("lo_gain"), c.get_global("lo_min_cwnd")) == (717, 3, 2)
        c.set_global("lo_beta", 500)
        assert struct.unpack_from("<I", c.maps[".data.lo_tunables"].lookup(0), 0)[0] == 500
        with pytest.raises(BpfError) as exc:
            c.set_global("lo_min_cwnd", 9)  # .rodata.* is frozen after load
        assert exc.value.errno == errno.EPERM


def test_globals_typed_from_btf_before_and_after_load() -> None:
    c = Collection.open(obj("cc_globals"))
    initial = {
        "lo_cfg_floor": 2,
        "lo_cfg_mode": 7,
        "lo_i8": -5,
        "lo_u16": 65000,
        "lo_i32": -100000,
        "lo_u64": 1 << 40,
        "lo_flag": 1,
        "lo_tag": b"lo",
        "lo_pair": struct.pack("<Ih2x", 1, -2),
    }
    assert {n: c.get_global(n) for n in initial} == initial
    c.set_global("lo_cfg_floor", 9)
    c.set_global("lo_tag", b"hello")
    with pytest.raises(ValueError):
        c.set_global("lo_i8", 300)
    with pytest.raises(KeyError):
        c.get_global("no_such_var")
    c.load(EmulatedKernel())
    try:
        assert c.get_global("lo_cfg_floor") == 9 and c.get_global("lo_tag") == b"hello"
        c.set_global("lo_i32", -7)
        assert c.get_global("lo_i32") == -7
    finally:
        c.close()


def test_the_object_btf_loads_on_the_embedded_kernel_after_extern_fixups() -> None:
    """.ksyms FUNC/VAR entries rewritten like libbpf: the kernel accepts the object's BTF."""
    spec = load_collection_spec(obj("cc_ksym_weak"))
    k = EmulatedKernel()
    fd = k.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=spec.btf_raw))
    k.close(fd)
    assert spec.btf is not None
    ksyms = spec.btf.find(".ksyms", btflib.Datasec)
    assert [v.offset for v in ksyms.vars] == [4 * i for i in range(len(ksyms.vars))]
    assert all(
        isinstance(v.type, btflib.Var) and v.type.linkage == btflib.VarLinkage.GLOBAL_ALLOCATED for v in ksyms.vars
    )
    funcs = [t for t in spec.btf.types if isinstance(t, btflib.Func) and t.name == "lo_no_such_kfunc"]
    assert funcs and funcs[0].linkage == btflib.FuncLinkage.GLOBAL


def test_core_error_is_an_elf_error() -> None:
    assert issubclass(CoreError, ELFError)


@pytest.mark.parametrize(
    ("name", "cc"), [("cc_bitfield", "lo_bitf"), ("cc_global_subprog", "lo_gsub"), ("cc_bpf_loop", "lo_loop")]
)
def test_corpus_ccs_run_in_the_simulator(name: str, cc: str) -> None:
    """``structops run`` registers the CC on the embedded kernel and drives flows with it."""
    import io

    from structops.cli import main

    out = io.StringIO()
    rc = main(["run", str(obj(name)), "--duration", "1", "--flows", "1", "--no-progress"], out)
    text = out.getvalue()
    assert rc == 0, text
    rows = [line for line in text.splitlines() if f" {cc} " in line]
    assert rows, text
    mbit = float(text.split("total ", 1)[1].split(" Mbit/s", 1)[0])
    assert mbit > 1.0


def test_core_candidates_come_from_module_btf_when_vmlinux_has_none() -> None:
    """libbpf searches module BTFs (their own types) when vmlinux has no candidate."""
    from pathlib import Path

    import structops.kernel as kernel_pkg
    from structops.loader.btf_ext import CoreRelo
    from structops.loader.core import relocate

    data = Path(kernel_pkg.__file__).parent / "data"
    vml = btflib.parse((data / "vmlinux.btf").read_bytes())
    mod = btflib.parse((data / "bpf_testmod.btf").read_bytes(), base=vml)
    ptr = btflib.Pointer(btflib.Void())
    local_t = btflib.Struct("bpf_testmod_ops___lo", 16, (btflib.Member("x", ptr, 0), btflib.Member("test_2", ptr, 64)))
    local = btflib.parse(btflib.encode([btflib.Void(), local_t]))
    tid = local.type_id(local.find("bpf_testmod_ops___lo"))
    relo = CoreRelo(0, tid, 0, K.FIELD_BYTE_OFFSET, "0:1")
    assert relocate(relo, local, vml).poison
    real = mod.find("bpf_testmod_ops", btflib.Struct)
    want = next(m.bit_offset for m in real.members if m.name == "test_2") // 8
    res = relocate(relo, local, vml, modules=[mod])
    assert (res.poison, res.target, res.target_type_id) == (False, want, mod.type_id(real))


def test_cli_prints_the_program_and_the_log_of_a_refusal_on_the_embedded_kernel() -> None:
    import contextlib
    import io

    from structops.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["struct_ops", "register", str(obj("cc_verifier_reject"))], out)
    text = out.getvalue() + err.getvalue()
    assert rc != 0
    assert "program 'lo_rej_cong_avoid'" in text
    assert "access beyond struct tcp_sock at off 60000 size 8" in text
    assert "permission denied" not in text
