"""The perf benchmark's CPU accounting of the API (`bench/perf/machine.py`): with several uvicorn workers
the API is a process tree, and its CPU is the sum over that tree."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.perf.machine import CpuMeter, _pid_cpu_seconds, process_tree


def test_an_api_s_cpu_is_the_sum_over_its_process_and_its_workers() -> None:
    # A supervisor (sleeping) with two busy children, like `uvicorn --workers 2`.
    busy = "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass"
    supervisor = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys\n"
        f"children = [subprocess.Popen([sys.executable, '-c', {busy!r}]) for _ in range(2)]\n"
        "[c.wait() for c in children]")])
    try:
        deadline = time.monotonic() + 10
        while len(process_tree(supervisor.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        tree = process_tree(supervisor.pid)
        assert tree[0] == supervisor.pid and len(tree) == 3
        assert os.getpid() not in tree
        meter = CpuMeter("http://203.0.113.1:9200", supervisor.pid).start()  # not local: no node pids looked up
        alone = _pid_cpu_seconds(supervisor.pid)
        time.sleep(0.8)
        api = meter.stop()["api"]
        alone_used = (_pid_cpu_seconds(supervisor.pid) or 0.0) - (alone or 0.0)
        # The supervisor itself only waits; the two spinning workers are what the API's reading shows.
        assert alone_used < 0.1, alone_used
        assert api is not None and api > 0.25, api
    finally:
        supervisor.wait(timeout=30)
