"""The bpf() ABI, shared by both backends: constants, attr and info layouts, the Kernel protocol.

* :mod:`structops.abi.consts` - ``enum bpf_cmd``, map/program/link/attach types, flags
  (also importable as :mod:`structops.uapi`);
* :mod:`structops.abi.tables` - every ``union bpf_attr`` group and ``bpf_*_info`` struct
  of Linux 6.18, declared once as a table (field, C type, offset);
* :mod:`structops.abi.layout` - :class:`Layout`: packing, unpacking, sizes and a ctypes
  view derived from a table;
* :mod:`structops.abi.attrs` - the attr records passed to ``Kernel.bpf`` (``MapCreateAttr`` ...);
* :mod:`structops.abi.protocol` - the :class:`Kernel` protocol both backends implement.

Importing this package loads neither backend: no embedded kernel, VM or verifier.
"""

from __future__ import annotations

from structops.abi import tables
from structops.abi.attrs import (
    Attr,
    BtfLoadAttr,
    GetIdAttr,
    InfoAttr,
    LinkCreateAttr,
    LinkDetachAttr,
    LinkUpdateAttr,
    MapCreateAttr,
    MapElemAttr,
    MapFreezeAttr,
    ObjPinAttr,
    ProgAssocStructOpsAttr,
    ProgBindMapAttr,
    ProgLoadAttr,
    TestRunAttr,
)
from structops.abi.consts import (
    BPF_ATTR_SIZE,
    ENOTSUPP,
    AttachType,
    Cmd,
    LinkType,
    MapFlags,
    MapType,
    ProgLoadFlags,
    ProgType,
    StructOpsState,
    UpdateFlags,
    errno_name,
)
from structops.abi.layout import Field, Layout
from structops.abi.protocol import Kernel, UserBuffer

__all__ = [
    "BPF_ATTR_SIZE",
    "ENOTSUPP",
    "AttachType",
    "Attr",
    "BtfLoadAttr",
    "Cmd",
    "Field",
    "GetIdAttr",
    "InfoAttr",
    "Kernel",
    "Layout",
    "LinkCreateAttr",
    "LinkDetachAttr",
    "LinkType",
    "LinkUpdateAttr",
    "MapCreateAttr",
    "MapElemAttr",
    "MapFlags",
    "MapFreezeAttr",
    "MapType",
    "ObjPinAttr",
    "ProgAssocStructOpsAttr",
    "ProgBindMapAttr",
    "ProgLoadAttr",
    "ProgLoadFlags",
    "ProgType",
    "StructOpsState",
    "TestRunAttr",
    "UpdateFlags",
    "UserBuffer",
    "errno_name",
    "tables",
]
