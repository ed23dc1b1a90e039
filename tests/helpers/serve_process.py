"""A real ``hsnet-deploy serve`` in a child process, on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import pytest


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_ports_free(ports: Sequence[int], timeout: float = 60) -> None:
    """After a SIGKILL the orphaned tritonserver (told by PDEATHSIG) still drains a while."""
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"port {port} still in use {timeout} s later") from None
                    time.sleep(0.2)


@dataclass
class ServeProcess:
    process: subprocess.Popen
    ports: list[int]
    token: str
    log: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    @property
    def grpc(self) -> str:
        return f"grpc://127.0.0.1:{self.ports[1]}"

    @property
    def metrics(self) -> str:
        return f"http://127.0.0.1:{self.ports[2]}/metrics"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"serve did not stop within {timeout} s after signal {sig}:\n{self.output()}")


def start_serve(model: Path, folder: Path, args: Sequence[str] = (), ports: Optional[list[int]] = None,
                timeout: float = 120) -> ServeProcess:
    """Start ``hsnet-deploy serve MODEL`` and wait for its 'ready' line (its output goes to a file)."""
    pytest.importorskip("pytriton")
    ports = ports or free_ports(3)
    token_file = folder / f"token-{ports[0]}"
    log = folder / f"serve-{ports[0]}-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "hsnet_deploy", "serve", str(model), "--http-port", str(ports[0]),
               "--grpc-port", str(ports[1]), "--metrics-port", str(ports[2]), "--token-file", str(token_file),
               "--drain-timeout-s", "10", *args]
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = ServeProcess(process, ports, "", log)
    deadline = time.monotonic() + timeout
    while "ready" not in server.output().splitlines():
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop(signal.SIGKILL)
            raise AssertionError(f"serve did not become ready:\n{server.output()}")
        time.sleep(0.1)
    server.token = token_file.read_text().strip()
    return server
