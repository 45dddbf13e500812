"""``Map``: a loaded map (element access, struct_ops attach, pin)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from structops.abi.attrs import InfoAttr, LinkCreateAttr, MapElemAttr, ObjPinAttr
from structops.abi.consts import Cmd
from structops.abi.fd import Fd
from structops.abi.protocol import Kernel
from structops.api.link import Link

if TYPE_CHECKING:
    from structops.loader.spec import MapSpec

__all__ = ["Map"]


class Map:
    """A map of a loaded collection (``bpf_map__*``)."""

    def __init__(self, kernel: Kernel, fd: int, spec: MapSpec, struct_ops_value: bytes | None = None) -> None:
        self._fd = Fd.of(kernel, fd)
        self.kernel = kernel
        self.spec = spec
        #: The kernel value a struct_ops map is updated with at attach (load phase step 5).
        self.struct_ops_value = struct_ops_value

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
        """``bpf_map__attach_struct_ops``: update the map with its kernel value, then
        BPF_LINK_CREATE for a ``.struct_ops.link`` map (K5).  For a legacy ``.struct_ops``
        map the update registers it (U13) and the returned link's ``detach``/``close``
        unregisters it with MAP_DELETE_ELEM (D3), as libbpf's fake link does.
        """
        from structops.loader.load import register_struct_ops

        if self.spec.struct_ops is None or self.struct_ops_value is None:
            raise TypeError(f"map {self.name} is not a struct_ops map")
        register_struct_ops(self.kernel, self.fd, self.struct_ops_value)
        if not self.spec.struct_ops.is_link:
            return Link(self.kernel, None, self)
        fd = self.kernel.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(self.fd))
        return Link(self.kernel, fd, self)

    def pin(self, path: str) -> None:
        """BPF_OBJ_PIN the map at ``path``."""
        self.kernel.bpf(Cmd.BPF_OBJ_PIN, ObjPinAttr(path, bpf_fd=self.fd))

    def close(self) -> None:
        """Close the fd."""
        self._fd.close()
