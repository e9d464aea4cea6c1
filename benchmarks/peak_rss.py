"""Peak resident memory of one call, for the benchmarks' subprocesses (Linux only).

``reset()`` clears the kernel's high-water mark (``/proc/self/clear_refs``) and returns the resident set
(KiB) before the call; ``status_kib("VmHWM")`` after it minus that is what the call added at its peak.
"""


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` field in KiB (``"VmRSS"``, ``"VmHWM"``)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def reset() -> int:
    """Reset the peak resident set to the current one and return it (KiB)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status_kib("VmRSS")
