"""``structops.abi.attrs``: records built from the tables pack byte-exactly as ``union bpf_attr``."""

from __future__ import annotations

import ast
import struct
from pathlib import Path

import pytest

from structops.abi import attrs as A
from structops.abi.consts import BPF_ATTR_SIZE, AttachType, MapType, ProgType

ALL = [getattr(A, n) for n in A.__all__ if n.endswith("Attr") and n != "Attr"]


class Pins:
    """A fake ``pin``: hands out increasing addresses and remembers what it pinned."""

    def __init__(self) -> None:
        self.pinned: list[bytes] = []

    def __call__(self, buf: bytes | bytearray) -> int:
        self.pinned.append(bytes(buf))
        return 0x1000 * len(self.pinned)


def test_map_create_packs_like_the_c_struct() -> None:
    """Byte-exact against a layout written with struct.pack (offsets of bpf.h)."""
    attr = A.MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 16, map_flags=0x400, map_name="counts", map_extra=7)
    raw = attr.pack(Pins())
    want = struct.pack("<7I16s", 2, 4, 8, 16, 0x400, 0, 0, b"counts") + bytes(20) + struct.pack("<Q", 7)
    assert len(raw) == BPF_ATTR_SIZE
    assert raw[: len(want)] == want and not any(raw[len(want) :])


def test_prog_load_derives_counts_from_buffers() -> None:
    """insn_cnt = len/8, log_size = len, func_info_cnt = len / rec size; explicit counts win."""
    pins = Pins()
    attr = A.ProgLoadAttr(
        ProgType.BPF_PROG_TYPE_STRUCT_OPS,
        bytes(24),
        log_buf=bytearray(100),
        func_info_rec_size=8,
        func_info=bytes(16),
        line_info=bytes(32),
    )
    raw = attr.pack(pins)
    (insn_cnt,) = struct.unpack_from("<I", raw, 4)
    insns, license_ = struct.unpack_from("<QQ", raw, 8)
    assert insn_cnt == 3 and insns == 0x1000 and pins.pinned[1] == b"GPL\0" and license_ == 0x2000
    assert struct.unpack_from("<I", raw, 28)[0] == 100
    assert struct.unpack_from("<I", raw, 88)[0] == 2  # func_info_cnt
    assert struct.unpack_from("<I", raw, 104)[0] == 0  # line_info: no record size, no count
    raw = attr.replace(insn_cnt=99, func_info_cnt=0).pack(Pins())
    assert struct.unpack_from("<I", raw, 4)[0] == 99 and struct.unpack_from("<I", raw, 88)[0] == 0


def test_tail_goes_after_the_group_end() -> None:
    """``tail`` bytes land at END, the offset past the kernel's last field (C1, U0a)."""
    for cls, args in ((A.LinkDetachAttr, (3,)), (A.MapCreateAttr, (2, 4, 4, 1))):
        raw = cls(*args, tail=b"\x01\x02").pack(Pins())
        assert raw[cls.END : cls.END + 2] == b"\x01\x02"
        assert cls.LAYOUT.size == cls.END


def test_outputs_come_back_from_the_written_fields() -> None:
    """unpack_outputs copies retval/duration/sizes (test_run), next_id, info_len, log_true_size."""
    attr = A.TestRunAttr(5, ctx_in=bytes(8))
    raw = bytearray(BPF_ATTR_SIZE)
    struct.pack_into("<IIII", raw, 0, 5, 42, 0, 16)
    struct.pack_into("<I", raw, 36, 1234)
    attr.unpack_outputs(bytes(raw))
    assert (attr.retval, attr.data_size_out, attr.duration) == (42, 16, 1234)
    assert attr.ctx_size_in is None  # inputs are not overwritten
    g = A.GetIdAttr(id=3)
    g.unpack_outputs(struct.pack("<II", 3, 9).ljust(BPF_ATTR_SIZE, b"\0"))
    assert g.next_id == 9
    p = A.ProgLoadAttr(27, bytes(8))
    p.unpack_outputs(bytes(140) + struct.pack("<I", 77) + bytes(24))
    assert p.log_true_size == 77


def test_constructor_checks_like_a_dataclass() -> None:
    """Required positionals, keyword-only rest, unknown names refused, defaults per table."""
    with pytest.raises(TypeError, match="missing required"):
        A.MapCreateAttr(2, 4, 4)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword"):
        A.MapElemAttr(3, colour=1)
    with pytest.raises(TypeError, match="multiple values"):
        A.MapElemAttr(3, map_fd=4)
    with pytest.raises(TypeError, match="positional"):
        A.LinkDetachAttr(1, 2)
    attr = A.ProgLoadAttr(27, b"")
    assert attr.license == "GPL" and attr.insn_cnt is None and attr.prog_name == "" and attr.tail == b""
    assert A.InfoAttr(3).info == bytearray(256) and A.InfoAttr(3).info is not A.InfoAttr(3).info
    with pytest.raises(AttributeError, match="map_flgas"):
        attr.map_flgas = 1


def test_records_compare_copy_and_print() -> None:
    """==, replace() and repr() behave like the dataclasses they replace."""
    a = A.LinkCreateAttr.struct_ops(7)
    assert a.map_fd == a.prog_fd == 7 and a.attach_type == AttachType.BPF_STRUCT_OPS
    b = a.replace(flags=1)
    assert b != a and b.replace(flags=0) == a and isinstance(b, A.LinkCreateAttr)
    assert "prog_fd=7" in repr(a) and repr(a).startswith("LinkCreateAttr(")
    with pytest.raises(TypeError):
        hash(a)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_record_packs_with_defaults(cls: type[A.Attr]) -> None:
    """Each command's record packs to 168 bytes with only its required arguments."""
    args = [b"x" if name in ("insns", "btf", "pathname") else 1 for name in cls.ARGS[: cls.REQUIRED]]
    raw = cls(*args).pack(Pins())
    assert len(raw) == BPF_ATTR_SIZE and not any(raw[cls.END :])


def _statically_typed_names() -> set[str]:
    """Names given a non-int static type in ``Attr``'s TYPE_CHECKING block (read with ast)."""
    tree = ast.parse(Path(A.__file__).read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Attr")
    block = next(n for n in cls.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    return {t.id for n in block.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}


def test_static_types_follow_the_tables() -> None:
    """Every buffer, name and derived-length field has a declared static type, and only those
    (all other fields are integers), so type checkers see what the tables say."""
    wanted = {"tail"}
    for cls in ALL:
        lay = cls.LAYOUT
        wanted |= {f.name for f in lay if f.is_pointer or f.is_bytes or f.name in lay.counted}
    assert _statically_typed_names() == wanted
