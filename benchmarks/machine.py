"""What a benchmark report records about its run: the CPU model and the command line.

Imported by the scripts beside it (``python benchmarks/NAME.py`` puts this folder on the path).
"""

from __future__ import annotations

import shlex
import subprocess
import sys


def cpu_model() -> str:
    """``lscpu``'s model name (``platform.processor()`` is often empty on Linux); "unknown CPU" without it."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    return next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "unknown CPU")


def command_line(script: str, argv: list[str] | None) -> str:
    """``python benchmarks/SCRIPT ARGS``, the command that reproduces a run (``argv`` None: this process's)."""
    return f"python benchmarks/{script} " + shlex.join(argv if argv is not None else sys.argv[1:])
