"""Reading and running ``bpf_conformance`` test vectors (``*.data`` files).

A vector is a sequence of ``-- <section>`` blocks: ``asm`` (program text, see
:mod:`structops.isa.asm`), ``raw`` (bytecode, one hex u64 per line or hex bytes),
``mem`` (hex bytes given to the program: ``r1`` = address, ``r2`` = length), ``result``
(expected ``r0``), ``error`` (expected failure text), plus ``c`` and
``no register offset`` which only document the vector.  The runner convention of the
suite registers helper 5 as its "unwind" helper (returns ``r1``), used by ``call 5`` and
``callx`` vectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from structops.errors import FormatError, VMFault
from structops.isa.asm import assemble
from structops.isa.codec import decode, encode
from structops.isa.insn import Insn
from structops.vm.context import VM, RunContext
from structops.vm.helpers import HelperRegistry, HelperSpec
from structops.vm.program import Engine, Program
from structops.vm.testrun import run_with_data

__all__ = ["Outcome", "Vector", "VectorError", "conformance_vm", "parse_vector", "run_vector"]

_KNOWN = {"asm", "raw", "mem", "result", "error", "c", "no register offset"}


class VectorError(FormatError):
    """A malformed test vector file."""


@dataclass(frozen=True)
class Vector:
    """One parsed test vector."""

    name: str
    asm: str | None
    raw: bytes | None
    mem: bytes
    result: int | None
    error: str | None

    def program(self) -> list[Insn]:
        """The vector's instructions (assembled from ``asm``, else decoded from ``raw``)."""
        if self.asm is not None:
            insns = assemble(self.asm)
            if self.raw is not None and encode(insns) != self.raw:
                raise VectorError(f"{self.name}: assembled program differs from its raw section")
            return insns
        if self.raw is not None:
            return decode(self.raw)
        raise VectorError(f"{self.name}: no asm or raw section")


def _hex_bytes(text: str) -> bytes:
    try:
        return bytes.fromhex("".join(text.split()))
    except ValueError:
        raise VectorError(f"invalid hex bytes: {text[:40]!r}") from None


def _raw(text: str) -> bytes:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if lines and all(ln.lower().startswith("0x") for ln in lines):
        return b"".join(int(ln, 16).to_bytes(8, "little") for ln in lines)
    return _hex_bytes("\n".join(lines))


def parse_vector(text: str, name: str = "<vector>") -> Vector:
    """Parse the text of a ``.data`` file (unknown ``--`` directives are an error)."""
    sections: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        m = re.match(r"--\s*(.*?)\s*$", line)
        if m:
            current = m.group(1)
            if current not in _KNOWN:
                raise VectorError(f"{name}: unknown directive {line!r}")
            sections.setdefault(current, "")
            continue
        if current is not None:
            sections[current] += line + "\n"
    result_text = sections.get("result", "").split("#")[0].strip()
    try:
        result = int(result_text, 0) if result_text else None
    except ValueError:
        raise VectorError(f"{name}: invalid result {result_text!r}") from None
    return Vector(
        name=name,
        asm=sections.get("asm"),
        raw=_raw(sections["raw"]) if "raw" in sections else None,
        mem=_hex_bytes(sections.get("mem", "")),
        result=result,
        error=sections["error"].strip() if "error" in sections else None,
    )


def load_vector(path: str | Path) -> Vector:
    """Read and parse one ``.data`` file."""
    p = Path(path)
    return parse_vector(p.read_text(), p.stem)


def _unwind(run: RunContext, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    return r1


def conformance_vm() -> VM:
    """A VM with the helper set the conformance runner expects (helper 5 = unwind)."""
    return VM(helpers=HelperRegistry([HelperSpec(5, "unwind", _unwind)]))


@dataclass(frozen=True)
class Outcome:
    """Result of running a vector: ``passed`` and, when it did not, ``why``."""

    passed: bool
    why: str = ""
    r0: int | None = None


def run_vector(vector: Vector, engine: Engine = "fast", vm: VM | None = None) -> Outcome:
    """Assemble, load and run ``vector``; compare with its ``result`` / ``error``."""
    try:
        insns = vector.program()
        prog = Program.load(insns, vm=vm or conformance_vm(), name=vector.name)
        r0 = run_with_data(prog, vector.mem, engine=engine).retval
    except (FormatError, VMFault) as exc:
        if vector.error is not None:
            return Outcome(True, f"expected error: {exc}")
        return Outcome(False, f"error: {exc}")
    if vector.error is not None:
        return Outcome(False, f"expected an error ({vector.error or 'any'}), got r0={r0:#x}", r0)
    if vector.result is None:
        return Outcome(False, "vector has no expected result", r0)
    if r0 != vector.result:
        return Outcome(False, f"r0={r0:#x}, expected {vector.result:#x}", r0)
    return Outcome(True, "", r0)
