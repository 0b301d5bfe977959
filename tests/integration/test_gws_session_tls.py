"""TLS handling of the GWS session against a real TLS server (gevent pywsgi, self-signed).

Verification is on by default; ``verify_tls=False`` is the explicit opt-out for lab
systems, and ``ca_file`` trusts a lab CA while still verifying.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gwsload.gws.errors import GwsTransportError
from gwsload.gws.session import GwsSession

pytestmark = pytest.mark.gevent


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key, crt = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return key, crt


# A stdlib HTTPS server in its own process (an in-process server would need the
# whole test process monkey-patched): prints its port, answers every GET with JSON.
_SERVER = """
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"statusCode":0,"version":"8.5.200.50"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[1])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@pytest.fixture
def tls_url(cert: tuple[Path, Path]) -> Iterator[str]:
    key, crt = cert
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(key), str(crt)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"https://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_self_signed_certificate_is_refused_by_default(tls_url: str) -> None:
    with (
        GwsSession(tls_url, "agent0001", "x", network_timeout=5) as session,
        pytest.raises(GwsTransportError, match=r"CERTIFICATE_VERIFY_FAILED"),
    ):
        session.get("/api/v2/diagnostics/version")


def test_verification_can_be_turned_off_for_lab_systems(tls_url: str) -> None:
    with GwsSession(tls_url, "agent0001", "x", verify_tls=False, network_timeout=5) as session:
        response = session.get("/api/v2/diagnostics/version").raise_for_status()
    assert response.body["version"] == "8.5.200.50"


def test_a_lab_ca_can_be_trusted_while_verifying(tls_url: str, cert: tuple[Path, Path]) -> None:
    with GwsSession(tls_url, "agent0001", "x", ca_file=str(cert[1]), network_timeout=5) as s:
        assert s.get("/api/v2/diagnostics/version").ok
