"""Shared test options and the LibreOffice requirement.

Tests that need LibreOffice ask for the `soffice`, `poppler` or `uno_python` fixture. Locally
a missing tool skips the test with a reason naming it and `make install-pdf`; in CI (the
environment variable CI set, as `.ci/run` does) it fails, so a CI machine without LibreOffice
cannot pass by skipping those tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

INSTALL_HINT = "run `make install-pdf` as root (LibreOffice, CJK fonts, poppler-utils, python3-uno)"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from this run's outputs instead of comparing with them")


def in_ci() -> bool:
    """True on a CI machine (CI=true, as CI services and `.ci/run` set it)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(found: str | None, what: str, hint: str = INSTALL_HINT) -> str:
    """`found`, else skip (locally) or fail (in CI) naming what is missing and how to get it."""
    if found:
        return found
    message = f"{what} is not installed: {hint}"
    if in_ci():
        pytest.fail(f"CI must run the tests that need it, but {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def soffice() -> str:
    """The LibreOffice executable."""
    return require(shutil.which("soffice") or shutil.which("libreoffice"), "LibreOffice (soffice)")


@pytest.fixture(scope="session")
def poppler(soffice) -> str:
    """pdfinfo (poppler-utils), to read back the PDFs LibreOffice makes."""
    return require(shutil.which("pdfinfo"), "poppler-utils (pdfinfo)")


@pytest.fixture(scope="session")
def uno_python(soffice) -> str:
    """A Python that can `import uno` (LibreOffice's own bindings: the system python3, not the venv)."""
    for exe in dict.fromkeys(("/usr/bin/python3", shutil.which("python3"))):
        if exe and os.path.exists(exe) and subprocess.run([exe, "-c", "import uno"],
                                                          capture_output=True).returncode == 0:
            return exe
    return require(None, "LibreOffice's Python UNO bindings (python3-uno)")
