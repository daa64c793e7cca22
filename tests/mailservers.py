"""Real mail servers on loopback for the tests: a private Dovecot (IMAP and IMAPS).

`start_dovecot()` runs Dovecot with its own config in a temporary folder (no system service, no
system config), listening on two free loopback ports: plain IMAP and IMAPS with a self-signed
certificate made here with the openssl CLI (a dependency of dovecot-core). Each test gets a fresh
account (`Dovecot.account()`), so tests share one server without seeing each other's mail.
As root, Dovecot refuses to run its login processes as root and to deliver mail as root: the config
then names the system users `dovecot` and `dovenull` the Debian package creates; otherwise
everything runs as the current user. The conftest's `dovecot` and `imap_account` fixtures wrap this.
"""

from __future__ import annotations

import grp
import imaplib
import itertools
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from perf_toolkit.mail.imap import encode_folder

DOVECOT_HINT = "run `make install-mail` as root (Debian package dovecot-imapd)"
LOCALHOST = "127.0.0.1"

CONFIG = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = {host}
first_valid_uid = {uid}
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
mail_location = maildir:{base}/mail/%u
disable_plaintext_auth = no
ssl = yes
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users/%u
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={base}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
"""


def dovecot_executable() -> str | None:
    """The dovecot binary (in /usr/sbin, often not on a non-root PATH), or None."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which("dovecot", path=path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def quoted(name: str) -> str:
    """A folder name as an IMAP argument: modified UTF-7, quoted."""
    return '"' + encode_folder(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


class DovecotError(RuntimeError):
    """The private Dovecot did not start (the message holds its log)."""


@dataclass
class Dovecot:
    """A running private Dovecot: plain IMAP on `port`, IMAPS on `tls_port` with the certificate `ca_file`."""

    executable: str
    base: Path
    port: int
    tls_port: int
    host: str = LOCALHOST
    _serial: itertools.count = field(default_factory=itertools.count)

    @property
    def ca_file(self) -> Path:
        """The server's self-signed certificate: trust it with `ssl.create_default_context(cafile=...)`."""
        return self.base / "cert.pem"

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this server's certificate (and nothing else)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def account(self, password: str = "s3cret-pw") -> ImapTestAccount:
        """A new, empty mailbox user on this server.

        Each user has a passwd-file of its own: Dovecot re-reads a changed passwd-file at most once a
        second, but opens a new one at once.
        """
        user = f"clerk{next(self._serial)}"
        (self.base / "users" / user).write_text(f"{user}:{{PLAIN}}{password}\n", encoding="utf-8")
        return ImapTestAccount(self, user, password)

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the master (and with it every Dovecot process) and remove the temporary folder."""
        try:
            pid = int((self.base / "run" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
                for _ in range(200):  # the master and its children exit within a moment
                    if not _alive(pid):
                        break
                    time.sleep(0.05)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.base, ignore_errors=True)


@dataclass
class ImapTestAccount:
    """One mailbox user on a test Dovecot, with what a test needs to fill and inspect it."""

    server: Dovecot
    user: str
    password: str

    def url(self, folder: str, *, tls: bool = False) -> str:
        """imap://user@127.0.0.1:PORT/FOLDER (folder percent-encoded), or imaps:// on the TLS port."""
        scheme, port = ("imaps", self.server.tls_port) if tls else ("imap", self.server.port)
        return f"{scheme}://{self.user}@{self.server.host}:{port}/{quote(folder)}"

    def client(self) -> imaplib.IMAP4:
        """A logged-in plain IMAP connection (the test's own, not the code under test)."""
        client = imaplib.IMAP4(self.server.host, self.server.port, timeout=30)
        client.authenticate("PLAIN", lambda _: f"\0{self.user}\0{self.password}".encode())
        return client

    def create(self, folder: str) -> None:
        with self._session() as client:
            _ok(client.create(quoted(folder)))

    def delete(self, folder: str) -> None:
        with self._session() as client:
            _ok(client.delete(quoted(folder)))

    def append(self, folder: str, raw: bytes, flags: str | None = None) -> int:
        """Put a message in the folder (created if missing); its UID."""
        with self._session() as client:
            if client.select(quoted(folder))[0] != "OK":
                _ok(client.create(quoted(folder)))
            _, data = _ok(client.append(quoted(folder), flags, None, raw))
        code = data[0].decode()  # [APPENDUID uidvalidity uid] Append completed.
        return int(code.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])

    def expunge(self, folder: str, uid: int) -> None:
        """Delete one message for good (another client emptying the folder)."""
        with self._session() as client:
            _ok(client.select(quoted(folder)))
            _ok(client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)"))
            _ok(client.expunge())

    def flags(self, folder: str) -> dict[int, set[str]]:
        """Each message's UID and flags, looked at read-only (EXAMINE, so looking changes nothing)."""
        with self._session() as client:
            _ok(client.select(quoted(folder), readonly=True))
            _, data = _ok(client.uid("FETCH", "1:*", "(UID FLAGS)"))
        out = {}
        for line in data:
            if not line:
                continue
            text = line.decode()
            uid = int(text.split("UID ", 1)[1].split()[0].rstrip(")"))
            out[uid] = set(text.split("FLAGS (", 1)[1].split(")", 1)[0].split())
        return out

    def uidvalidity(self, folder: str) -> int:
        with self._session() as client:
            _, data = _ok(client.status(quoted(folder), "(UIDVALIDITY)"))
        return int(data[0].decode().split("UIDVALIDITY ", 1)[1].split(")")[0])

    def _session(self):
        return _Session(self.client())


class _Session:
    def __init__(self, client: imaplib.IMAP4):
        self.client = client

    def __enter__(self) -> imaplib.IMAP4:
        return self.client

    def __exit__(self, *exc) -> None:
        self.client.logout()


def _ok(answer: tuple[str, list]) -> tuple[str, list]:
    assert answer[0] == "OK", answer
    return answer


def start_dovecot(executable: str, *, startup_seconds: float = 20) -> Dovecot:
    """Start a private Dovecot in a new temporary folder; raise DovecotError (with its log) if it does not come up.

    The folder is made with mkdtemp under /tmp, not pytest's tmp_path: pytest's is private (0700) to
    the current user, which Dovecot's unprivileged processes could not enter as root, and Unix socket
    paths must stay short.
    """
    base = Path(tempfile.mkdtemp(prefix="perf-dovecot-"))
    base.chmod(0o755)
    server = Dovecot(executable, base, free_port(), free_port())
    try:
        _configure(server)
        # output to a file, not a pipe: the daemon keeps its copy open and a pipe would never end
        with open(base / "start.log", "wb") as output:
            done = subprocess.run([executable, "-c", str(base / "dovecot.conf")], stdin=subprocess.DEVNULL,
                                  stdout=output, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            started = (base / "start.log").read_text(encoding="utf-8", errors="replace")
            raise DovecotError(f"dovecot exited with {done.returncode}: {started}{server.log()}")
        deadline = time.monotonic() + startup_seconds
        while not _greets(server):
            if time.monotonic() > deadline:
                raise DovecotError(f"dovecot did not accept connections on {server.port}:\n{server.log()}")
            time.sleep(0.1)
    except BaseException:
        server.stop()
        raise
    return server


def _configure(server: Dovecot) -> None:
    base = server.base
    for name in ("run", "state", "mail", "users"):
        (base / name).mkdir()
    if os.geteuid() == 0:
        mail_user, login_user, internal_user = "dovecot", "dovenull", "dovecot"
        internal_group = "dovecot"
        try:
            owner = pwd.getpwnam(mail_user)
            pwd.getpwnam(login_user)
        except KeyError as exc:
            raise DovecotError(f"as root, Dovecot needs the system users dovecot and dovenull "
                               f"(made by the dovecot-core package): {exc}") from None
        os.chown(base / "mail", owner.pw_uid, owner.pw_gid)
    else:  # unprivileged: every process, and the mail, belongs to the current user
        owner = pwd.getpwuid(os.getuid())
        mail_user = login_user = internal_user = owner.pw_name
        internal_group = grp.getgrgid(owner.pw_gid).gr_name
    mail_group = owner.pw_gid
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(base / "key.pem"), "-out", str(base / "cert.pem"), "-days", "2",
         "-subj", f"/CN={server.host}", "-addext", f"subjectAltName=IP:{server.host},DNS:localhost"],
        capture_output=True, text=True)
    if made.returncode != 0:
        raise DovecotError(f"openssl could not make the test certificate: {made.stderr}")
    (base / "dovecot.conf").write_text(CONFIG.format(
        base=base, host=server.host, port=server.port, tls_port=server.tls_port, uid=owner.pw_uid,
        login_user=login_user, internal_user=internal_user, internal_group=internal_group, mail_user=mail_user, mail_group=mail_group),
        encoding="utf-8")


def _alive(pid: int) -> bool:
    """True while the process runs (a zombie nobody reaped yet counts as gone)."""
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _greets(server: Dovecot) -> bool:
    """True once the IMAP listener answers with its greeting."""
    try:
        with socket.create_connection((server.host, server.port), timeout=2) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False
