"""The ``.BTF.ext`` section: func_info, line_info and CO-RE relocation records.

Layout (kernel ``Documentation/bpf/btf.rst`` section 4.2, ``struct btf_ext_header``)::

    struct btf_ext_header {
        __u16 magic;            /* 0xeB9F */
        __u8  version;          /* 1 */
        __u8  flags;
        __u32 hdr_len;
        __u32 func_info_off, func_info_len;   /* relative to the end of the header */
        __u32 line_info_off, line_info_len;
        __u32 core_relo_off, core_relo_len;   /* optional: present when hdr_len >= 32 */
    };

Each of the three sub-sections is ``__u32 rec_size`` followed by per-ELF-section blocks
``{ __u32 sec_name_off; __u32 num_info; __u8 data[num_info * rec_size]; }``::

    struct bpf_func_info { __u32 insn_off; __u32 type_id; };
    struct bpf_line_info { __u32 insn_off; __u32 file_name_off; __u32 line_off; __u32 line_col; };
    struct bpf_core_relo { __u32 insn_off; __u32 type_id; __u32 access_str_off;
                           enum bpf_core_relo_kind kind; };

In the ELF file ``insn_off`` is a *byte* offset into the named code section; records
here carry the *instruction index* (byte offset / 8) as the kernel expects.  String
offsets point into the string section of ``.BTF``.  Records longer than the known
layout (a newer compiler) are accepted and their extra bytes ignored, as libbpf does.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from structops.errors import ELFError

__all__ = ["BTFExt", "CoreRelo", "CoreReloKind", "FuncInfo", "LineInfo", "parse_btf_ext"]

BTF_EXT_MAGIC: Final = 0xEB9F
_HDR = struct.Struct("<HBBIIIII")
_CORE_HDR = struct.Struct("<II")
MIN_HDR_LEN: Final = _HDR.size  # 24
FUNC_INFO_MIN: Final = 8
LINE_INFO_MIN: Final = 16
CORE_RELO_MIN: Final = 16
INSN_SIZE: Final = 8


class CoreReloKind(enum.IntEnum):
    """``enum bpf_core_relo_kind`` (include/uapi/linux/bpf.h)."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12

    @property
    def is_field(self) -> bool:
        """True for the FIELD_* kinds (an access path through a struct/union)."""
        return self <= CoreReloKind.FIELD_RSHIFT_U64

    @property
    def is_type(self) -> bool:
        """True for TYPE_ID_* / TYPE_EXISTS / TYPE_SIZE / TYPE_MATCHES."""
        return self in _TYPE_KINDS

    @property
    def is_enumval(self) -> bool:
        """True for ENUMVAL_EXISTS / ENUMVAL_VALUE."""
        return self in (CoreReloKind.ENUMVAL_EXISTS, CoreReloKind.ENUMVAL_VALUE)


_TYPE_KINDS = frozenset(
    {
        CoreReloKind.TYPE_ID_LOCAL,
        CoreReloKind.TYPE_ID_TARGET,
        CoreReloKind.TYPE_EXISTS,
        CoreReloKind.TYPE_SIZE,
        CoreReloKind.TYPE_MATCHES,
    }
)


@dataclass(frozen=True, slots=True)
class FuncInfo:
    """``struct bpf_func_info``: the BTF FUNC ``type_id`` of the function at ``insn_off``."""

    insn_off: int
    type_id: int


@dataclass(frozen=True, slots=True)
class LineInfo:
    """``struct bpf_line_info`` with its strings resolved; ``line``/``col`` from line_col."""

    insn_off: int
    file_name_off: int
    line_off: int
    line_col: int
    file_name: str = ""
    line_text: str = ""

    @property
    def line(self) -> int:
        """Source line number (``line_col >> 10``)."""
        return self.line_col >> 10

    @property
    def col(self) -> int:
        """Source column (``line_col & 0x3ff``)."""
        return self.line_col & 0x3FF


@dataclass(frozen=True, slots=True)
class CoreRelo:
    """``struct bpf_core_relo``: relocate the instruction at ``insn_off`` (see CoreReloKind).

    ``access_str`` is the resolved access specification: ``"0:1:2"`` (field path of
    indices) for field kinds, ``"0"`` for type kinds, the enumerator index for enum kinds.
    """

    insn_off: int
    type_id: int
    access_str_off: int
    kind: CoreReloKind
    access_str: str = ""

    @property
    def access_spec(self) -> tuple[int, ...]:
        """The access string as integers (ELFError if it is not ``n[:n...]``)."""
        try:
            return tuple(int(p) for p in self.access_str.split(":"))
        except ValueError:
            raise ELFError(f"CO-RE relocation at insn {self.insn_off}: bad access string {self.access_str!r}") from None


@dataclass(slots=True)
class BTFExt:
    """Parsed ``.BTF.ext``: per ELF section name, the records with instruction indices."""

    func_info: dict[str, list[FuncInfo]] = field(default_factory=dict)
    line_info: dict[str, list[LineInfo]] = field(default_factory=dict)
    core_relos: dict[str, list[CoreRelo]] = field(default_factory=dict)
    func_info_rec_size: int = FUNC_INFO_MIN
    line_info_rec_size: int = LINE_INFO_MIN
    core_relo_rec_size: int = CORE_RELO_MIN
    flags: int = 0

    def counts(self) -> tuple[int, int, int]:
        """Total number of (func_info, line_info, core_relo) records."""
        return (
            sum(len(v) for v in self.func_info.values()),
            sum(len(v) for v in self.line_info.values()),
            sum(len(v) for v in self.core_relos.values()),
        )


StringLookup = Callable[[int], str]


_Rec = TypeVar("_Rec")


def _blocks(
    data: bytes, start: int, length: int, min_rec: int, what: str, string: StringLookup
) -> tuple[int, list[tuple[str, int, list[bytes]]]]:
    """Split one sub-section into (rec_size, [(section name, first byte offset, records)])."""
    if length == 0:
        return min_rec, []
    end = start + length
    if start > len(data) or end > len(data):
        raise ELFError(f".BTF.ext {what}: [{start}, {end}) is outside the section ({len(data)} bytes)")
    if length < 4:
        raise ELFError(f".BTF.ext {what}: {length} bytes is too short for a record size")
    rec_size = struct.unpack_from("<I", data, start)[0]
    if rec_size < min_rec or rec_size % 4:
        raise ELFError(f".BTF.ext {what}: bad record size {rec_size} (minimum {min_rec}, multiple of 4)")
    pos = start + 4
    blocks = []
    while pos < end:
        if end - pos < 8:
            raise ELFError(f".BTF.ext {what}: truncated section header at byte {pos}")
        name_off, num = struct.unpack_from("<II", data, pos)
        pos += 8
        if num == 0:
            raise ELFError(f".BTF.ext {what}: section block at byte {pos - 8} has no records")
        if num > (end - pos) // rec_size:
            raise ELFError(
                f".BTF.ext {what}: {num} records of {rec_size} bytes do not fit in the remaining {end - pos} bytes"
            )
        try:
            sec = string(name_off)
        except Exception as e:
            raise ELFError(f".BTF.ext {what}: bad section name offset {name_off}: {e}") from e
        recs = [data[pos + i * rec_size : pos + (i + 1) * rec_size] for i in range(num)]
        blocks.append((sec, pos, recs))
        pos += num * rec_size
    return rec_size, blocks


def _section(
    data: bytes,
    start: int,
    length: int,
    min_rec: int,
    what: str,
    string: StringLookup,
    out: dict[str, list[_Rec]],
    decode: Callable[[str, bytes], _Rec],
) -> int:
    """Decode one sub-section's records into ``out`` (per ELF section, in order); its record size."""
    size, blocks = _blocks(data, start, length, min_rec, what, string)
    for sec, _pos, recs in blocks:
        records = out.setdefault(sec, [])
        for r in recs:
            records.append(decode(sec, r))
    return size


def _insn(off: int, what: str, sec: str) -> int:
    if off % INSN_SIZE:
        raise ELFError(f".BTF.ext {what} of {sec!r}: insn_off {off} is not a multiple of {INSN_SIZE}")
    return off // INSN_SIZE


def _str(string: StringLookup, off: int, what: str) -> str:
    try:
        return string(off)
    except Exception as e:
        raise ELFError(f".BTF.ext {what}: bad string offset {off}: {e}") from e


def parse_btf_ext(data: bytes, string: StringLookup) -> BTFExt:
    """Parse a raw ``.BTF.ext`` section; ``string(off)`` reads the ``.BTF`` string table.

    Raises ELFError for a bad magic/version, sub-sections outside the data, bad record
    sizes, empty or overflowing blocks, unaligned instruction offsets, bad strings and
    unknown CO-RE kinds.
    """
    if len(data) < MIN_HDR_LEN:
        raise ELFError(f".BTF.ext: {len(data)} bytes is shorter than its header")
    magic, version, flags, hdr_len, fi_off, fi_len, li_off, li_len = _HDR.unpack_from(data, 0)
    if magic != BTF_EXT_MAGIC:
        raise ELFError(f".BTF.ext: bad magic {magic:#06x} (big-endian .BTF.ext is not supported)")
    if version != 1:
        raise ELFError(f".BTF.ext: unsupported version {version}")
    if hdr_len < MIN_HDR_LEN or hdr_len > len(data):
        raise ELFError(f".BTF.ext: bad header length {hdr_len}")
    cr_off = cr_len = 0
    if hdr_len >= MIN_HDR_LEN + _CORE_HDR.size:
        cr_off, cr_len = _CORE_HDR.unpack_from(data, MIN_HDR_LEN)
    ext = BTFExt(flags=flags)

    def func_info(sec: str, r: bytes) -> FuncInfo:
        off, tid = struct.unpack_from("<II", r)
        return FuncInfo(_insn(off, "func_info", sec), tid)

    def line_info(sec: str, r: bytes) -> LineInfo:
        off, fname, loff, lcol = struct.unpack_from("<IIII", r)
        return LineInfo(
            _insn(off, "line_info", sec),
            fname,
            loff,
            lcol,
            _str(string, fname, "line_info file name"),
            _str(string, loff, "line_info line"),
        )

    def core_relo(sec: str, r: bytes) -> CoreRelo:
        off, tid, acc, kind = struct.unpack_from("<IIII", r)
        try:
            k = CoreReloKind(kind)
        except ValueError:
            raise ELFError(f".BTF.ext core_relo of {sec!r}: unknown relocation kind {kind}") from None
        return CoreRelo(_insn(off, "core_relo", sec), tid, acc, k, _str(string, acc, "core_relo"))

    ext.func_info_rec_size = _section(
        data, hdr_len + fi_off, fi_len, FUNC_INFO_MIN, "func_info", string, ext.func_info, func_info
    )
    ext.line_info_rec_size = _section(
        data, hdr_len + li_off, li_len, LINE_INFO_MIN, "line_info", string, ext.line_info, line_info
    )
    ext.core_relo_rec_size = _section(
        data, hdr_len + cr_off, cr_len, CORE_RELO_MIN, "core_relo", string, ext.core_relos, core_relo
    )
    return ext
