"""The committed kernel BTF blobs are what `make -C testdata kernel-btf` builds from the C sources.

Needs gcc and pahole (skipped without them); the build is byte-for-byte reproducible
with the toolchain of the project machines (gcc 12, pahole 1.24).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from structops.kernel import kbtf

ROOT = Path(__file__).resolve().parents[3]
KDATA = ROOT / "src" / "structops" / "kernel" / "data"
# The flags of the Makefile's KBTF_CFLAGS (testdata/Makefile, target kernel-btf).
CFLAGS = ["-g", "-O0", "-funsigned-char", "-fno-eliminate-unused-debug-types", "-fno-stack-protector"]


def _tools() -> tuple[str, str]:
    gcc, pahole = shutil.which("gcc"), shutil.which("pahole")
    if gcc is None or pahole is None:
        pytest.skip("gcc and pahole are needed to rebuild the kernel BTF")
    version = subprocess.run([pahole, "--version"], capture_output=True, text=True, check=False).stdout
    if version.strip() != "v1.24":
        pytest.skip(f"blobs were encoded by pahole v1.24, this is {version.strip()}")
    gcc_version = subprocess.run([gcc, "-dumpversion"], capture_output=True, text=True, check=False).stdout
    if gcc_version.split(".")[0].strip() != "12":
        pytest.skip(f"blobs were built with gcc 12, this is gcc {gcc_version.strip()}")
    return gcc, pahole


def _build(tmp: Path, source: str, base: Path | None = None) -> bytes:
    gcc, pahole = _tools()
    obj = tmp / (source + ".o")
    out = tmp / (source + ".btf")
    subprocess.run([gcc, *CFLAGS, "-c", str(KDATA / f"{source}.c"), "-o", str(obj)], check=True)
    cmd = [pahole, "-J", f"--btf_encode_detached={out}", str(obj)]
    if base is not None:
        cmd.insert(2, f"--btf_base={base}")
    subprocess.run(cmd, check=True, capture_output=True)
    return out.read_bytes()


def test_vmlinux_blob_is_up_to_date(tmp_path: Path) -> None:
    assert _build(tmp_path, "vmlinux") == kbtf.vmlinux_btf_bytes()


def test_testmod_blob_is_up_to_date(tmp_path: Path) -> None:
    assert _build(tmp_path, "bpf_testmod", base=KDATA / "vmlinux.btf") == kbtf.testmod_btf_bytes()


def test_makefile_uses_the_same_flags() -> None:
    makefile = (ROOT / "testdata" / "Makefile").read_text()
    line = next(ln for ln in makefile.splitlines() if ln.startswith("KBTF_CFLAGS"))
    assert line.split(":=", 1)[1].split() == CFLAGS
