"""A plain-text progress bar for long simulations (stderr, no dependency)."""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``[#####-----]  50%  5.0/10.0 s simulated  2.1 s wall``, redrawn in place with ``\\r``.

    Disabled (every call a no-op) when ``stream`` is None.
    """

    def __init__(self, stream: TextIO | None, total_us: int, width: int = 30) -> None:
        self.stream = stream
        self.total_us = max(total_us, 1)
        self.width = width
        self.started = time.perf_counter()
        self.last = ""

    def update(self, now_us: int) -> None:
        """Redraw for simulated time ``now_us``."""
        if self.stream is None:
            return
        frac = min(max(now_us / self.total_us, 0.0), 1.0)
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        wall = time.perf_counter() - self.started
        text = (
            f"\r[{bar}] {frac * 100:5.1f}%  {now_us / 1e6:.1f}/{self.total_us / 1e6:.1f} s simulated  {wall:.1f} s wall"
        )
        if text != self.last:
            self.stream.write(text)
            self.stream.flush()
            self.last = text

    def done(self) -> None:
        """Finish the line."""
        if self.stream is not None and self.last:
            self.stream.write("\n")
            self.stream.flush()
