"""What a benchmark ran on: cores, CPU model, Python (imported by the benchmark scripts)."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo")
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")), "") if cpuinfo.exists() else ""
    return {"nproc": os.cpu_count(), "cpu": cpu or platform.processor(), "python": platform.python_version()}
