"""Typed ``union bpf_attr`` members, one dataclass per bpf() command group.

Each attr is a plain dataclass the embedded kernel reads directly; :meth:`Attr.pack`
lays it out byte-exactly as the real ``union bpf_attr`` of Linux 6.18 (offsets in
``LAYOUT``, checked against the running kernel's BTF in the tests) for the Linux
backend.  Buffer fields hold Python objects instead of addresses:

* ``bytes`` for input buffers (``insns``, ``key``, ``btf``, ``ctx_in``),
* ``bytearray`` for output buffers (lookup ``value``, ``log_buf``, ``info``, ``ctx_out``);
  the kernel writes into them in place, on both backends.

A matching length field (``insn_cnt``, ``log_size`` ...) is derived from the buffer
unless set explicitly (non-None), so tests can send inconsistent lengths on purpose.
``tail`` holds bytes placed after the last known field, to exercise the kernel's
"unused attr bytes must be zero" rule (C1, U0a).
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from structops.uapi import BPF_ATTR_SIZE

Kind = Literal["u32", "s32", "u64", "name", "in", "out", "cstr"]

__all__ = [
    "Attr",
    "BtfLoadAttr",
    "FieldSpec",
    "GetIdAttr",
    "InfoAttr",
    "LinkCreateAttr",
    "LinkDetachAttr",
    "LinkUpdateAttr",
    "MapCreateAttr",
    "MapElemAttr",
    "MapFreezeAttr",
    "ObjPinAttr",
    "ProgAssocStructOpsAttr",
    "ProgBindMapAttr",
    "ProgLoadAttr",
    "TestRunAttr",
]


@dataclass(frozen=True)
class FieldSpec:
    """Where one attr field lives in ``union bpf_attr``.

    ``length`` names the int field that carries this buffer's length and ``unit`` the
    divisor (``insn_cnt`` counts 8-byte instructions).
    """

    name: str
    offset: int
    kind: Kind
    length: str | None = None
    unit: int = 1


#: Allocates a pinned buffer for a Python bytes object and returns its address.
Pin = Callable[[bytes | bytearray], int]


@dataclass
class Attr:
    """Base class: the layout table and the generic packer."""

    LAYOUT: ClassVar[tuple[FieldSpec, ...]] = ()
    #: Offset just past the last field this attr group defines.
    END: ClassVar[int] = 0

    def buffer_length(self, spec: FieldSpec) -> int:
        """Length value for a buffer field, from the explicit length or the buffer."""
        assert spec.length is not None
        explicit = getattr(self, spec.length)
        if explicit is not None:
            return int(explicit)
        buf = getattr(self, spec.name)
        return 0 if buf is None else len(buf) // spec.unit

    def pack(self, pin: Pin) -> bytes:
        """Lay the attr out as ``union bpf_attr`` bytes; ``pin`` turns buffers into addresses."""
        out = bytearray(BPF_ATTR_SIZE)
        lengths: dict[str, int] = {}
        for spec in self.LAYOUT:
            if spec.length is not None:
                lengths[spec.length] = self.buffer_length(spec)
        for spec in self.LAYOUT:
            value = getattr(self, spec.name)
            if spec.name in lengths and value is None:
                value = lengths[spec.name]
            if spec.kind == "u32":
                struct.pack_into("<I", out, spec.offset, int(value or 0) & 0xFFFFFFFF)
            elif spec.kind == "s32":
                struct.pack_into("<i", out, spec.offset, int(value or 0))
            elif spec.kind == "u64":
                struct.pack_into("<Q", out, spec.offset, int(value or 0) & (2**64 - 1))
            elif spec.kind == "name":
                raw = value.encode() if isinstance(value, str) else bytes(value or b"")
                out[spec.offset : spec.offset + 16] = raw[:16].ljust(16, b"\0")
            elif spec.kind == "cstr":
                addr = 0
                if value is not None:
                    raw = value.encode() if isinstance(value, str) else bytes(value)
                    addr = pin(raw + b"\0")
                struct.pack_into("<Q", out, spec.offset, addr)
            else:  # in / out buffers
                addr = 0 if value is None else pin(value)
                if isinstance(value, int):  # a raw user address given on purpose
                    addr = value
                struct.pack_into("<Q", out, spec.offset, addr)
        tail = getattr(self, "tail", b"")
        if tail:
            out[self.END : self.END + len(tail)] = tail
        return bytes(out)

    def unpack_outputs(self, raw: bytes) -> None:
        """Copy scalar output fields back from the attr bytes after the syscall."""
        for name, (offset, fmt) in self.OUTPUTS.items():
            setattr(self, name, struct.unpack_from(fmt, raw, offset)[0])

    OUTPUTS: ClassVar[dict[str, tuple[int, str]]] = {}

    def replace(self, **changes: object) -> Attr:
        """A copy with some fields changed (dataclasses.replace)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def _f(name: str, offset: int, kind: Kind, length: str | None = None, unit: int = 1) -> FieldSpec:
    return FieldSpec(name, offset, kind, length, unit)


@dataclass
class MapCreateAttr(Attr):
    """``BPF_MAP_CREATE`` (union bpf_attr, first anonymous struct)."""

    map_type: int
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int = 0
    inner_map_fd: int = 0
    numa_node: int = 0
    map_name: str | bytes = ""
    map_ifindex: int = 0
    btf_fd: int = 0
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    btf_vmlinux_value_type_id: int = 0
    map_extra: int = 0
    value_type_btf_obj_fd: int = 0
    map_token_fd: int = 0
    tail: bytes = b""

    LAYOUT = (
        _f("map_type", 0, "u32"),
        _f("key_size", 4, "u32"),
        _f("value_size", 8, "u32"),
        _f("max_entries", 12, "u32"),
        _f("map_flags", 16, "u32"),
        _f("inner_map_fd", 20, "u32"),
        _f("numa_node", 24, "u32"),
        _f("map_name", 28, "name"),
        _f("map_ifindex", 44, "u32"),
        _f("btf_fd", 48, "u32"),
        _f("btf_key_type_id", 52, "u32"),
        _f("btf_value_type_id", 56, "u32"),
        _f("btf_vmlinux_value_type_id", 60, "u32"),
        _f("map_extra", 64, "u64"),
        _f("value_type_btf_obj_fd", 72, "s32"),
        _f("map_token_fd", 76, "s32"),
    )
    END = 96


@dataclass
class MapElemAttr(Attr):
    """``BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM`` / ``GET_NEXT_KEY``.

    For lookup ``value`` is an output ``bytearray``; for GET_NEXT_KEY ``value`` is the
    ``next_key`` output buffer (the kernel shares the slot).
    """

    map_fd: int
    key: bytes | bytearray | None = None
    value: bytes | bytearray | None = None
    flags: int = 0
    tail: bytes = b""

    LAYOUT = (
        _f("map_fd", 0, "u32"),
        _f("key", 8, "in"),
        _f("value", 16, "in"),
        _f("flags", 24, "u64"),
    )
    END = 32


@dataclass
class MapFreezeAttr(Attr):
    """``BPF_MAP_FREEZE``."""

    map_fd: int
    tail: bytes = b""
    LAYOUT = (_f("map_fd", 0, "u32"),)
    END = 4


@dataclass
class ProgLoadAttr(Attr):
    """``BPF_PROG_LOAD``.  ``insns`` is raw bytecode (8 bytes per slot)."""

    prog_type: int
    insns: bytes
    license: str | bytes = "GPL"
    log_level: int = 0
    log_buf: bytearray | None = None
    kern_version: int = 0
    prog_flags: int = 0
    prog_name: str | bytes = ""
    prog_ifindex: int = 0
    expected_attach_type: int = 0
    prog_btf_fd: int = 0
    func_info_rec_size: int = 0
    func_info: bytes | None = None
    line_info_rec_size: int = 0
    line_info: bytes | None = None
    attach_btf_id: int = 0
    attach_btf_obj_fd: int = 0
    fd_array: bytes | None = None
    prog_token_fd: int = 0
    insn_cnt: int | None = None
    log_size: int | None = None
    func_info_cnt: int | None = None
    line_info_cnt: int | None = None
    fd_array_cnt: int = 0
    log_true_size: int = 0
    tail: bytes = b""

    LAYOUT = (
        _f("prog_type", 0, "u32"),
        _f("insn_cnt", 4, "u32"),
        _f("insns", 8, "in", "insn_cnt", 8),
        _f("license", 16, "cstr"),
        _f("log_level", 24, "u32"),
        _f("log_size", 28, "u32"),
        _f("log_buf", 32, "out", "log_size"),
        _f("kern_version", 40, "u32"),
        _f("prog_flags", 44, "u32"),
        _f("prog_name", 48, "name"),
        _f("prog_ifindex", 64, "u32"),
        _f("expected_attach_type", 68, "u32"),
        _f("prog_btf_fd", 72, "u32"),
        _f("func_info_rec_size", 76, "u32"),
        _f("func_info", 80, "in"),
        _f("func_info_cnt", 88, "u32"),
        _f("line_info_rec_size", 92, "u32"),
        _f("line_info", 96, "in"),
        _f("line_info_cnt", 104, "u32"),
        _f("attach_btf_id", 108, "u32"),
        _f("attach_btf_obj_fd", 112, "u32"),
        _f("fd_array", 120, "in"),
        _f("prog_token_fd", 144, "s32"),
        _f("fd_array_cnt", 148, "u32"),
    )
    END = 168
    OUTPUTS = {"log_true_size": (140, "<I")}

    def buffer_length(self, spec: FieldSpec) -> int:
        if spec.name in ("func_info", "line_info"):
            explicit = getattr(self, spec.name + "_cnt")
            if explicit is not None:
                return int(explicit)
            buf = getattr(self, spec.name)
            rec = getattr(self, spec.name + "_rec_size")
            return 0 if buf is None or not rec else len(buf) // rec
        return super().buffer_length(spec)

    def pack(self, pin: Pin) -> bytes:
        raw = bytearray(super().pack(pin))
        for name, off in (("func_info", 88), ("line_info", 104)):
            cnt = self.buffer_length(FieldSpec(name, 0, "in", name + "_cnt"))
            struct.pack_into("<I", raw, off, cnt)
        return bytes(raw)


@dataclass
class ObjPinAttr(Attr):
    """``BPF_OBJ_PIN`` / ``BPF_OBJ_GET``."""

    pathname: str
    bpf_fd: int = 0
    file_flags: int = 0
    path_fd: int = 0
    tail: bytes = b""

    LAYOUT = (
        _f("pathname", 0, "cstr"),
        _f("bpf_fd", 8, "u32"),
        _f("file_flags", 12, "u32"),
        _f("path_fd", 16, "s32"),
    )
    END = 20


@dataclass
class TestRunAttr(Attr):
    """``BPF_PROG_TEST_RUN``.  ``retval`` / ``duration`` / sizes are outputs."""

    __test__ = False  # not a pytest class

    prog_fd: int
    data_in: bytes | None = None
    data_out: bytearray | None = None
    ctx_in: bytes | None = None
    ctx_out: bytearray | None = None
    repeat: int = 0
    flags: int = 0
    cpu: int = 0
    batch_size: int = 0
    retval: int = 0
    duration: int = 0
    data_size_in: int | None = None
    data_size_out: int | None = None
    ctx_size_in: int | None = None
    ctx_size_out: int | None = None
    tail: bytes = b""

    LAYOUT = (
        _f("prog_fd", 0, "u32"),
        _f("retval", 4, "u32"),
        _f("data_size_in", 8, "u32"),
        _f("data_size_out", 12, "u32"),
        _f("data_in", 16, "in", "data_size_in"),
        _f("data_out", 24, "out", "data_size_out"),
        _f("repeat", 32, "u32"),
        _f("duration", 36, "u32"),
        _f("ctx_size_in", 40, "u32"),
        _f("ctx_size_out", 44, "u32"),
        _f("ctx_in", 48, "in", "ctx_size_in"),
        _f("ctx_out", 56, "out", "ctx_size_out"),
        _f("flags", 64, "u32"),
        _f("cpu", 68, "u32"),
        _f("batch_size", 72, "u32"),
    )
    END = 76
    OUTPUTS = {
        "retval": (4, "<I"),
        "data_size_out": (12, "<I"),
        "duration": (36, "<I"),
        "ctx_size_out": (44, "<I"),
    }


@dataclass
class GetIdAttr(Attr):
    """``BPF_*_GET_NEXT_ID`` and ``BPF_*_GET_FD_BY_ID`` (``id`` is start_id / map_id / ...)."""

    id: int = 0
    open_flags: int = 0
    next_id: int = 0
    token_fd: int = 0
    tail: bytes = b""

    LAYOUT = (
        _f("id", 0, "u32"),
        _f("next_id", 4, "u32"),
        _f("open_flags", 8, "u32"),
        _f("token_fd", 12, "s32"),
    )
    END = 16
    OUTPUTS = {"next_id": (4, "<I")}


@dataclass
class InfoAttr(Attr):
    """``BPF_OBJ_GET_INFO_BY_FD``: ``info`` is an in/out bytearray, ``info_len`` comes back."""

    bpf_fd: int
    info: bytearray = field(default_factory=lambda: bytearray(256))
    info_len: int | None = None
    tail: bytes = b""

    LAYOUT = (
        _f("bpf_fd", 0, "u32"),
        _f("info_len", 4, "u32"),
        _f("info", 8, "out", "info_len"),
    )
    END = 16
    OUTPUTS = {"info_len": (4, "<I")}


@dataclass
class BtfLoadAttr(Attr):
    """``BPF_BTF_LOAD``."""

    btf: bytes
    btf_log_buf: bytearray | None = None
    btf_log_level: int = 0
    btf_flags: int = 0
    btf_token_fd: int = 0
    btf_size: int | None = None
    btf_log_size: int | None = None
    btf_log_true_size: int = 0
    tail: bytes = b""

    LAYOUT = (
        _f("btf", 0, "in", "btf_size"),
        _f("btf_log_buf", 8, "out", "btf_log_size"),
        _f("btf_size", 16, "u32"),
        _f("btf_log_size", 20, "u32"),
        _f("btf_log_level", 24, "u32"),
        _f("btf_flags", 32, "u32"),
        _f("btf_token_fd", 36, "s32"),
    )
    END = 40
    OUTPUTS = {"btf_log_true_size": (28, "<I")}


@dataclass
class LinkCreateAttr(Attr):
    """``BPF_LINK_CREATE``; struct_ops links use ``map_fd`` (the union with prog_fd)."""

    prog_fd: int = 0
    target_fd: int = 0
    attach_type: int = 0
    flags: int = 0
    target_btf_id: int = 0
    tail: bytes = b""

    LAYOUT = (
        _f("prog_fd", 0, "u32"),
        _f("target_fd", 4, "u32"),
        _f("attach_type", 8, "u32"),
        _f("flags", 12, "u32"),
        _f("target_btf_id", 16, "u32"),
    )
    END = 64

    @property
    def map_fd(self) -> int:
        """The struct_ops map fd (same slot as ``prog_fd``)."""
        return self.prog_fd

    @classmethod
    def struct_ops(cls, map_fd: int, flags: int = 0) -> LinkCreateAttr:
        """A struct_ops link of ``map_fd`` (attach type BPF_STRUCT_OPS = 44)."""
        return cls(prog_fd=map_fd, attach_type=44, flags=flags)


@dataclass
class LinkUpdateAttr(Attr):
    """``BPF_LINK_UPDATE``; struct_ops uses ``new_map_fd`` / ``old_map_fd``."""

    link_fd: int
    new_fd: int = 0
    flags: int = 0
    old_fd: int = 0
    tail: bytes = b""

    LAYOUT = (
        _f("link_fd", 0, "u32"),
        _f("new_fd", 4, "u32"),
        _f("flags", 8, "u32"),
        _f("old_fd", 12, "u32"),
    )
    END = 16


@dataclass
class LinkDetachAttr(Attr):
    """``BPF_LINK_DETACH``."""

    link_fd: int
    tail: bytes = b""
    LAYOUT = (_f("link_fd", 0, "u32"),)
    END = 4


@dataclass
class ProgBindMapAttr(Attr):
    """``BPF_PROG_BIND_MAP``."""

    prog_fd: int
    map_fd: int
    flags: int = 0
    tail: bytes = b""
    LAYOUT = (_f("prog_fd", 0, "u32"), _f("map_fd", 4, "u32"), _f("flags", 8, "u32"))
    END = 12


@dataclass
class ProgAssocStructOpsAttr(Attr):
    """``BPF_PROG_ASSOC_STRUCT_OPS`` (spec 1.5, newest trees; A1-A5)."""

    map_fd: int
    prog_fd: int
    flags: int = 0
    tail: bytes = b""
    LAYOUT = (_f("map_fd", 0, "u32"), _f("prog_fd", 4, "u32"), _f("flags", 8, "u32"))
    END = 12
