"""What every benchmark shares: the machine it ran on, one process per row, and results written atomically.

- `machine_info()`: the CPU model and the flags that decide speed here (AVX2, AVX-512, AVX512-BF16, AMX), the
  logical CPUs and torch's threads, the GPU if any, and the torch / transformers / Python versions. Every result
  file records it *inside*, so a file's name says what it measures, never where.
- `run_rows(script, names, args)`: each row (a configuration, a variant) in a fresh `python SCRIPT --one NAME ...`
  process, so that its peak RSS and its process-wide switches are its own; the child prints `ROW {json}`
  (`emit_row`), the parent collects it, and a failing child stops the benchmark with its stderr.
- `write_json` / `write_markdown`: through `core.atomic_write_json` / `atomic_write_text`, so a benchmark killed
  mid-way leaves the previous file or the new one, never half of one, and rows already measured are not lost.
- `PeakRSS`: this process's resident set size, sampled on a thread while a run goes on.

Scripts import it as `from harness import ...`: Python puts the script's own folder (benchmarks/) on the path.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import psutil
import torch
import transformers

from basemodel_course.core import atomic_write_json, atomic_write_text, fast_bf16
from basemodel_course.deploy import cpu_info

RESULTS = Path(__file__).resolve().parent/"results"
ROW = "ROW "
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_vnni", "fma")


_cpuinfo = cpu_info  # the CPU model name and its flags: the same reading `basemodel-course doctor` prints


def machine_info() -> dict:
    "The machine a benchmark ran on, recorded inside its results."
    model, flags = _cpuinfo()
    info = {"cpu": model, "cpu_flags": [f for f in SPEED_FLAGS if f in flags], "logical_cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "native_bf16_cpu": fast_bf16(torch.device("cpu")),
            "torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
            "platform": platform.platform()}
    if torch.cuda.is_available():
        info |= {"gpu": torch.cuda.get_device_name(), "gpu_capability": list(torch.cuda.get_device_capability()), "cuda": torch.version.cuda}
    return info


def emit_row(row:dict) -> None:
    "In a child process: hand the row to the parent."
    print(ROW + json.dumps(row), flush=True)


def run_rows(script:str|Path, names:list[str], args:list[str]|None=None, flag:str="--one") -> Iterator[tuple[str, dict]]:
    "Run `python SCRIPT ARGS --one NAME` per name, each in a fresh process; yields (name, row) as each finishes."
    for i, name in enumerate(names):
        print(f"[{i + 1}/{len(names)}] {name} ...", flush=True)
        r = subprocess.run([sys.executable, str(script), *map(str, args or []), flag, name], capture_output=True, text=True)
        line = [l for l in r.stdout.splitlines() if l.startswith(ROW)]
        if r.returncode or not line:
            sys.stderr.write(r.stderr[-3000:])
            raise SystemExit(f"{Path(script).name}: row {name} failed (exit {r.returncode})")
        yield name, json.loads(line[-1][len(ROW):])


def write_json(path:str|Path, obj) -> Path:
    "Write a result file atomically (the folder is created if needed)."
    return atomic_write_json(path, obj)


def write_markdown(path:str|Path, command:str, body:str) -> Path:
    "A Markdown table beside the JSON, headed by the command that produced it."
    return atomic_write_text(path, f"`{command}`\n\n{body}")


def command_line(script:str|Path, argv:list[str]|None=None) -> str:
    "How this benchmark was called, for its result files."
    return f"python benchmarks/{Path(script).name} " + " ".join(sys.argv[1:] if argv is None else argv)


class PeakRSS:
    "Samples this process's resident set size on a thread while a run is going; `.peak_mb` afterwards."
    def __init__(self, every:float=0.05): self.every, self.peak, self._stop = every, 0, threading.Event()
    def _loop(self):
        proc = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, proc.memory_info().rss); self._stop.wait(self.every)
    def __enter__(self):
        self.peak = psutil.Process().memory_info().rss
        self._t = threading.Thread(target=self._loop, daemon=True); self._t.start(); return self
    def __exit__(self, *exc): self._stop.set(); self._t.join()
    @property
    def peak_mb(self) -> float: return self.peak / 2**20
