"""The public API is small and deliberate: exactly these names, all importable and documented."""

from __future__ import annotations

import structops

EXPECTED = {
    "AlreadyExists",
    "BTFError",
    "BadFd",
    "BpfError",
    "Busy",
    "Collection",
    "ELFError",
    "EmulatedKernel",
    "FormatError",
    "InProgress",
    "InvalidArgument",
    "Kernel",
    "Link",
    "LinkDetached",
    "LinuxKernel",
    "Map",
    "NoMemory",
    "NotFound",
    "NotSupported",
    "PermissionDenied",
    "Program",
    "TestRunResult",
    "TooBig",
    "VMFault",
    "VerifierError",
    "__version__",
}


def test_all_is_exactly_the_public_surface() -> None:
    assert set(structops.__all__) == EXPECTED


def test_every_export_exists_and_has_a_docstring() -> None:
    for name in structops.__all__:
        obj = getattr(structops, name)
        if name != "__version__":
            assert obj.__doc__, name


def test_both_backends_satisfy_the_kernel_protocol() -> None:
    assert isinstance(structops.EmulatedKernel(), structops.Kernel)
    assert isinstance(structops.LinuxKernel(), structops.Kernel)
