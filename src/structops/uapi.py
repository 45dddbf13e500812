"""Kernel UAPI constants for the bpf() syscall (re-exported from :mod:`structops.abi.consts`).

Kept as a public name: ``from structops.uapi import Cmd, MapType`` works as before.  The
bpf() ABI, constants and attr/info layouts, lives in the neutral package :mod:`structops.abi`.
"""

from __future__ import annotations

from structops.abi.consts import *  # noqa: F403
from structops.abi.consts import __all__ as __all__
