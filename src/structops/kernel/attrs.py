"""The ``union bpf_attr`` records (re-exported from :mod:`structops.abi.attrs`).

Kept for the embedded kernel's own modules; code outside ``structops.kernel`` imports
:mod:`structops.abi` directly.
"""

from __future__ import annotations

from structops.abi.attrs import *  # noqa: F403
from structops.abi.attrs import __all__ as __all__
