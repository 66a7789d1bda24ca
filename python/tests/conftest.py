"""A real redis-server per test session, on a free loopback port, stopped
by its pid: never port 6379, never an address but loopback. A missing
redis-server fails with how to install it."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
