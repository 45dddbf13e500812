"""``Map``: a loaded map (element access, struct_ops attach, pin)."""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from structops.abi.attrs import LinkCreateAttr, MapElemAttr
from structops.abi.consts import Cmd, MapType
from structops.abi.protocol import Kernel
from structops.abi.tables import MAP_INFO
from structops.api._handle import Handle
from structops.api.link import Link

if TYPE_CHECKING:
    from structops import btf as btflib
    from structops.loader.spec import MapSpec

__all__ = ["Map"]


class Map(Handle["MapSpec"]):
    """A map of a loaded collection (``bpf_map__*``).

    Keys and values are bytes (an ``int`` key is packed as a u32).  When the object's
    BTF describes the map's key and value, :meth:`get`, :meth:`set` and
    ``items(typed=True)`` convert them to and from Python data (ints, lists, dicts).
    """

    _INFO = MAP_INFO
    _TYPE_PREFIX = "BPF_MAP_TYPE_"

    def __init__(
        self,
        kernel: Kernel,
        fd: int,
        spec: MapSpec,
        struct_ops_value: bytes | None = None,
        btf: btflib.Spec | None = None,
    ) -> None:
        super().__init__(kernel, fd, spec)
        #: The kernel value a struct_ops map is updated with when it is attached.
        self.struct_ops_value = struct_ops_value
        self._btf = btf

    @property
    def value_size(self) -> int:
        """Value size as created (struct_ops: the kernel value type's size)."""
        return MAP_INFO.read_int("value_size", self._info())

    @property
    def type(self) -> MapType:
        """The map type (``MapType.BPF_MAP_TYPE_ARRAY``…)."""
        return MapType(self.spec.type)

    def lookup(self, key: bytes | int = 0) -> bytes:
        """BPF_MAP_LOOKUP_ELEM (an int key is packed as u32)."""
        k = struct.pack("<I", key) if isinstance(key, int) else key
        out = bytearray(self.value_size)
        self.kernel.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(self.fd, key=k, value=out))
        return bytes(out)

    def keys(self) -> Iterator[bytes]:
        """Every key, in the kernel's iteration order (BPF_MAP_GET_NEXT_KEY)."""
        key: bytes | None = None
        while True:
            out = bytearray(self.spec.key_size)
            try:
                self.kernel.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(self.fd, key=key, value=out))
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    return
                raise
            key = bytes(out)
            yield key

    def values(self, *, typed: bool = False) -> Iterator[Any]:
        """Every value (decoded from BTF with ``typed=True``)."""
        for _, v in self.items(typed=typed):
            yield v

    def items(self, *, typed: bool = False) -> Iterator[tuple[Any, Any]]:
        """Every (key, value) pair; ``typed=True`` decodes both from the object's BTF."""
        for k in self.keys():
            try:
                v = self.lookup(k)
            except OSError as exc:
                if exc.errno == errno.ENOENT:  # deleted meanwhile
                    continue
                raise
            yield (self._decode("key", k), self._decode("value", v)) if typed else (k, v)

    def _btf_type(self, which: str) -> btflib.Type:
        tid = self.spec.btf_key_type_id if which == "key" else self.spec.btf_value_type_id
        if self._btf is None or not tid:
            raise TypeError(f"map {self.name} has no BTF {which} type: use bytes (lookup/update)")
        return self._btf.type_by_id(tid)

    def _u32_key(self, which: str) -> bool:
        """A 4-byte key without BTF (global data, struct_ops maps) is read as a u32 index."""
        return which == "key" and not self.spec.btf_key_type_id and self.spec.key_size == 4

    def _decode(self, which: str, raw: bytes) -> Any:
        from structops.btf.values import decode

        if self._u32_key(which):
            return int.from_bytes(raw[:4], "little")
        return decode(self._btf_type(which), raw)

    def _encode(self, which: str, value: Any) -> bytes:
        from structops.btf.values import encode

        if self._u32_key(which) and isinstance(value, int):
            return struct.pack("<I", value)
        return encode(self._btf_type(which), value, f"{self.name} {which}")

    def get(self, key: Any = 0) -> Any:
        """The value at ``key`` as Python data, both converted with the object's BTF."""
        return self._decode("value", self.lookup(self._encode("key", key)))

    def set(self, key: Any, value: Any, flags: int = 0) -> None:
        """Store ``value`` at ``key``, both given as Python data (BTF-typed)."""
        self.update(self._encode("key", key), self._encode("value", value), flags)

    def update(self, key: bytes | int, value: bytes, flags: int = 0) -> int:
        """BPF_MAP_UPDATE_ELEM."""
        k = struct.pack("<I", key) if isinstance(key, int) else key
        return self.kernel.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(self.fd, key=k, value=value, flags=flags))

    def delete(self, key: bytes | int = 0) -> None:
        """BPF_MAP_DELETE_ELEM (for a legacy struct_ops map: unregister it)."""
        k = struct.pack("<I", key) if isinstance(key, int) else key
        self.kernel.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(self.fd, key=k))

    def attach_struct_ops(self) -> Link:
        """``bpf_map__attach_struct_ops``: update the map with its kernel value, then
        BPF_LINK_CREATE for a ``.struct_ops.link`` map: the link registers it and closing
        the link unregisters it.  For a legacy ``.struct_ops`` map the update itself
        registers it, and the returned link's ``detach``/``close`` unregisters it with
        MAP_DELETE_ELEM, as libbpf's fake link does.
        """
        from structops.loader.load import register_struct_ops

        if self.spec.struct_ops is None or self.struct_ops_value is None:
            raise TypeError(f"map {self.name} is not a struct_ops map")
        register_struct_ops(self.kernel, self.fd, self.struct_ops_value)
        if not self.spec.struct_ops.is_link:
            return Link(self.kernel, None, self)
        fd = self.kernel.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(self.fd))
        return Link(self.kernel, fd, self)
