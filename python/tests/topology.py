"""Sentinel groups and Redis Clusters of the tests' own, on free loopback
ports (shared/DESIGN.md: one master, one replica and three sentinels; six
nodes with one replica each), stopped by pid. A server that does not start
fails the test with its log."""

import os
import shutil
import subprocess
import time

import pytest

from conftest import RedisServer, _free_port


def _cli(port, *args, timeout=5):
    return subprocess.run([shutil.which("redis-cli") or "redis-cli", "-p", str(port), *args],
                          capture_output=True, text=True, timeout=timeout)


class SentinelGroup:
    MASTER = "mymaster"

    def __init__(self):
        if shutil.which("redis-sentinel") is None and shutil.which("redis-server") is None:
            pytest.fail("redis-sentinel not found: run `make test` (it installs it), or apt-get install -y redis-sentinel")
        self.master = RedisServer()
        self.replica = RedisServer("--replicaof", "127.0.0.1", str(self.master.port))
        self.sentinels = []
        for _ in range(3):
            port = _free_port()
            d = self.master.dir
            conf = os.path.join(d, f"sentinel-{port}.conf")
            with open(conf, "w") as f:
                f.write(f"port {port}\nbind 127.0.0.1\ndir {d}\n"
                        f"sentinel monitor {self.MASTER} 127.0.0.1 {self.master.port} 2\n"
                        f"sentinel down-after-milliseconds {self.MASTER} 1000\n"
                        f"sentinel failover-timeout {self.MASTER} 3000\n")
            log = open(os.path.join(d, f"sentinel-{port}.log"), "w")
            p = subprocess.Popen([shutil.which("redis-server"), conf, "--sentinel"], stdout=log, stderr=log)
            self.sentinels.append((port, p))
        deadline = time.time() + 15
        while time.time() < deadline:
            out = [_cli(p, "SENTINEL", "get-master-addr-by-name", self.MASTER).stdout for p, _ in self.sentinels]
            if all(str(self.master.port) in o for o in out):
                return
            time.sleep(0.1)
        self.close()
        pytest.fail("the sentinels did not see the master within 15 s")

    @property
    def addrs(self):
        return [f"127.0.0.1:{p}" for p, _ in self.sentinels]

    def master_port(self):
        return int(_cli(self.sentinels[0][0], "SENTINEL", "get-master-addr-by-name", self.MASTER).stdout.split()[1])

    def close(self):
        for _, p in self.sentinels:
            p.kill()
            p.wait()
        self.replica.close()
        self.master.close()


class Cluster:
    def __init__(self, n=6):
        # repl-ping-replica-period 1: a fresh replica's offset stays 0 until
        # its master's first replication PING (10 s by default), and a
        # replica that never synced is not promoted when its master dies.
        self.nodes = [RedisServer("--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{i}.conf",
                                  "--cluster-node-timeout", "2000", "--repl-ping-replica-period", "1")
                      for i in range(n)]
        out = _cli(self.nodes[0].port, "--cluster", "create", *[f"127.0.0.1:{s.port}" for s in self.nodes],
                   "--cluster-replicas", "1", "--cluster-yes", timeout=60)
        if out.returncode != 0:
            self.close()
            pytest.fail(f"redis-cli --cluster create: {out.stdout}\n{out.stderr}")
        deadline = time.time() + 30
        while time.time() < deadline:
            if all("cluster_state:ok" in _cli(s.port, "CLUSTER", "INFO").stdout for s in self.nodes) and \
                    all(("role:slave" not in r or "master_link_status:up" in r) and
                        ("role:slave" in r or "connected_slaves:1" in r)
                        for r in (_cli(s.port, "INFO", "replication").stdout for s in self.nodes)):
                return
            time.sleep(0.1)
        self.close()
        pytest.fail("the cluster was not ok, with every replica in sync, within 30 s")

    @property
    def addrs(self):
        return [f"127.0.0.1:{s.port}" for s in self.nodes]

    def masters(self):
        return [s for s in self.nodes if "role:master" in _cli(s.port, "INFO", "replication").stdout]

    def close(self):
        for s in self.nodes:
            s.close()
