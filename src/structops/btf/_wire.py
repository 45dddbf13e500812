"""BTF wire format: header, kind numbers and record layouts (kernel Documentation/bpf/btf.rst).

A raw BTF blob is a header followed by a type section and a string section::

    struct btf_header {            /* 24 bytes in version 1, hdr_len may be larger */
        __u16 magic;               /* 0xeB9F, in the blob's byte order */
        __u8  version;             /* 1 */
        __u8  flags;
        __u32 hdr_len;
        __u32 type_off, type_len;  /* relative to the end of the header */
        __u32 str_off,  str_len;
    };
    struct btf_type { __u32 name_off; __u32 info; __u32 size_or_type; };

``info`` packs ``vlen`` (bits 0-15), ``kind`` (bits 24-28) and ``kind_flag`` (bit 31).
Every record is a whole number of 32-bit words, so the type section is decoded as an
array of words in one pass (see :mod:`structops.btf.parse`).
"""

from __future__ import annotations

import enum
import struct
import sys
from dataclasses import dataclass
from typing import Final, Literal

from structops.errors import BTFError

__all__ = [
    "HEADER_LEN",
    "MAGIC",
    "MAX_TYPE_ID",
    "VERSION",
    "Header",
    "Kind",
    "extra_words",
    "parse_header",
]

MAGIC: Final = 0xEB9F
VERSION: Final = 1
HEADER_LEN: Final = 24
#: Largest type id the kernel accepts (BTF_MAX_TYPE).
MAX_TYPE_ID: Final = 0x000FFFFF
#: Largest name offset the kernel accepts (BTF_MAX_NAME_OFFSET).
MAX_NAME_OFFSET: Final = 0x00FFFFFF

ByteOrder = Literal["little", "big"]


class Kind(enum.IntEnum):
    """BTF_KIND_* numbers (btf.rst section 2.2, include/uapi/linux/btf.h)."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


#: Words after the 3-word common header that every record of a kind has.
_FIXED: Final[dict[int, int]] = {Kind.INT: 1, Kind.ARRAY: 3, Kind.VAR: 1, Kind.DECL_TAG: 1}
#: Words per ``vlen`` entry (btf_member 3, btf_enum 2, btf_param 2, btf_var_secinfo 3, btf_enum64 3).
_PER_ENTRY: Final[dict[int, int]] = {
    Kind.STRUCT: 3,
    Kind.UNION: 3,
    Kind.ENUM: 2,
    Kind.FUNC_PROTO: 2,
    Kind.DATASEC: 3,
    Kind.ENUM64: 3,
}

#: Per kind number (0..31): words of the common header plus fixed trailer; ``None`` if unknown.
BASE_WORDS: Final[tuple[int | None, ...]] = tuple(
    (3 + _FIXED.get(k, 0)) if 1 <= k <= max(Kind) else None for k in range(32)
)
#: Per kind number (0..31): words per vlen entry (0 for kinds whose vlen must be 0).
ENTRY_WORDS: Final[tuple[int, ...]] = tuple(_PER_ENTRY.get(k, 0) for k in range(32))


def extra_words(kind: int, vlen: int) -> int:
    """Return the number of words a record of ``kind`` with ``vlen`` entries occupies."""
    base = BASE_WORDS[kind & 31]
    if base is None:
        raise BTFError(f"unknown BTF kind {kind}")
    return base + ENTRY_WORDS[kind] * vlen


@dataclass(frozen=True, slots=True)
class Header:
    """A decoded ``struct btf_header`` (btf.rst section 2.1)."""

    byte_order: ByteOrder
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int

    @property
    def type_start(self) -> int:
        """Absolute offset of the type section in the blob."""
        return self.hdr_len + self.type_off

    @property
    def str_start(self) -> int:
        """Absolute offset of the string section in the blob."""
        return self.hdr_len + self.str_off


_HDR = {"little": struct.Struct("<HBBIIIII"), "big": struct.Struct(">HBBIIIII")}
NATIVE_ORDER: Final[ByteOrder] = "little" if sys.byteorder == "little" else "big"


def parse_header(data: bytes) -> Header:
    """Decode and check the BTF header; the byte order is taken from the magic.

    Checks mirror the kernel's btf_parse_hdr / btf_check_sec_info: magic, version 1,
    ``hdr_len`` at least 24 and inside the blob (any extra header bytes must be zero),
    sections inside the blob, 4-byte aligned type section, string section after it.
    """
    if len(data) < HEADER_LEN:
        raise BTFError(f"truncated BTF: {len(data)} bytes, the header alone needs {HEADER_LEN}")
    order: ByteOrder
    if data[0] == 0x9F and data[1] == 0xEB:
        order = "little"
    elif data[0] == 0xEB and data[1] == 0x9F:
        order = "big"
    else:
        raise BTFError(f"bad BTF magic {data[0]:02x}{data[1]:02x}, want 0xeb9f in either byte order")
    _, version, flags, hdr_len, type_off, type_len, str_off, str_len = _HDR[order].unpack_from(data)
    if version != VERSION:
        raise BTFError(f"unsupported BTF version {version}, want {VERSION}")
    if flags != 0:
        raise BTFError(f"unsupported BTF header flags {flags:#x}")
    if hdr_len < HEADER_LEN:
        raise BTFError(f"bad BTF hdr_len {hdr_len}: smaller than {HEADER_LEN}")
    if hdr_len > len(data):
        raise BTFError(f"bad BTF hdr_len {hdr_len}: larger than the blob ({len(data)} bytes)")
    if any(data[HEADER_LEN:hdr_len]):
        raise BTFError("unsupported BTF header: non-zero bytes in the header extension")
    hdr = Header(order, version, flags, hdr_len, type_off, type_len, str_off, str_len)
    end = len(data)
    if hdr.type_start + type_len > end:
        raise BTFError(f"truncated BTF: type section [{hdr.type_start}, +{type_len}) beyond {end} bytes")
    if hdr.str_start + str_len > end:
        raise BTFError(f"truncated BTF: string section [{hdr.str_start}, +{str_len}) beyond {end} bytes")
    if type_off % 4 or type_len % 4:
        raise BTFError(f"unaligned BTF type section (off {type_off}, len {type_len})")
    if type_off + type_len > str_off and str_len and type_len:
        raise BTFError("BTF type and string sections overlap or are out of order")
    return hdr
