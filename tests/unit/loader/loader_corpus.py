"""The loader corpus of issue 11 (``testdata/loader``): objects and the verdict Linux gives.

Each verdict was taken from Linux 6.18 (tests/kernel/test_loader_corpus_real.py checks it
there through ``LinuxKernel``); the embedded kernel must give the same one
(tests/unit/loader/test_loader_corpus.py).  Shared by both test files.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from pathlib import Path

from structops import btf as btflib

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "testdata" / "loader"


@dataclass(frozen=True)
class Verdict:
    """``ok``, or a refusal: kind "verifier" (errno + a log line), "loader" (message part) or
    "map" (a map the kernel refuses to create: errno)."""

    kind: str = "ok"
    errno: int = 0
    text: str = ""
    program: str = ""


OK = Verdict()
VERDICTS: dict[str, Verdict] = {
    # Linux 6.18 here refuses to create the arena map itself (EPERM, as root with every capability)
    "arena_counter": Verdict("map", errno.EPERM, "map create", "arena"),
    "big_prog": OK,
    "cc_bitfield": OK,
    "cc_bpf_loop": OK,
    "cc_core_array": OK,
    "cc_core_flavour": OK,
    "cc_core_kinds": OK,
    "cc_core_poison": Verdict("verifier", errno.EINVAL, "invalid func unknown#195896080", "lo_pois_cong_avoid"),
    "cc_custom_sections": OK,
    "cc_enum64_core": OK,
    "cc_for_each_map": OK,
    "cc_global_nonull": Verdict("verifier", errno.EACCES, "R1 invalid mem access 'mem_or_null'", "lo_gbad_cong_avoid"),
    "cc_global_nullcheck": OK,
    "cc_global_subprog": OK,
    "cc_globals": OK,
    "cc_hash_map": OK,
    "cc_kconfig": OK,
    "cc_ksym_strong_missing": Verdict("loader", 0, "extern (kfunc) 'lo_no_such_kfunc': not found", "lo_strong_init"),
    "cc_ksym_untyped": OK,
    "cc_ksym_untyped_missing": Verdict("loader", 0, "extern (ksym) 'lo_no_such_symbol': not found", "lo_kum_init"),
    "cc_ksym_var": OK,
    "cc_ksym_weak": OK,
    "cc_long_name": OK,
    "cc_loop_global": OK,
    "cc_optional_struct_ops": OK,
    "cc_rodata_config": OK,
    "cc_shared_subprogs": OK,
    "cc_sk_storage": OK,
    "cc_skc_dport": OK,
    "cc_static_subprog": OK,
    "cc_timer": OK,
    "cc_timer_bad_off": Verdict(
        "verifier", errno.EINVAL, "off 16 doesn't point to 'struct bpf_timer' that is at 0", "lo_tb_init"
    ),
    "cc_timer_cb_ret": Verdict(
        "verifier",
        errno.EINVAL,
        "At async callback return the register R0 has smin=0 smax=1 should have been in [0, 0]",
        "lo_tr_init",
    ),
    "cc_timer_direct": Verdict(
        "verifier", errno.EACCES, "bpf_timer cannot be accessed directly by load/store", "lo_td_init"
    ),
    "cc_bpf_for": OK,
    "cc_iter_leak": Verdict("verifier", errno.EINVAL, "Unreleased reference id=1 alloc_insn=8", "lo_il_cong_avoid"),
    "cc_verifier_reject": Verdict(
        "verifier", errno.EACCES, "access beyond struct tcp_sock at off 60000 size 8", "lo_rej_cong_avoid"
    ),
    "dummy_global": OK,
    "legacy_bitfield": OK,
    "legacy_loop": OK,
}

#: Objects whose verdict the embedded kernel does not reproduce yet, with the reason.
EMBEDDED_GAPS: dict[str, str] = {
    "arena_counter": "BPF_MAP_TYPE_ARENA is not implemented by the embedded kernel (EINVAL, unknown map type)",
}


def obj(name: str) -> Path:
    """Path of corpus object ``name``."""
    return CORPUS / f"{name}.bpf.o"


# -- independent expectations computed from a target BTF ----------------------------------------


def member_path(t: btflib.Type, names: list[str]) -> tuple[int, btflib.Member]:
    """Bit offset and member of ``a.b.c`` in struct ``t``, searching anonymous members by name."""
    bits = 0
    cur = btflib.underlying(t)
    found: btflib.Member | None = None
    for name in names:
        hit = _find(cur, name)
        assert hit is not None, f"{name} not in {cur!r}"
        off, found = hit
        bits += off
        cur = btflib.underlying(found.type)
    assert found is not None
    return bits, found


def _find(t: btflib.Type, name: str) -> tuple[int, btflib.Member] | None:
    if not isinstance(t, btflib.Struct | btflib.Union):
        return None
    for m in t.members:
        if m.name == name:
            return m.bit_offset, m
        if not m.name:
            inner = _find(btflib.underlying(m.type), name)
            if inner is not None:
                return m.bit_offset + inner[0], inner[1]
    return None


def bitfield_load(bit_off: int, bits: int, type_size: int) -> tuple[int, int, int, int]:
    """(byte offset, load size, lshift, rshift) to read a bitfield with one aligned load."""
    size = type_size
    while True:
        start = bit_off // 8 // size * size
        if bit_off + bits <= (start + size) * 8:
            return start, size, 64 - (bit_off + bits - start * 8), 64 - bits
        size *= 2


def insn_value(code: bytes, index: int) -> int:
    """The value a CO-RE relocation patched into instruction ``index`` (off, imm or imm64)."""
    op, _regs, off, imm = struct.unpack_from("<BBhi", code, index * 8)
    if op & 7 in (1, 2, 3):
        return int(off)
    if op == 0x18:
        hi = int(struct.unpack_from("<I", code, index * 8 + 12)[0])
        return (int(imm) & 0xFFFFFFFF) | hi << 32
    return int(imm)
