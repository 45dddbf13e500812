"""``Map``: a loaded map (element access, struct_ops attach, pin)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from structops.api._fd import OwnedFd
from structops.api.link import Link
from structops.kernel.attrs import InfoAttr, LinkCreateAttr, MapElemAttr, ObjPinAttr
from structops.kernel.protocol import Kernel
from structops.uapi import Cmd, MapType

if TYPE_CHECKING:
    from structops.loader.spec import MapSpec

__all__ = ["Map"]


class Map:
    """A map of a loaded collection (``bpf_map__*``)."""

    def __init__(self, kernel: Kernel, fd: int, spec: MapSpec) -> None:
        self._fd = OwnedFd(kernel, fd)
        self.kernel = kernel
        self.spec = spec

    @property
    def fd(self) -> int:
        """The map fd."""
        return self._fd.fd

    @property
    def name(self) -> str:
        """The kernel name of the map."""
        return self.spec.name

    @property
    def value_size(self) -> int:
        """Value size as created (struct_ops: the kernel value type's size)."""
        attr = InfoAttr(self.fd, bytearray(104))
        self.kernel.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, attr)
        return int(struct.unpack_from("<I", attr.info, 12)[0])

    def id(self) -> int:
        """The kernel map id."""
        attr = InfoAttr(self.fd, bytearray(104))
        self.kernel.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, attr)
        return int(struct.unpack_from("<I", attr.info, 4)[0])

    def lookup(self, key: bytes | int = 0) -> bytes:
        """BPF_MAP_LOOKUP_ELEM (an int key is packed as u32)."""
        k = struct.pack("<I", key) if isinstance(key, int) else key
        out = bytearray(self.value_size)
        self.kernel.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(self.fd, key=k, value=out))
        return bytes(out)

    def update(self, key: bytes | int, value: bytes, flags: int = 0) -> int:
        """BPF_MAP_UPDATE_ELEM."""
        k = struct.pack("<I", key) if isinstance(key, int) else key
        return self.kernel.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(self.fd, key=k, value=value, flags=flags))

    def delete(self, key: bytes | int = 0) -> None:
        """BPF_MAP_DELETE_ELEM (for a non-link struct_ops map: unregister, D3)."""
        k = struct.pack("<I", key) if isinstance(key, int) else key
        self.kernel.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(self.fd, key=k))

    def attach_struct_ops(self) -> Link:
        """``bpf_map__attach_struct_ops`` for a ``.struct_ops.link`` map: BPF_LINK_CREATE (K5)."""
        if self.spec.type != MapType.BPF_MAP_TYPE_STRUCT_OPS:
            raise TypeError(f"map {self.name} is not a struct_ops map")
        fd = self.kernel.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(self.fd))
        return Link(self.kernel, fd, self)

    def pin(self, path: str) -> None:
        """BPF_OBJ_PIN the map at ``path``."""
        self.kernel.bpf(Cmd.BPF_OBJ_PIN, ObjPinAttr(path, bpf_fd=self.fd))

    def close(self) -> None:
        """Close the fd."""
        self._fd.close()
