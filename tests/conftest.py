"""Shared test options and the outside tools some tests need: LibreOffice and a real IMAP server.

Tests that need LibreOffice ask for the `soffice`, `poppler` or `uno_python` fixture; tests that
need an IMAP server ask for `dovecot` (a private Dovecot on loopback, see mailservers.py) or
`imap_account` (a fresh mailbox on it). Locally a missing tool skips the test with a reason
naming it and the make target that installs it; in CI (the environment variable CI set, as
`.ci/run` does) it fails, so a CI machine without the tool cannot pass by skipping those tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from mailservers import DOVECOT_HINT, DovecotError, dovecot_executable, start_dovecot

ROOT = Path(__file__).resolve().parents[1]

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


@pytest.fixture(scope="session")
def example_files(tmp_path_factory) -> list[Path]:
    """The example inbox's workbooks as the round evaluates them: collected from its mails, mailbox and
    zip into a store (each department's current version, and the broken attachment)."""
    from perf_toolkit.config import load_config
    from perf_toolkit.mail.store import collect, current_files

    campaign = load_config(ROOT / "examples" / "perf.toml")
    out = tmp_path_factory.mktemp("collected")
    collect([ROOT / "examples" / "inbox"], campaign, out)
    return [f.path for f in current_files(campaign.round_db_in(out))]


@pytest.fixture(scope="session")
def dovecot():
    """A private Dovecot on loopback for the whole session (mailservers.Dovecot); stopped at the end."""
    executable = require(dovecot_executable(), "Dovecot (dovecot-imapd)", DOVECOT_HINT)
    try:
        server = start_dovecot(executable)
    except DovecotError as exc:  # installed but not startable here: a real failure, never a skip
        pytest.fail(f"the test Dovecot did not start: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def imap_account(dovecot):
    """A new, empty mailbox on the test Dovecot (mailservers.ImapTestAccount): url(), append(), flags()…"""
    return dovecot.account()


@pytest.fixture(scope="session", autouse=True)
def repository_untouched():
    """No test writes into the repository's output/ (a config without `output` or the example config's
    history would): what is there after the session was there before."""
    before = {p for p in (ROOT / "output").rglob("*")}
    yield
    added = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "output").rglob("*") if p not in before)
    assert not added, f"tests wrote into the repository: {added}"
