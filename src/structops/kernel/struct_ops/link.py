"""Struct_ops links (``BPF_LINK_TYPE_STRUCT_OPS``): create, update, detach, poll (K1-KP3)."""

from __future__ import annotations

import errno
import threading
from typing import TYPE_CHECKING

from structops.errors import bpf_error
from structops.kernel.objects import KObject
from structops.kernel.struct_ops.map import StructOpsMap, valid_to_reg
from structops.uapi import AttachType, LinkType

if TYPE_CHECKING:
    from structops.kernel.maps.base import BpfMap
    from structops.kernel.services import StructOpsServices

__all__ = ["EPOLLHUP", "StructOpsLink", "link_create"]


class StructOpsLink(KObject):
    """``struct bpf_struct_ops_link``: a link holding a READY map registered (K*)."""

    KIND = "link"
    kernel: StructOpsServices

    def __init__(self, kernel: StructOpsServices) -> None:
        super().__init__(kernel)
        self.map: StructOpsMap | None = None
        self.link_type = LinkType.BPF_LINK_TYPE_STRUCT_OPS
        self.attach_type = AttachType.BPF_STRUCT_OPS
        self.wait_hup = threading.Condition()
        self.prog = None

    def poll(self, timeout: float | None = 0) -> int:
        """KP1: 0 while a map is attached, EPOLLHUP (0x10) afterwards; waits up to ``timeout``."""
        with self.wait_hup:
            if timeout:
                self.wait_hup.wait_for(lambda: self.map is None, timeout=timeout)
            return 0 if self.map is not None else EPOLLHUP

    def detach(self) -> None:
        """KD2: unreg, drop the map, wake pollers; idempotent."""
        kernel = self.kernel
        with kernel.update_mutex:
            st_map = self.map
            if st_map is None:
                return
            st_map.desc.ops.unreg(st_map.kdata, self)
            self.map = None
        st_map.put()
        with self.wait_hup:
            self.wait_hup.notify_all()

    def update_map(self, new_map: BpfMap, expected_old: BpfMap | None) -> None:
        """KU2: swap the registered map for ``new_map`` through the subsystem's ``update``."""
        if not valid_to_reg(new_map):  # KU2.1
            raise bpf_error(errno.EINVAL, "new map is not a READY BPF_F_LINK struct_ops map")
        assert isinstance(new_map, StructOpsMap)
        update = new_map.desc.ops.update
        if update is None:  # KU2.2
            raise bpf_error(errno.EOPNOTSUPP, f"{new_map.desc.name} does not support link update")
        with self.kernel.update_mutex:
            old = self.map
            if old is None:  # KU2.3
                raise bpf_error(errno.ENOLINK, "link is detached")
            if expected_old is not None and old is not expected_old:  # KU2.4
                raise bpf_error(errno.EPERM, "old map does not match")
            if new_map.desc is not old.desc:  # KU2.5
                raise bpf_error(errno.EINVAL, "struct_ops type differs")
            err = update(new_map.kdata, old.kdata, self)  # KU2.6
            if err:
                raise bpf_error(-err, f"update {new_map.desc.name}")
            new_map.get()  # KU2.7
            self.map = new_map
        old.put()

    def fdinfo(self) -> str:
        """K7."""
        text = f"link_type:\tstruct_ops\nlink_id:\t{self.id}\n"
        m = self.map
        if m is not None:
            text += f"map_id:\t{m.id}\n"
        return text

    def release(self) -> None:
        """KP2: dealloc unregisters if still attached."""
        st_map = self.map
        if st_map is not None:
            with self.kernel.update_mutex:
                st_map.desc.ops.unreg(st_map.kdata, self)
                self.map = None
            st_map.put()
        with self.wait_hup:
            self.wait_hup.notify_all()


EPOLLHUP = 0x10


def link_create(kernel: StructOpsServices, m: BpfMap) -> StructOpsLink:
    """K3-K5: create a link for a READY link-map and register it (``reg``)."""
    if not valid_to_reg(m):  # K3
        raise bpf_error(errno.EINVAL, "map is not a READY BPF_F_LINK struct_ops map")
    assert isinstance(m, StructOpsMap)
    m.get()  # the bpf_map_get reference the link keeps
    link = StructOpsLink(kernel)
    with kernel.update_mutex:
        err = m.desc.ops.reg(m.kdata, link)  # K5
        if err:
            m.put()
            raise bpf_error(-err, f"register {m.desc.name}")
        link.map = m
    return link
