"""``--tls``: a throw-away certificate authority and server certificate, made at start.

The ``openssl`` command line makes them (no Python crypto dependency): a CA that
signs one server certificate for the listening host (plus 127.0.0.1, ::1 and
localhost). Clients trust ``ca.pem`` (``--ca-file``), as they would a lab CA; the
keys never leave the folder. Certificates are valid for two days.
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gwsload.errors import ConfigError

__all__ = ["ServerCertificate", "make_certificate", "server_context"]

_DAYS = "2"


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    folder: Path
    #: what clients trust
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_certificate(folder: Path, host: str) -> ServerCertificate:
    """A CA and a server certificate for ``host`` in ``folder``. Raises ``ConfigError``
    (one line) when ``openssl`` is missing or fails."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ConfigError("--tls needs the openssl command (Debian package openssl)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--tls-dir {folder}: cannot create it ({exc.strerror})") from None
    ca_key, ca_file = folder / "ca.key", folder / "ca.pem"
    key_file, csr, cert_file = folder / "server.key", folder / "server.csr", folder / "server.pem"
    extensions = folder / "server.ext"
    extensions.write_text(
        f"subjectAltName={_alt_names(host)}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    steps = [
        [openssl, "req", "-x509", *ec, "-days", _DAYS, "-subj", "/CN=gwsload simulator CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-keyout", str(ca_key), "-out", str(ca_file)],
        [openssl, "req", *ec, "-subj", f"/CN={host}", "-keyout", str(key_file), "-out", str(csr)],
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_file), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", _DAYS, "-extfile", str(extensions), "-out", str(cert_file)],
    ]  # fmt: skip
    for command in steps:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ConfigError(f"--tls: openssl {command[1]} failed: {last}")
    return ServerCertificate(folder, ca_file, cert_file, key_file)


def server_context(certificate: ServerCertificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.cert_file, certificate.key_file)
    return context


def _alt_names(host: str) -> str:
    names = {"IP:127.0.0.1", "IP:::1", "DNS:localhost"}
    if host not in ("", "0.0.0.0", "::"):
        try:
            ipaddress.ip_address(host)
            names.add(f"IP:{host}")
        except ValueError:
            names.add(f"DNS:{host}")
    return ",".join(sorted(names))
