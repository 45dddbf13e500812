"""What every bpftool-style command shares: the kernel, output mode, errors, selectors.

bpftool conventions mirrored here (kernel-6.18-observed sections 3 and 7):

* errors print ``Error: <message>`` on stderr, or ``{"error":"<message>"}`` on stdout
  under ``-j``; the exit status is 255 (bpftool returns -1);
* informational messages (``Registered ...``) go to stderr and are suppressed by ``-j``,
  which prints ``null`` on stdout for a command that has no output;
* ``-p`` implies ``-j`` and pretty-prints.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from structops.abi.protocol import Kernel
from structops.cli import _jsonw
from structops.errors import BpfError
from structops.introspect import Introspector

__all__ = [
    "CliError",
    "Context",
    "add_output_options",
    "parse_selector",
    "add_group",
    "add_words_verb",
    "strerror",
    "words_command",
]

#: bpftool's exit status for a failed command (-1 & 0xff).
EXIT_FAILURE = 255


class CliError(Exception):
    """A command failure with bpftool's message; ``status`` is the exit code."""

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status


def strerror(exc: BaseException) -> str:
    """The C library text of an OSError's errno (``No such file or directory``)."""
    code = getattr(exc, "errno", None)
    if isinstance(code, int) and code:
        return os.strerror(code)
    return str(exc)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``-j``/``--json`` and ``-p``/``--pretty`` accepted after the verb too (bpftool's getopt
    permutes them); SUPPRESS keeps the top-level values when they are not repeated."""
    parser.add_argument("-j", "--json", action="store_true", default=argparse.SUPPRESS, help="JSON output")
    parser.add_argument("-p", "--pretty", action="store_true", default=argparse.SUPPRESS, help="pretty JSON")


def parse_selector(words: list[str], what: str = "STRUCT_OPS_MAP") -> tuple[str, int | str] | None:
    """``[id ID | name NAME]`` -> ("id", n) / ("name", s) / None; CliError on bad syntax."""
    if not words:
        return None
    if len(words) != 2 or words[0] not in ("id", "name"):
        raise CliError(f"expected {what} := {{ id ID | name NAME }}, got {' '.join(words)!r}")
    if words[0] == "id":
        try:
            value = int(words[1], 0)
        except ValueError:
            raise CliError(f"can't parse {words[1]} as ID") from None
        if not 0 <= value < 1 << 32:
            raise CliError(f"can't parse {words[1]} as ID")
        return ("id", value)
    return ("name", words[1])


def parse_id(words: list[str], what: str) -> int | None:
    """``[id ID]`` only (map/prog/link commands)."""
    sel = parse_selector(words, f"{what} := id ID")
    if sel is None:
        return None
    if sel[0] != "id":
        raise CliError(f"expected 'id', got: '{sel[0]}'")
    assert isinstance(sel[1], int)
    return sel[1]


def boottime_offset() -> float:
    """Wall-clock seconds at boot (``CLOCK_REALTIME - CLOCK_BOOTTIME``), for ``loaded_at``."""
    boot = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
    return time.time() - time.clock_gettime(boot)


@dataclass
class Context:
    """One command invocation: kernel, streams, output mode and an Introspector."""

    kernel: Kernel
    out: TextIO
    json: bool = False
    pretty: bool = False
    err: TextIO = field(default_factory=lambda: sys.stderr)
    #: Extra per-fd facts the bpf() syscall does not report (memlock, frozen): fdinfo on Linux.
    fdinfo: Callable[[int], dict[str, str]] | None = None

    def __post_init__(self) -> None:
        self.json = self.json or self.pretty
        self.intro = Introspector(self.kernel)
        #: The session that owns the kernel and the --load objects (kept alive with ctx).
        self.session: Any = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, out: TextIO) -> Context:
        """The context of a parsed command line (the kernel comes from the session)."""
        from structops.cli.session import Session

        session = Session.from_args(args, getattr(args, "kernel_instance", None))
        kernel = session.kernel
        fdinfo = None
        if getattr(kernel, "name", "") == "linux":
            from structops.linux import read_fdinfo

            fdinfo = read_fdinfo
        ctx = cls(kernel, out, bool(getattr(args, "json", False)), bool(getattr(args, "pretty", False)), fdinfo=fdinfo)
        ctx.session = session
        return ctx

    def emit(self, value: Any) -> None:
        """Write one JSON document (compact or pretty like bpftool)."""
        self.out.write(_jsonw.dumps(value, self.pretty))

    def info(self, message: str) -> None:
        """bpftool's p_info: stderr, silent under JSON."""
        if not self.json:
            print(message, file=self.err)

    def fail(self, message: str) -> None:
        """bpftool's p_err: JSON error object or ``Error:`` line."""
        if self.json:
            self.emit({"error": message})
        else:
            print(f"Error: {message}", file=self.err)

    def fd_facts(self, fd: int) -> dict[str, str]:
        """fdinfo of ``fd`` (memlock, frozen ...), as bpftool reads ``/proc/self/fdinfo``:
        the ``fdinfo`` reader given (Linux), else the embedded kernel's own fdinfo of its
        process's fd, else empty (a kernel that reports none)."""
        try:
            if self.fdinfo is not None:
                return self.fdinfo(fd)
            proc = getattr(self.kernel, "root", self.kernel)
            text = getattr(proc, "fdinfo", None)
            if not callable(text):
                return {}
            from structops.linux.fdinfo import parse_fdinfo

            return parse_fdinfo(str(text(fd)))
        except OSError:
            return {}

    def run(self, body: Callable[[Context], int]) -> int:
        """Run a command body, turning CliError / BpfError into bpftool's error output."""
        try:
            return body(self)
        except CliError as exc:
            self.fail(str(exc))
            return exc.status
        except BpfError as exc:
            self.fail(f"{exc.op or 'bpf'}: {strerror(exc)}")
            return EXIT_FAILURE
        finally:
            self.intro.close()


Command = Callable[[argparse.Namespace, TextIO], int]


def words_command(body: Callable[[Context, list[str]], int]) -> Command:
    """An argparse ``func`` running ``body(ctx, words)`` in the context of the command line."""

    def command(args: argparse.Namespace, out: TextIO) -> int:
        ctx = Context.from_args(args, out)
        return ctx.run(lambda c: body(c, list(args.words)))

    return command


def add_group(groups: Any, name: str, help_text: str) -> Any:
    """Add command group ``name`` (``map``, ``prog`` ...) and return its required VERB subparsers."""
    parser = groups.add_parser(name, help=help_text)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    return verbs


def add_words_verb(
    verbs: Any, verb: str, help_text: str, metavar: str, body: Callable[[Context, list[str]], int], nargs: str = "+"
) -> argparse.ArgumentParser:
    """Add ``verb WORDS... [-j|-p]`` running ``body(ctx, words)``."""
    p: argparse.ArgumentParser = verbs.add_parser(verb, help=help_text)
    p.add_argument("words", nargs=nargs, metavar=metavar)
    add_output_options(p)
    p.set_defaults(func=words_command(body))
    return p
