"""The ``Kernel`` protocol (re-exported from :mod:`structops.abi.protocol`, where it lives
so that the API and the Linux backend need nothing from the embedded kernel)."""

from __future__ import annotations

from structops.abi.protocol import Kernel, UserBuffer

__all__ = ["Kernel", "UserBuffer"]
