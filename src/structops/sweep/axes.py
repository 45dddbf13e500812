"""Sweep axes: how one grid-file key turns into the list of values a sweep iterates over.

An :class:`Axis` names a grid key (``bandwidth``), the option column it fills
(``bandwidth_bps``), a parser for one value as written in the file (``"20mbit"`` ->
20_000_000) and a default.  A key's value in the grid file is either one value, a list of
values, or a range table::

    flows = { from = 1, to = 8, step = 1 }                         # 1, 2, ..., 8
    bandwidth = { from = "10mbit", to = "1gbit", count = 3, scale = "log" }

Ranges include both ends; ``count`` values are spaced linearly (``scale = "linear"``,
the default) or geometrically (``"log"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Axis", "GridError", "expand_values", "int_value", "time_value"]


class GridError(ValueError):
    """A grid file (or grid mapping) the sweep cannot use; the message names the key."""


@dataclass(frozen=True)
class Axis:
    """One dimension of a sweep: grid key, option column, value parser, default.

    ``parse`` turns one value as written in the grid file into the option's normalised
    value (raising ``ValueError`` with a readable message); ``number`` maps a normalised
    value to a float for ranges and ``unnumber`` maps a float back (``None`` when the axis
    cannot be ranged).  ``aliases`` are alternative keys (``seeds`` / ``seed``).
    """

    key: str
    column: str
    parse: Callable[[Any], Any]
    default: Any
    aliases: tuple[str, ...] = ()
    number: Callable[[Any], float] | None = None
    unnumber: Callable[[float, Any], Any] | None = None
    help: str = ""

    def names(self) -> tuple[str, ...]:
        """Every key this axis answers to in a grid file."""
        return (self.key, *self.aliases)


def _range_values(axis: Axis, spec: Mapping[str, Any]) -> list[Any]:
    if axis.number is None or axis.unnumber is None:
        raise GridError(f"{axis.key}: ranges are not supported for this key; give a list")
    unknown = set(spec) - {"from", "to", "step", "count", "scale"}
    if unknown:
        fields = ", ".join(sorted(unknown))
        raise GridError(f"{axis.key}: unknown range field(s) {fields} (use from, to, step|count, scale)")
    if "from" not in spec or "to" not in spec:
        raise GridError(f"{axis.key}: a range needs 'from' and 'to'")
    if ("step" in spec) == ("count" in spec):
        raise GridError(f"{axis.key}: a range needs exactly one of 'step' or 'count'")
    try:
        lo_value = axis.parse(spec["from"])
        hi_value = axis.parse(spec["to"])
        lo, hi = axis.number(lo_value), axis.number(hi_value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise GridError(f"{axis.key}: bad range end: {exc}") from None
    scale = spec.get("scale", "linear")
    if scale not in ("linear", "log"):
        raise GridError(f"{axis.key}: scale must be 'linear' or 'log', got {scale!r}")
    numbers: list[float]
    if "step" in spec:
        if scale != "linear":
            raise GridError(f"{axis.key}: 'step' ranges are linear; use 'count' with scale = 'log'")
        try:
            step = axis.number(axis.parse(spec["step"]))
        except (ValueError, TypeError, OverflowError) as exc:
            raise GridError(f"{axis.key}: step: {exc}") from None
        if step <= 0:
            raise GridError(f"{axis.key}: step must be positive")
        if hi < lo:
            raise GridError(f"{axis.key}: range 'from' is above 'to'")
        n = math.floor((hi - lo) / step + 1e-9) + 1
        if n > 10_000:
            raise GridError(f"{axis.key}: the range has {n} values (at most 10000)")
        numbers = [lo + i * step for i in range(n)]
    else:
        count = spec["count"]
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10_000:
            raise GridError(f"{axis.key}: count must be an integer between 1 and 10000")
        if count == 1:
            numbers = [lo]
        elif scale == "log":
            if lo <= 0 or hi <= 0:
                raise GridError(f"{axis.key}: a log range needs positive ends")
            ratio = (hi / lo) ** (1 / (count - 1))
            numbers = [lo * ratio**i for i in range(count)]
            numbers[-1] = hi
        else:
            numbers = [lo + (hi - lo) * i / (count - 1) for i in range(count)]
    try:
        values = [axis.unnumber(x, lo_value) for x in numbers]
    except (ValueError, TypeError, OverflowError) as exc:
        raise GridError(f"{axis.key}: bad range: {exc}") from None
    out: list[Any] = []
    for v in values:  # rounding can merge neighbours (integer axes)
        if v not in out:
            out.append(v)
    return out


def expand_values(axis: Axis, raw: Any) -> list[Any]:
    """The normalised values of ``axis`` for the grid value ``raw`` (value, list or range)."""
    items: Sequence[Any]
    if isinstance(raw, Mapping) and axis.number is not None:
        return _range_values(axis, raw)
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise GridError(f"{axis.key}: the list is empty")
    out: list[Any] = []
    for item in items:
        if isinstance(item, Mapping) and axis.number is not None:
            out.extend(v for v in _range_values(axis, item) if v not in out)
            continue
        try:
            value = axis.parse(item)
        except (ValueError, TypeError, OverflowError) as exc:
            if isinstance(item, Mapping) and "from" in item:
                raise GridError(f"{axis.key}: ranges are not supported for this key; give a list") from None
            raise GridError(f"{axis.key}: {exc}") from None
        if value not in out:
            out.append(value)
    return out


def int_value(what: str, minimum: int) -> Callable[[Any], int]:
    """A parser of integers >= ``minimum`` (``what`` names them in messages)."""

    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"expected an integer {what}, got {value!r}")
        if int(value) != value:
            raise ValueError(f"expected an integer {what}, got {value!r}")
        if value < minimum:
            raise ValueError(f"{what} must be >= {minimum}, got {value}")
        return int(value)

    return parse


def time_value(default_unit: str) -> Callable[[Any], int]:
    """A parser of times to microseconds: ``"20ms"``; bare numbers are in ``default_unit`` (ms or s)."""

    scale = {"ms": 1_000, "s": 1_000_000}[default_unit]

    def parse(value: Any) -> int:
        from structops.run import parse_time_us

        if isinstance(value, bool):
            raise ValueError(f"bad time {value!r}")
        if isinstance(value, int | float):
            if not math.isfinite(value):
                raise ValueError(f"bad time {value!r}")
            us = round(value * scale)
        elif isinstance(value, str):
            us = parse_time_us(value, default_unit)
        else:
            raise ValueError(f"bad time {value!r} (examples: 20ms, 0.5s)")
        if us <= 0:
            raise ValueError(f"time must be positive, got {value!r}")
        return us

    return parse
