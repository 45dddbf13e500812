"""The high-level API: libbpf-like verbs with Python names (``Collection``, ``Map``, ``Program``, ``Link``)."""

from structops.api.collection import Collection
from structops.api.link import Link
from structops.api.map import Map
from structops.api.program import Program, TestRunResult

__all__ = ["Collection", "Link", "Map", "Program", "TestRunResult"]
