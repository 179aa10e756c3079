"""Shared fixtures of the Python producer's tests: dependency checks, free ports, a fake
broker, the real broker (from LOGWIRE_BIN_DIR) in a private runtime directory."""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Callable, Iterator, List

import pytest

# A missing Debian package fails the whole run with its name: a suite that silently
# skipped everything would pass under CTest and prove nothing.
for _module, _package in (("zmq", "python3-zmq"), ("flatbuffers", "python3-flatbuffers")):
    try:
        importlib.import_module(_module)
    except ImportError as _error:
        pytest.exit(f"{_package} is missing (apt-get install {_package}): {_error}",
                    returncode=3)
try:
    importlib.import_module("logwire.wire.Envelope")
except ImportError as _error:
    pytest.exit("the generated package logwire.wire is not on PYTHONPATH (build the "
                "project; CTest sets PYTHONPATH to producer/python and "
                f"build/producer/python/generated): {_error}", returncode=3)

sys.path.insert(0, os.path.dirname(__file__))

from fake_broker import FakeBroker  # noqa: E402

BIN_DIR = os.environ.get("LOGWIRE_BIN_DIR", "")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    """A TCP port nobody listens on right now (bound to 0 and closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float = 10.0,
             interval: float = 0.01) -> bool:
    """Polls until `condition` holds; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


@pytest.fixture
def fake_broker() -> Iterator[FakeBroker]:
    """A fake broker on a free loopback port, stopped after the test."""
    broker = FakeBroker()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def producers() -> Iterator[List]:
    """Producers a test opens; closed (quickly) after it."""
    opened: List = []
    yield opened
    for producer in opened:
        producer.close(timeout=0.2)


def broker_binary(name: str) -> str:
    """Path of a logwire binary, or a skip when LOGWIRE_BIN_DIR does not have it."""
    if not BIN_DIR:
        pytest.skip("LOGWIRE_BIN_DIR is not set (CTest sets it to the build's bin dir)")
    path = os.path.join(BIN_DIR, name)
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not built")
    return path


class RealBroker:
    """A logwire-broker process in a fresh 0700 runtime directory, listening for
    producers on a free loopback port."""

    def __init__(self, runtime_dir: str) -> None:
        self.broker = broker_binary("logwire-broker")
        self.cli = broker_binary("logwire")
        help_text = subprocess.run([self.broker, "--help"], capture_output=True, text=True,
                                   timeout=10).stdout
        if "--listen" not in help_text:
            pytest.skip("logwire-broker has no --listen option yet (ZeroMQ ingest)")
        self.runtime_dir = runtime_dir
        self.port = free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = os.path.join(runtime_dir, "broker.log")

    def start(self) -> None:
        """Starts the broker and waits until it answers queries."""
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.broker, "--runtime-dir", self.runtime_dir, "--listen", self.endpoint],
            stdout=self._log, stderr=subprocess.STDOUT)
        if not wait_for(self._answers, timeout=10, interval=0.05):
            raise AssertionError("logwire-broker did not start: " + self.output())

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError("logwire-broker exited: " + self.output())
        return subprocess.run([self.cli, "--runtime-dir", self.runtime_dir, "query",
                               "--limit", "1"], capture_output=True,
                              timeout=10).returncode == 0

    def output(self) -> str:
        """What the broker printed."""
        with open(self.log_path, "rb") as log:
            return log.read().decode("utf-8", "replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Ends the broker (SIGKILL by default) and waits for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)
        self.process = None
        if getattr(self, "_log", None):
            self._log.close()

    def query(self, service: str) -> dict:
        """What `logwire query --service SERVICE --limit 1000` prints, parsed."""
        import json
        done = subprocess.run([self.cli, "--runtime-dir", self.runtime_dir, "query",
                               "--service", service, "--limit", "1000"],
                              capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, done.stderr
        text = done.stdout
        return json.loads(text[text.index("{"):])


@pytest.fixture
def real_broker() -> Iterator[RealBroker]:
    """The real broker in a private runtime directory; killed after the test."""
    runtime_dir = tempfile.mkdtemp(prefix="logwire-py-")
    os.chmod(runtime_dir, 0o700)
    broker = None
    try:
        broker = RealBroker(runtime_dir)
        broker.start()
        yield broker
    finally:
        if broker is not None:
            broker.kill()
            # The store outlives the broker in /dev/shm, named after the runtime dir.
            subprocess.run([broker.cli, "--runtime-dir", runtime_dir, "clear"],
                           capture_output=True, timeout=10)
        shutil.rmtree(runtime_dir, ignore_errors=True)
