"""Typed ``union bpf_attr`` members, one dataclass per bpf() command group.

Each attr is a plain record the embedded kernel reads directly (``attr.map_type``);
:meth:`Attr.pack` lays it out byte-exactly as the real ``union bpf_attr`` of Linux 6.18
for the Linux backend.  Each command group is declared once, as a table in
:mod:`structops.abi.tables` (field, C type, offset; checked against the running kernel's
BTF in the tests): the record's fields, their defaults, packing and unpacking all come
from it.  A class only names its table, its positional parameters and any default that
is not the C type's zero.  Buffer fields hold Python objects instead of addresses:

* ``bytes`` for input buffers (``insns``, ``key``, ``btf``, ``ctx_in``),
* ``bytearray`` for output buffers (lookup ``value``, ``log_buf``, ``info``, ``ctx_out``);
  the kernel writes into them in place, on both backends.

A matching length field (``insn_cnt``, ``log_size`` ...) is derived from the buffer
unless set explicitly (non-None), so tests can send inconsistent lengths on purpose.
``tail`` holds bytes placed after the last known field, to exercise the kernel's
"unused attr bytes must be zero" rule (C1, U0a).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from structops.abi import tables as T
from structops.abi.consts import BPF_ATTR_SIZE, AttachType
from structops.abi.layout import Field, Layout, Pin

__all__ = [
    "Attr",
    "BtfLoadAttr",
    "EnableStatsAttr",
    "GetIdAttr",
    "InfoAttr",
    "LinkCreateAttr",
    "LinkDetachAttr",
    "LinkUpdateAttr",
    "MapCreateAttr",
    "MapElemAttr",
    "MapFreezeAttr",
    "ObjPinAttr",
    "Pin",
    "ProgAssocStructOpsAttr",
    "ProgBindMapAttr",
    "ProgLoadAttr",
    "TestRunAttr",
]


_T = TypeVar("_T")


class _Typed(Generic[_T]):
    """Static type of the fields of one role (type checkers only; see ``Attr``)."""

    def __get__(self, obj: object, owner: type | None = None) -> _T:
        raise NotImplementedError  # pragma: no cover - never instantiated at run time

    def __set__(self, obj: object, value: _T) -> None:
        raise NotImplementedError  # pragma: no cover


def _zero(layout: Layout, f: Field) -> object:
    """The default of a field: None for buffers and derived lengths, else the C zero."""
    if f.is_pointer or f.name in layout.counted:
        return None
    return "" if f.is_bytes else 0


class Attr:
    """Base class of the attr records: fields, defaults and packing come from ``LAYOUT``.

    A subclass is declared with its table, its positional parameters (``args``, of which
    the first ``required`` must be given; the rest of the fields are keyword-only) and
    the defaults that differ from zero::

        class ObjPinAttr(Attr, layout=T.OBJ_PIN, args="pathname bpf_fd", required=1): ...

    ``END`` is the offset just past the last field the kernel defines for the command
    (``LAYOUT.size``): where ``tail`` bytes go.
    """

    LAYOUT: ClassVar[Layout] = Layout("bpf_attr", 0, ())
    END: ClassVar[int] = 0
    ARGS: ClassVar[tuple[str, ...]] = ()
    REQUIRED: ClassVar[int] = 0
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(
        cls,
        *,
        layout: Layout,
        args: str = "",
        required: int = 0,
        defaults: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.LAYOUT, cls.END = layout, layout.size
        cls.ARGS, cls.REQUIRED = tuple(args.split()), required
        cls.DEFAULTS = {f.name: _zero(layout, f) for f in layout} | {"tail": b""} | dict(defaults or {})
        unknown = [n for n in (*cls.ARGS, *cls.DEFAULTS) if n not in layout and n != "tail"]
        if unknown:
            raise TypeError(f"{cls.__name__}: {unknown} are not fields of {layout.name}")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        name = cls.__name__
        if len(args) > len(cls.ARGS):
            raise TypeError(f"{name}() takes at most {len(cls.ARGS)} positional arguments ({len(args)} given)")
        for key, value in zip(cls.ARGS, args, strict=False):
            if key in kwargs:
                raise TypeError(f"{name}() got multiple values for argument {key!r}")
            kwargs[key] = value
        missing = [key for key in cls.ARGS[: cls.REQUIRED] if key not in kwargs]
        if missing:
            raise TypeError(f"{name}() missing required argument(s): {', '.join(missing)}")
        for key, default in cls.DEFAULTS.items():
            if key in kwargs:
                value = kwargs.pop(key)
            else:
                value = default() if callable(default) else default
            object.__setattr__(self, key, value)
        if kwargs:
            raise TypeError(f"{name}() got an unexpected keyword argument {next(iter(kwargs))!r}")

    if TYPE_CHECKING:
        # The fields are the tables'; their Python type follows from their role there:
        # integers unless named below (buffers, names, lengths derived when left None).
        def __getattr__(self, name: str) -> int: ...

        key = value = func_info = line_info = fd_array = data_in = ctx_in = _Typed[bytes | bytearray | None]()
        insns = btf = tail = _Typed[bytes]()
        log_buf = btf_log_buf = data_out = ctx_out = _Typed[bytearray | None]()
        info = _Typed[bytearray]()
        map_name = prog_name = license = _Typed[str | bytes]()
        pathname = _Typed[str]()
        insn_cnt = log_size = func_info_cnt = line_info_cnt = info_len = btf_size = btf_log_size = _Typed[int | None]()
        data_size_in = data_size_out = ctx_size_in = ctx_size_out = _Typed[int | None]()

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in type(self).DEFAULTS:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        object.__setattr__(self, name, value)

    def values(self) -> dict[str, Any]:
        """Every field by name (``tail`` included), in table order."""
        return {key: getattr(self, key) for key in type(self).DEFAULTS}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Attr)
        return self.values() == other.values()

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.values().items())
        return f"{type(self).__name__}({shown})"

    def pack(self, pin: Pin) -> bytes:
        """Lay the attr out as ``union bpf_attr`` bytes; ``pin`` turns buffers into addresses."""
        out = bytearray(BPF_ATTR_SIZE)
        self.LAYOUT.pack_into(out, self.values(), pin)
        tail = self.values()["tail"]
        if tail:
            out[self.END : self.END + len(tail)] = tail
        return bytes(out)

    def unpack_outputs(self, raw: bytes) -> None:
        """Copy the scalars the kernel writes back (``written`` in the table) from ``raw``."""
        for f in self.LAYOUT.written:
            setattr(self, f.name, self.LAYOUT.read(f, raw))

    def replace(self, **changes: object) -> Attr:
        """A copy with some fields changed (like ``dataclasses.replace``)."""
        return type(self)(**(self.values() | changes))


class MapCreateAttr(Attr, layout=T.MAP_CREATE, args="map_type key_size value_size max_entries", required=4):
    """``BPF_MAP_CREATE`` (union bpf_attr, first anonymous struct)."""


class MapElemAttr(Attr, layout=T.MAP_ELEM, args="map_fd key value flags", required=1):
    """``BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM`` / ``GET_NEXT_KEY``.

    For lookup ``value`` is an output ``bytearray``; for GET_NEXT_KEY ``value`` is the
    ``next_key`` output buffer (the kernel shares the slot).
    """


class MapFreezeAttr(Attr, layout=T.MAP_FREEZE, args="map_fd", required=1):
    """``BPF_MAP_FREEZE``."""


class ProgLoadAttr(Attr, layout=T.PROG_LOAD, args="prog_type insns license", required=2, defaults={"license": "GPL"}):
    """``BPF_PROG_LOAD``.  ``insns`` is raw bytecode (8 bytes per slot)."""


class ObjPinAttr(Attr, layout=T.OBJ_PIN, args="pathname bpf_fd", required=1):
    """``BPF_OBJ_PIN`` / ``BPF_OBJ_GET``."""


class TestRunAttr(Attr, layout=T.PROG_TEST_RUN, args="prog_fd", required=1):
    """``BPF_PROG_TEST_RUN``.  ``retval`` / ``duration`` / sizes are outputs."""

    __test__ = False  # not a pytest class


class GetIdAttr(Attr, layout=T.GET_ID, args="id"):
    """``BPF_*_GET_NEXT_ID`` and ``BPF_*_GET_FD_BY_ID`` (``id`` is start_id / map_id / ...)."""


def _info_buffer() -> bytearray:
    return bytearray(256)


class InfoAttr(Attr, layout=T.OBJ_INFO, args="bpf_fd info", required=1, defaults={"info": _info_buffer}):
    """``BPF_OBJ_GET_INFO_BY_FD``: ``info`` is an in/out bytearray, ``info_len`` comes back."""


class BtfLoadAttr(Attr, layout=T.BTF_LOAD, args="btf", required=1):
    """``BPF_BTF_LOAD``."""


class LinkCreateAttr(Attr, layout=T.LINK_CREATE, args="prog_fd target_fd attach_type flags"):
    """``BPF_LINK_CREATE``; struct_ops links use ``map_fd`` (the union with prog_fd)."""

    @property
    def map_fd(self) -> int:
        """The struct_ops map fd (same slot as ``prog_fd``)."""
        return int(self.prog_fd)

    @classmethod
    def struct_ops(cls, map_fd: int, flags: int = 0) -> LinkCreateAttr:
        """A struct_ops link of ``map_fd`` (attach type BPF_STRUCT_OPS = 44)."""
        return cls(prog_fd=map_fd, attach_type=AttachType.BPF_STRUCT_OPS, flags=flags)


class LinkUpdateAttr(Attr, layout=T.LINK_UPDATE, args="link_fd new_fd", required=1):
    """``BPF_LINK_UPDATE``; struct_ops uses ``new_map_fd`` / ``old_map_fd``."""


class LinkDetachAttr(Attr, layout=T.LINK_DETACH, args="link_fd", required=1):
    """``BPF_LINK_DETACH``."""


class EnableStatsAttr(Attr, layout=T.ENABLE_STATS, args="type", required=0):
    """``BPF_ENABLE_STATS``: ``type`` 0 is BPF_STATS_RUN_TIME; returns an fd that keeps
    run_cnt / run_time_ns counting until it is closed."""


class ProgBindMapAttr(Attr, layout=T.PROG_BIND_MAP, args="prog_fd map_fd flags", required=2):
    """``BPF_PROG_BIND_MAP``."""


class ProgAssocStructOpsAttr(Attr, layout=T.PROG_ASSOC_STRUCT_OPS, args="map_fd prog_fd flags", required=2):
    """``BPF_PROG_ASSOC_STRUCT_OPS`` (spec 1.5, newest trees; A1-A5)."""
