"""Per-call overhead counted in CPU instructions (valgrind's callgrind): a noise-free twin
of the wall-clock table.

On a shared VM the wall-clock ratios wander by ±10% from one run to the next (other
tenants' load, CPU steal), which hides a 2% change. Instructions executed do not depend
on the neighbours: the same calls under callgrind give the same count to a few parts
in 10,000. The bare and the attached worker (bench/_worker.py) run under
``valgrind --tool=callgrind --instr-atstart=no``; for each row the parent switches
counting on, zeroes it, runs N calls (attached: and ``flush()``, so the writer
thread's work on those events is counted), dumps, and switches it off again. Start-up
and warm-up are never counted. Instructions are not time (a cache miss costs more
than an add), but the ratio tracks the CPU work tokentrail adds.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
from typing import Any, Callable


def available() -> str | None:
    """None when callgrind can be used, else why not."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        return "valgrind is not installed (apt-get install valgrind)"
    return None


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=120)


def _totals(path: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def count(make_worker: Callable[..., Any], rows: list[tuple[str, str]], calls: dict[str, int],
          modes: tuple[str, ...] = ("bare", "attached")) -> dict:
    """Instructions per call for each row in each worker mode: {row: {"bare": n, "attached": n}}."""
    tmp = tempfile.mkdtemp(prefix="tokentrail-callgrind-")
    workers = {}
    for mode in modes:
        out = os.path.join(tmp, f"{mode}.out")
        workers[mode] = (make_worker(mode, prefix=["valgrind", "-q", "--tool=callgrind", "--instr-atstart=no",
                                                   f"--callgrind-out-file={out}"],
                                     env={"PYTHONHASHSEED": "0"}), out)
    result: dict[str, dict[str, float]] = {row: {} for row, _ in rows}
    errors: list[BaseException] = []

    def run(mode: str) -> None:
        w, out = workers[mode]
        try:
            ready = w.wait_ready()
            if not ready.get("ready"):
                raise RuntimeError(f"the {mode} worker did not start under valgrind: {ready.get('error')}")
            pid = w.proc.pid            # valgrind runs the tool in its own process: same pid
            for k, (row, _label) in enumerate(rows, start=1):
                w.ask(cmd="gc")         # a full collection of the whole heap mid-row would swamp the row
                _control(pid, "--instr=on")
                _control(pid, "--zero")
                w.ask(cmd="round", row=row, n=calls[row], gc=False)
                _control(pid, f"--dump={row}")
                _control(pid, "--instr=off")
                result[row][mode] = _totals(f"{out}.{k}") / calls[row]
        except BaseException as e:      # reported by the caller
            errors.append(e)

    threads = [threading.Thread(target=run, args=(m,)) for m in workers]   # one core each
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for w, _out in workers.values():
            w.close()
        if not os.environ.get("TOKENTRAIL_BENCH_KEEP"):
            for f in glob.glob(os.path.join(tmp, "*")):
                os.unlink(f)
            os.rmdir(tmp)
    if errors:
        raise errors[0]
    return result
