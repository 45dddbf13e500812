"""The embedded scalar domain against the real kernel's register log (issue 12 item 2).

Random straight-line programs of ALU / ALU32 / movsx / byte-swap / neg instructions and
JMP / JMP32 compares (each jump leaves to its own exit) run on two unknown 64-bit scalars
(``r6``, ``r7`` from ``bpf_ktime_get_ns``) are loaded as socket filters with
``log_level=2``.  Linux 6.18 logs the registers an instruction changed (``; R6=scalar(...)``)
and the full state of each jump's taken side when it explores it (``from 7 to 20: ...``);
the embedded domain (:mod:`structops.verifier.bounds` / :mod:`structops.verifier.refine`)
is stepped along the same path and must print the same five ranges and tnum
(``print_scalar_ranges``), decide the same jumps and explore the same taken sides.
Scalar ids (``id=N``) are not compared: the embedded verifier does not link scalars.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import re
from pathlib import Path
from typing import Any

import pytest

from structops.errors import BpfError
from structops.isa import assemble, encode
from structops.kernel.attrs import ProgLoadAttr
from structops.uapi import Cmd, ProgType
from structops.verifier.refine import REV, refine_pair
from structops.verifier.scalar import alu_range, branch_outcome, unary
from structops.verifier.state import NOT_INIT, Reg, RegType, const

_ALU = {"add": 0x00, "sub": 0x10, "mul": 0x20, "or": 0x40, "and": 0x50, "lsh": 0x60, "rsh": 0x70}
_ALU |= {"xor": 0xA0, "arsh": 0xC0, "mov": 0xB0, "div": 0x30, "mod": 0x90}
_JMP = {"jeq": 0x10, "jgt": 0x20, "jge": 0x30, "jset": 0x40, "jne": 0x50, "jsgt": 0x60}
_JMP |= {"jsge": 0x70, "jlt": 0xA0, "jle": 0xB0, "jslt": 0xC0, "jsle": 0xD0}
_IMMS = [0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 100, 255, 256, 0x7FFFFFFF, -1, -2, -8, -100]
_IMMS += [-0x80000000, 0x10000, 0xFF00, 12345, -7, 0x40000000]
_M32 = 0xFFFFFFFF
#: One step: (mnemonic, dst, src: "r6"/"r7" or an immediate, 32-bit, movsx width).
_Step = tuple[str, int, Any, bool, int]
_ID = re.compile(r"id=\d+(?:[+-]\d+)?,?")
_INSN = re.compile(r"^(\d+): \([0-9a-f]{2}\) ([^;]*)(?:;\s*(.*))?$")
_FROM = re.compile(r"^from (\d+) to (\d+): (.*)$")
_REG = re.compile(r"R(\d+)=(.*?)(?= R\d+=|$)")


def _imm(rng: random.Random) -> int:
    return rng.choice(_IMMS) if rng.random() < 0.8 else rng.randint(-(1 << 31), (1 << 31) - 1)


def _program(rng: random.Random) -> list[_Step]:
    steps: list[_Step] = []
    for _ in range(rng.randint(1, 10)):
        d, is32 = rng.choice((6, 7)), rng.random() < 0.5
        reg = rng.choice(("r6", "r7"))
        if rng.random() < 0.45:
            name = rng.choice(("jeq", "jgt", "jge", "jset", "jne", "jsgt", "jsge", "jlt", "jle", "jslt", "jsle"))
            steps.append((name, d, reg if rng.random() < 0.3 else _imm(rng), is32, 0))
            continue
        name = rng.choice((*_ALU, "neg", "movsx", "end"))
        if name == "neg":
            steps.append(("neg", d, None, is32, 0))
        elif name == "end":
            steps.append((rng.choice(("le", "be", "bswap")), d, rng.choice((16, 32, 64)), False, 0))
        elif name == "movsx":  # a plain copy links the registers' ids: xor 0 unlinks them
            steps += [("mov", d, reg, is32, rng.choice((8, 16) if is32 else (8, 16, 32))), ("xor", d, 0, False, 0)]
        elif name in ("lsh", "rsh", "arsh"):  # by a constant in range, or by a register
            steps.append((name, d, rng.randint(0, 31 if is32 else 63) if rng.random() < 0.85 else reg, is32, 0))
        elif name in ("div", "mod"):
            steps.append((name, d, rng.choice((1, 3, 10, -7)), is32, 0))
        else:
            src = reg if rng.random() < 0.35 else _imm(rng)
            steps.append((name, d, src, is32, 0))
            if name == "mov":
                steps.append(("xor", d, 0, False, 0))
    return steps


def _asm(steps: list[_Step]) -> str:
    lines = ["call 5", "mov %r6, %r0", "call 5", "mov %r7, %r0", "mov %r0, 0"]
    exits = []
    for i, (name, d, src, is32, off) in enumerate(steps):
        sfx = "32" if is32 else ""
        srcs = f"%{src}" if isinstance(src, str) else str(src)
        if name == "neg":
            lines.append(f"neg{sfx} %r{d}")
        elif name in ("le", "be", "bswap"):
            lines.append(f"{name}{src} %r{d}")
        elif name in _JMP:
            lines.append(f"{name}{sfx} %r{d}, {srcs}, L{i}")
            exits.append(i)
        elif name == "mov" and off:
            lines.append(f"movsx{off}{sfx or '64'} %r{d}, {srcs}")
        else:
            lines.append(f"{name}{sfx} %r{d}, {srcs}")
    lines += ["mov %r0, 0", "exit"]
    for i in exits:
        lines += [f"L{i}:", "mov %r0, 0", "exit"]
    return "\n".join(lines)


def _embedded(steps: list[_Step]) -> tuple[list[tuple[int, dict[int, str]]], dict[int, dict[int, str]], int | None]:
    """What the domain says along the fall-through path: the registers after each insn, the
    taken side of each undecided jump, and the insn of a jump decided taken (path end)."""
    regs = {6: Reg(RegType.SCALAR), 7: Reg(RegType.SCALAR)}
    after: list[tuple[int, dict[int, str]]] = []
    taken: dict[int, dict[int, str]] = {}
    for pc, (name, d, src, is32, off) in enumerate(steps, start=5):
        bits = 32 if is32 else 64
        b = regs[int(src[1:])] if isinstance(src, str) else const((src or 0) if bits == 64 else (src or 0) & _M32)
        if name == "neg":
            regs[d] = unary(0x80, regs[d], bits, 0, "le")
        elif name in ("le", "be", "bswap"):
            regs[d] = unary(0xD0, regs[d], 64 if name == "bswap" else 32, src, name)
        elif name in _JMP:
            op, same = _JMP[name], isinstance(src, str) and int(src[1:]) == d
            out = branch_outcome(op, regs[d], b, bits)
            if out is True:
                return after, taken, pc
            if out is None:
                ta, tb = refine_pair(op, regs[d], b, bits, same)
                fa, fb = refine_pair(REV[op], regs[d], b, bits, same)
                side = dict(regs)
                side[d], regs[d] = ta, fa
                if isinstance(src, str) and not same:
                    side[int(src[1:])], regs[int(src[1:])] = tb, fb
                taken[pc] = {k: v.describe() for k, v in side.items()}
            after.append((pc, {k: v.describe() for k, v in regs.items()}))
            continue
        elif _ALU[name] == 0xB0:
            regs[d] = alu_range(0xB0, NOT_INIT, b, bits, off)
        else:
            regs[d] = alu_range(_ALU[name], regs[d], b, bits, off)
        after.append((pc, {d: regs[d].describe()}))
    return after, taken, None


def _regs(text: str | None) -> dict[int, str]:
    out = {}
    for k, v in _REG.findall(text or ""):
        if k in ("6", "7"):
            out[int(k)] = _ID.sub("", v.strip()).replace("(,", "(").replace(",)", ")")
    return out


def _kernel_log(k: Any, asm: str) -> str:
    log = bytearray(1 << 20)
    attr = ProgLoadAttr(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, encode(assemble(asm)), log_buf=log, log_level=2)
    with contextlib.suppress(BpfError):  # a rejected load still logs every state it met
        k.close(k.bpf(Cmd.BPF_PROG_LOAD, attr))
    return bytes(log).split(b"\0", 1)[0].decode()


def _differences(k: Any, steps: list[_Step]) -> list[str]:
    main: dict[int, dict[int, str]] = {}
    explored: dict[int, dict[int, str]] = {}
    done = False
    for line in _kernel_log(k, _asm(steps)).splitlines():
        if line.startswith(" "):  # the liveness listing
            continue
        m = _FROM.match(line)
        if m:
            done = True
            explored.setdefault(int(m.group(1)), _regs(m.group(3)))
            continue
        m = _INSN.match(line)
        if m and not done:
            main[int(m.group(1))] = _regs(m.group(3))
            done = "exit" in m.group(2)
    after, taken, end = _embedded(steps)
    errs = []
    for pc, state in after:
        for r, v in state.items():
            if r in main.get(pc, {}) and main[pc][r] != v:
                errs.append(f"insn {pc} R{r}: linux {main[pc][r]} embedded {v}")
    for pc, state in taken.items():
        for r, v in state.items():
            if r in explored.get(pc, {}) and explored[pc][r] != v:
                errs.append(f"taken side of insn {pc} R{r}: linux {explored[pc][r]} embedded {v}")
    errs += [f"linux explores the taken side of insn {pc}" for pc in explored if pc not in taken]
    if end is not None and end + 1 in main:
        errs.append(f"the jump at insn {end} is always taken here, linux falls through")
    if end is None and after and after[-1][0] not in main:
        errs.append(f"linux never reaches insn {after[-1][0]}")
    return errs


@pytest.fixture(scope="module")
def linux() -> Any:
    if os.geteuid() != 0 or not Path("/sys/kernel/btf/vmlinux").exists():
        pytest.skip("needs root (CAP_BPF) to load programs on the real kernel")
    if not platform.release().startswith("6.18"):
        pytest.skip(f"the domain follows Linux 6.18, running {platform.release()}")
    from structops.linux import LinuxKernel

    return LinuxKernel()


@pytest.mark.parametrize("seed", range(6))
def test_register_ranges_match_the_kernel_log(linux: Any, seed: int) -> None:
    """50 random programs per seed: every register print and every jump decision agrees."""
    rng = random.Random(1812 + seed)
    for _ in range(50):
        steps = _program(rng)
        errs = _differences(linux, steps)
        assert not errs, (_asm(steps), errs[:4])
