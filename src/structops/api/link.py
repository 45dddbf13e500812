"""``Link``: a struct_ops link (attach, update the map, detach, pin)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from structops.abi.attrs import InfoAttr, LinkDetachAttr, LinkUpdateAttr, ObjPinAttr
from structops.abi.consts import BPF_F_REPLACE, Cmd, LinkType
from structops.abi.fd import Fd
from structops.abi.protocol import Kernel
from structops.abi.tables import LINK_INFO

if TYPE_CHECKING:
    from structops.api.map import Map

__all__ = ["Link"]


class Link:
    """A bpf link (``bpf_link__*``); a context manager that closes it, which unregisters
    what it registered when this was the last reference.

    With ``fd=None`` it is libbpf's fake link of a legacy struct_ops registration: no
    kernel link exists; detach/close unregister with MAP_DELETE_ELEM.
    """

    def __init__(self, kernel: Kernel, fd: int | None, map_: Map | None = None) -> None:
        self._fd = Fd.of(kernel, fd) if fd is not None else None
        self.kernel = kernel
        self.map = map_
        self._legacy_attached = fd is None

    @property
    def is_legacy(self) -> bool:
        """A legacy (non-link) struct_ops registration."""
        return self._fd is None

    @property
    def fd(self) -> int:
        """The link fd (TypeError for a legacy registration)."""
        if self._fd is None:
            raise TypeError("a legacy struct_ops registration has no link fd")
        return self._fd.fd

    def update_map(self, new_map: Map, *, expected: Map | None = None) -> None:
        """BPF_LINK_UPDATE to ``new_map`` (a hot swap); with ``expected`` uses BPF_F_REPLACE.

        Like ``bpf_link__update_map``, a struct_ops map not yet populated is first updated
        with its kernel value so that it is ready to be linked.
        """
        if new_map.struct_ops_value is not None and struct.unpack_from("<I", new_map.lookup(0), 4)[0] == 0:
            from structops.loader.load import register_struct_ops

            register_struct_ops(self.kernel, new_map.fd, new_map.struct_ops_value)
        attr = LinkUpdateAttr(self.fd, new_fd=new_map.fd)
        if expected is not None:
            attr = LinkUpdateAttr(self.fd, new_fd=new_map.fd, flags=BPF_F_REPLACE, old_fd=expected.fd)
        self.kernel.bpf(Cmd.BPF_LINK_UPDATE, attr)
        self.map = new_map

    def detach(self) -> None:
        """BPF_LINK_DETACH: unregister now but keep the fd (idempotent); legacy: delete_elem."""
        if self._fd is None:
            if self._legacy_attached and self.map is not None:
                self._legacy_attached = False
                self.map.delete(0)
            return
        self.kernel.bpf(Cmd.BPF_LINK_DETACH, LinkDetachAttr(self.fd))

    def pin(self, path: str) -> None:
        """BPF_OBJ_PIN the link at ``path`` on bpffs."""
        self.kernel.bpf(Cmd.BPF_OBJ_PIN, ObjPinAttr(path, bpf_fd=self.fd))

    def info(self) -> dict[str, int]:
        """``bpf_link_info``: ``type`` (a :class:`LinkType`), ``id``, ``prog_id`` and, for a
        struct_ops link, ``map_id`` (0 once detached)."""
        attr = InfoAttr(self.fd, bytearray(LINK_INFO.size))
        self.kernel.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, attr)
        out = {f.name: LINK_INFO.read_int(f.name, attr.info) for f in LINK_INFO}
        if out["type"] in LinkType._value2member_map_:
            out["type"] = LinkType(out["type"])
        return out

    def close(self) -> None:
        """Close the fd (the last reference unregisters); legacy: unregister."""
        if self._fd is None:
            self.detach()
            return
        self._fd.close()

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        target = f" map={self.map.name!r}" if self.map is not None else ""
        if self._fd is None:
            return f"<Link legacy{target}>"
        try:
            return f"<Link id={self.info()['id']} type=struct_ops{target}>"
        except (OSError, ValueError):
            return f"<Link{target} (closed)>"
