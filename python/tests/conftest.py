"""A real redis-server per test session, on a free loopback port, stopped
by its pid: never port 6379, never an address but loopback. A missing
redis-server fails with how to install it."""

import os
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def _free_port() -> int:
    """A free loopback port at most 55535: a cluster node's bus port is its
    port plus 10000, which must fit too."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port <= 55535:
            return port


@pytest.fixture(scope="session")
def redis_url():
    if os.environ.get("TRADECACHE_TEST_REDIS_URL"):  # a server the Go interop test started
        yield os.environ["TRADECACHE_TEST_REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server not found: run `make test` (it installs it), or `apt-get install -y redis-server`")
    port = _free_port()
    d = tempfile.mkdtemp(prefix="tradecache-pytest-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"redis-server did not start on 127.0.0.1:{port}")
            time.sleep(0.02)
    yield f"redis://127.0.0.1:{port}"
    proc.kill()
    proc.wait()
    shutil.rmtree(d, ignore_errors=True)


class RedisServer:
    """A redis-server of the test's own, on a free loopback port, that the
    test may kill -9, restart on the same port, freeze (SIGSTOP) and thaw.
    Its log is printed when the test fails to start it."""

    def __init__(self, *extra: str):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.fail("redis-server not found: run `make test` (it installs it), or `apt-get install -y redis-server`")
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="tradecache-pytest-")
        self.extra = extra
        self.proc = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = os.path.join(self.dir, "redis.log")
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir, "--logfile", log, *self.extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                text = open(log).read() if os.path.exists(log) else ""
                pytest.fail(f"redis-server did not start on 127.0.0.1:{self.port}:\n{err}\n{text[-2000:]}")
            time.sleep(0.02)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def restart(self) -> None:
        self.kill()
        self.start()

    def freeze(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.thaw()
            self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_redis():
    srv = RedisServer()
    yield srv
    srv.close()
