"""The API as a real `uvicorn` subprocess on a free loopback port: what the browser tests and the
performance benchmark talk to over HTTP.

Only 127.0.0.1 is ever bound or contacted. The process is configured by environment
(`Settings` reads it), ready when `/readyz` answers 200, and stopped with SIGINT so uvicorn
shuts down cleanly (a profiled app writes its stats then).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx

from govsearch.paths import PROJECT_ROOT


def free_port() -> int:
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ApiProcess:
    """`python -m uvicorn APP` on a free loopback port.

    env: variables for the API on top of this process's environment; a value of None removes
        the variable (so a caller's API_KEYS_FILE or ADMIN_TOKEN cannot leak into a measurement).
    log_path: the API's stdout and stderr, appended.
    app: the ASGI application, `module:attribute`; None: `python -m service`, the service as it is deployed
        (its own uvicorn options from the settings; API_HOST and API_PORT are set to this process's).
    startup_timeout: seconds to wait for `/readyz` (the model loads first).
    uvicorn_args: extra command-line options (`--no-access-log`, `--log-level warning`, ...); with app=None
        there are none.
    root: the checkout whose code the process runs (its working directory, first on its import path).
    """

    def __init__(self, env: Mapping[str, str | None], log_path: Path, *, app: str | None = "service.main:app",
                 startup_timeout: float = 120.0, uvicorn_args: tuple[str, ...] = ("--log-level", "warning"),
                 root: Path = PROJECT_ROOT) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(env)
        self.log_path = log_path
        self.app = app
        self.startup_timeout = startup_timeout
        self.uvicorn_args = uvicorn_args
        self.root = root
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0
        self._log: IO[bytes] | None = None

    def start(self) -> ApiProcess:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        for name, value in self.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        started = time.perf_counter()
        if self.app is None:
            env.update(API_HOST="127.0.0.1", API_PORT=str(self.port))
            command = [sys.executable, "-m", "service"]
        else:
            command = [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", str(self.port),
                       *self.uvicorn_args]
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        try:
            self._wait_ready(started + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        return self

    def _wait_ready(self, deadline: float) -> None:
        assert self.process is not None
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the API exited with {self.process.returncode} while starting:\n"
                                       f"{self.log_tail()}")
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"the API was not ready within {self.startup_timeout:.0f} s:\n{self.log_tail()}")
                time.sleep(0.2)

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the API is not running")
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ApiProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
