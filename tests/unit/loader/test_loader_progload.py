"""Program loads as libbpf issues them: logs that grow until they fit, refusals with a log.

A scripted kernel stands in for Linux here (the real one is in
tests/kernel/test_loader_corpus_real.py): it answers ENOSPC while the log buffer is
smaller than its log (reporting ``log_true_size``), and refuses a program with EACCES
writing its reason only when a log was asked for, as Linux does.
"""

from __future__ import annotations

import errno
import pickle

import pytest

from structops.errors import BpfError, PermissionDenied, VerifierError, bpf_error
from structops.kernel.attrs import ProgLoadAttr
from structops.loader._progload import FIRST_LOG_SIZE, encode_func_info, encode_line_info, load_program
from structops.loader.btf_ext import FuncInfo, LineInfo
from structops.uapi import Cmd


class ScriptedKernel:
    """PROG_LOAD only: ``log_size`` bytes of log; ``refuse`` = errno to fail with."""

    def __init__(self, log_size: int, refuse: int = 0) -> None:
        self.log = "".join(f"{i}: (b7) r0 = {i}\n" for i in range(log_size // 16 + 1))[:log_size]
        self.refuse = refuse
        self.calls: list[tuple[int, int]] = []

    def bpf(self, cmd: int, attr: ProgLoadAttr) -> int:
        assert cmd == Cmd.BPF_PROG_LOAD
        size = len(attr.log_buf) if attr.log_buf is not None else 0
        self.calls.append((attr.log_level, size))
        if attr.log_level:
            assert attr.log_buf is not None
            text = (self.log + ("R1 invalid mem access 'scalar'\n" if self.refuse else "")).encode()
            attr.log_true_size = len(text) + 1
            fits = len(text) + 1 <= size
            piece = text[: size - 1] if not fits else text
            attr.log_buf[: len(piece)] = piece
            attr.log_buf[len(piece)] = 0
            if self.refuse:
                raise bpf_error(self.refuse, op="prog load")
            if not fits:
                raise bpf_error(errno.ENOSPC, op="prog load")
            return 7
        if self.refuse:
            raise bpf_error(self.refuse, op="prog load")
        return 7


def _attr(level: int, buf: bytearray | None) -> ProgLoadAttr:
    return ProgLoadAttr(27, bytes(16), log_level=level, log_buf=buf)


def test_a_successful_load_grows_the_log_instead_of_failing_with_enospc() -> None:
    k = ScriptedKernel(300_000)
    fd, log = load_program(k, _attr, "big", 1)  # type: ignore[arg-type]
    assert fd == 7 and log == k.log
    sizes = [size for _level, size in k.calls]
    assert sizes[0] == FIRST_LOG_SIZE and sizes[-1] >= 300_001 and len(sizes) == 2  # grown to log_true_size


def test_no_log_asked_and_no_refusal_means_one_call() -> None:
    k = ScriptedKernel(100)
    assert load_program(k, _attr, "p", 0) == (7, "")  # type: ignore[arg-type]
    assert k.calls == [(0, 0)]


def test_a_refusal_is_retried_with_a_log_and_names_the_program() -> None:
    k = ScriptedKernel(50, refuse=errno.EACCES)
    with pytest.raises(VerifierError) as exc:
        load_program(k, _attr, "lo_some_long_program_name", 0)  # type: ignore[arg-type]
    e = exc.value
    assert [level for level, _ in k.calls] == [0, 1]
    assert e.errno == errno.EACCES and e.prog == "lo_some_long_program_name"
    assert e.log.rstrip().endswith("R1 invalid mem access 'scalar'")
    text = str(e)
    assert "program 'lo_some_long_program_name'" in text and "R1 invalid mem access 'scalar'" in text
    assert "permission denied" not in text.lower()
    assert isinstance(e, BpfError)


def test_capability_errors_are_not_retried() -> None:
    k = ScriptedKernel(50, refuse=errno.EPERM)
    with pytest.raises(PermissionDenied):
        load_program(k, _attr, "p", 0)  # type: ignore[arg-type]
    assert len(k.calls) == 1


def test_verifier_error_shows_the_last_log_lines_and_survives_pickling() -> None:
    log = "".join(f"line {i}\n" for i in range(20))
    e = VerifierError(errno.EINVAL, op="prog load", log=log, prog="p")
    text = str(e)
    assert text.startswith("[EINVAL] prog load: program 'p': the verifier refused the program")
    assert "last 8 of 20 lines" in text and "line 19" in text and "line 11" not in text
    back = pickle.loads(pickle.dumps(e))
    assert (type(back), back.errno, back.prog, back.log, str(back)) == (VerifierError, e.errno, "p", log, text)


def test_func_and_line_info_records_are_kernel_layout() -> None:
    assert encode_func_info([FuncInfo(0, 5), FuncInfo(9, 6)]) == bytes([0] * 4 + [5, 0, 0, 0, 9, 0, 0, 0, 6, 0, 0, 0])
    raw = encode_line_info([LineInfo(3, 10, 20, (7 << 10) | 2)])
    assert raw == (3).to_bytes(4, "little") + (10).to_bytes(4, "little") + (20).to_bytes(4, "little") + (
        (7 << 10) | 2
    ).to_bytes(4, "little")
