"""``gwsload simulate --nodes N``: N simulator nodes behind HAProxy, as GWS is deployed.

Each node is its own process (``python -m gwsload.simulator``) with its own HTTP
sessions, CSRF tokens and CometD sessions; all know the same agents. HAProxy
(Debian package ``haproxy``), configured and started here, listens on ``--port`` and
pins each client to a node with an inserted affinity cookie (``GWSNODE``), as a
production balancer does (the GWS CSRF page shows an ``AWSELB`` cookie beside
JSESSIONID). It checks each node every 500 ms and takes it out after two failed checks
in a row, a check failing when the node refuses it or has not answered within 5 s: a
killed node is out within a second, while a node that only stalls (an overloaded GWS,
or a simulator short of CPU) keeps its clients, who wait for it, as they would for a
slow GWS. A client whose node is out is sent to another one (``option redispatch``),
which does not know its session: it must log in again. Each node names itself in the
``X-Gwsload-Node`` response header.

TLS: with ``--tls`` HAProxy terminates HTTPS (``bind ... ssl crt``) with the
certificate made at start (simulator.tls, ``ca.pem`` in ``--tls-dir`` for clients)
and speaks plain HTTP to the nodes, as a balancer in front of GWS usually does; the
affinity cookie is the same.

Past some 9,000 agents one HAProxy process runs out of descriptors (it holds two per
connection, and ``ulimit -n`` may be a hard 20,000): ``--balancers K`` starts K of
them with the same configuration on the same port, which the kernel spreads the
connections over (HAProxy binds with SO_REUSEPORT); the affinity cookie names the
node, so any of them sends a client to its own.

Node failure: ``--fail-node-every-s S`` kills one node (SIGKILL, round robin) every S
seconds and restarts it on the same port ``--fail-node-down-s`` later; SIGUSR1 to this
process does the same at once. Each event is one line on stderr. Truth and health
logs get one file per node (``simulator-truth-node2.csv``).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import IO

from gwsload.errors import ConfigError
from gwsload.lifeline import PARENT_ENV, die_with_parent
from gwsload.simulator.options import SimulatorOptions, option_specs
from gwsload.simulator.process import SimulatorProcess, SimulatorStartError
from gwsload.simulator.tls import make_certificate

__all__ = ["AFFINITY_COOKIE", "haproxy_config", "node_argv", "run_cluster"]

AFFINITY_COOKIE = "GWSNODE"
#: a node's health check fails when it has not answered within this (HAProxy's syntax):
#: a node that stalls shorter keeps its clients (see module doc)
_CHECK_TIMEOUT = "5s"
#: what the cluster handles itself (TLS ends at HAProxy: the nodes speak plain HTTP)
_CLUSTER_ONLY = frozenset(
    {"nodes", "balancers", "fail_node_every_s", "fail_node_down_s", "port", "host", "tls",
     "tls_dir"}
)  # fmt: skip


def node_argv(options: SimulatorOptions, name: str) -> list[str]:
    """The command line of one node: every option that differs from its default (one
    declaration, see options.py), per-node log files, and the node's name."""
    node = replace(
        options,
        node_name=name,
        truth_log=_per_node(options.truth_log, name),
        health_log=_per_node(options.health_log, name),
    )
    argv: list[str] = []
    for spec in option_specs():
        value = getattr(node, spec.name)
        if spec.name in _CLUSTER_ONLY or value == spec.default or value is None:
            continue
        if spec.kind is bool:
            argv.append(spec.flag)
        else:
            argv.extend([spec.flag, str(value)])
    return argv


def _per_node(path: Path | None, name: str) -> Path | None:
    return None if path is None else path.with_name(f"{path.stem}-{name}{path.suffix}")


def haproxy_config(
    host: str, port: int, nodes: list[tuple[str, int]], *, crt: Path | None = None
) -> str:
    """HAProxy's configuration; ``crt``: a PEM with the certificate and its key, to
    serve HTTPS on ``port``."""
    servers = "\n".join(
        f"  server {name} 127.0.0.1:{node_port} cookie {name}" for name, node_port in nodes
    )
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if crt is not None:
        bind += f" ssl crt {crt}"
    return f"""global
  maxconn 8000
defaults
  mode http
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  timeout tunnel 120s
  option redispatch
  retries 2
frontend gws
  bind {bind}
  default_backend nodes
backend nodes
  balance roundrobin
  cookie {AFFINITY_COOKIE} insert indirect nocache
  option httpchk GET /api/v2/diagnostics/version
  timeout check {_CHECK_TIMEOUT}
  default-server check inter 500ms fall 2 rise 1
{servers}
"""


class _Node:
    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.argv = argv
        self.port = 0
        self.process: SimulatorProcess | None = None
        self.down_until = 0.0

    def start(self) -> None:
        port = ["--port", str(self.port)] if self.port else []
        self.process = SimulatorProcess([*self.argv, *port])
        url = self.process.start()
        self.port = int(url.rsplit(":", 1)[1])

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.close()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None


#: where Debian puts daemons; root's PATH has them, a plain user's or ``env -i``'s not
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def find_haproxy() -> str | None:
    """The HAProxy binary: ``GWSLOAD_HAPROXY`` when set (a path; tests point it at
    nothing), else ``haproxy`` on PATH or in the sbin folders."""
    given = os.environ.get("GWSLOAD_HAPROXY")
    if given is not None:
        return given if os.access(given, os.X_OK) else None
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN_DIRS])
    return shutil.which("haproxy", path=search)


def run_cluster(options: SimulatorOptions, *, stop_on_stdin_eof: bool = False) -> None:
    """Start the nodes and HAProxy, print HAProxy's URL, serve until SIGINT/SIGTERM (or
    stdin closes, if asked); kill and restart nodes as asked."""
    haproxy = find_haproxy()
    if haproxy is None:
        raise ConfigError(
            "--nodes needs HAProxy: install the Debian package haproxy (apt-get install haproxy)"
        )
    folder = Path(tempfile.mkdtemp(prefix="gwsload-cluster-"))
    nodes = [_Node(f"node{k}", node_argv(options, f"node{k}")) for k in range(1, options.nodes + 1)]
    balancers: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []
    requests = {"stop": False, "fail": False}

    def on_signal(signum: int, _: FrameType | None) -> None:
        requests["fail" if signum == signal.SIGUSR1 else "stop"] = True

    previous = {
        s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)
    }
    try:
        for node in nodes:
            try:
                node.start()
            except SimulatorStartError as exc:
                raise ConfigError(f"--nodes: {node.name} did not start: {exc}") from None
        port = options.port or _free_port(options.host)
        crt = _haproxy_certificate(options, folder) if options.tls else None
        config = folder / "haproxy.cfg"
        config.write_text(
            haproxy_config(options.host, port, [(n.name, n.port) for n in nodes], crt=crt)
        )
        for k in range(1, options.balancers + 1):
            log_path = folder / f"haproxy-{k}.log"
            logs.append(log_path.open("wb"))
            balancers.append(
                subprocess.Popen(
                    [haproxy, "-f", str(config), "-db"],
                    stdin=subprocess.DEVNULL, stdout=logs[-1], stderr=logs[-1], close_fds=True,
                    preexec_fn=_haproxy_dies_with_us,  # noqa: PLW1509 (prctl only, before exec)
                )
            )  # fmt: skip
            _wait_listening(options.host, port, balancers[-1], log_path)
        if len(balancers) > 1:
            # the port already answers: one that could not bind it exits at once
            time.sleep(0.3)
            for k, balancer in enumerate(balancers, start=1):
                _check_running(balancer, folder / f"haproxy-{k}.log")
        host = f"[{options.host}]" if ":" in options.host else options.host
        print(f"{'https' if options.tls else 'http'}://{host}:{port}", flush=True)
        every = options.fail_node_every_s
        next_failure = time.monotonic() + every if every > 0 else float("inf")
        victim = 0
        while not requests["stop"]:
            if _stdin_closed(stop_on_stdin_eof, timeout_s=0.1):
                break
            now = time.monotonic()
            if requests["fail"] or now >= next_failure:
                requests["fail"] = False
                next_failure = now + every if every > 0 else float("inf")
                node = nodes[victim % len(nodes)]
                victim += 1
                if node.process is not None:
                    node.kill()
                    node.down_until = now + options.fail_node_down_s
                    _say(f"killed {node.name}; restarting it in {options.fail_node_down_s:g} s")
            for node in nodes:
                if node.process is None and now >= node.down_until:
                    node.start()
                    _say(f"restarted {node.name} on port {node.port}")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for balancer in balancers:
            balancer.terminate()
        for balancer in balancers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                balancer.wait(timeout=5)
            if balancer.poll() is None:
                balancer.kill()
                balancer.wait()
        for log in logs:
            log.close()
        for node in nodes:
            node.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _haproxy_certificate(options: SimulatorOptions, folder: Path) -> Path:
    """The certificate made at start, as HAProxy's ``crt`` wants it: one PEM file with
    the certificate and its key, in the cluster's private folder (removed at exit)."""
    tls_dir = options.tls_dir or Path(tempfile.mkdtemp(prefix="gwsload-sim-tls-"))
    certificate = make_certificate(tls_dir, options.host)
    _say(f"CA certificate for clients: {certificate.ca_file}")
    crt = folder / "haproxy.pem"
    crt.touch(mode=0o600)
    crt.write_bytes(certificate.cert_file.read_bytes() + certificate.key_file.read_bytes())
    return crt


def _say(text: str) -> None:
    print(f"gwsload simulate: {text}", file=sys.stderr, flush=True)


def _haproxy_dies_with_us() -> None:
    # in the forked child, before exec: the kernel stops HAProxy if we die, SIGKILL included
    die_with_parent(signal.SIGTERM, {PARENT_ENV: str(os.getppid())})


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(
    host: str, port: int, balancer: subprocess.Popen[bytes], log_path: Path
) -> None:
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        _check_running(balancer, log_path)
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise ConfigError(f"--nodes: haproxy did not listen on {host}:{port} within 10 s")


def _check_running(balancer: subprocess.Popen[bytes], log_path: Path) -> None:
    if balancer.poll() is not None:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise ConfigError(f"--nodes: haproxy exited with code {balancer.returncode}: {tail[0]}")


def _stdin_closed(watch: bool, *, timeout_s: float) -> bool:
    if not watch:
        time.sleep(timeout_s)
        return False
    fd = sys.stdin.fileno()
    ready, _, _ = select.select([fd], [], [], timeout_s)
    return bool(ready) and not os.read(fd, 4096)
