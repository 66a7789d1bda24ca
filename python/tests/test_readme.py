"""The README's Python example runs as written, against a real
redis-server named by REDIS_URL (in a child process, whose stderr is
printed when it fails)."""

import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def test_readme_python_example_runs(redis_url):
    readme = open(os.path.join(ROOT, "README.md")).read()
    section = readme[readme.index("## Python services"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CACHE_"))},
           "REDIS_URL": redis_url, "CACHE_KEY_PREFIX": "readme",
           "PYTHONPATH": os.path.join(ROOT, "python")}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"the README's example failed:\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
    assert p.stdout.splitlines() == ["{'value': 123}", "150.00", "100000.00"], p.stdout
