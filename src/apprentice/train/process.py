"""Settings for a process about to train, made once at its edge (the CLI, serve's training thread), not per run.

Denormal floats are flushed to zero on the training thread (tiny gradients otherwise slow every step several-fold
on CPUs), and glibc hands large freed image buffers back to the system (elsewhere: macOS, Windows, musl, a no-op).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

import torch

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
THRESHOLD = 8 * 2**20  # blocks this large come from mmap: a decoded page, not a training batch's activations


def ready_for_training() -> None:
    """Flush denormals on the calling thread, and fix the C heap's mmap threshold once for the process."""
    flush_denormals()
    return_large_blocks()


def flush_denormals() -> None:
    """Flush denormal floats to zero on the calling thread: a setting of this thread's CPU state only, which other
    code on the thread (a test framework, a native library) may have changed, so each run makes sure of it."""
    torch.set_flush_denormal(True)


@functools.cache
def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold so large freed blocks go back to the system; True when it took effect.

    glibc raises its threshold each time a large block is freed, after which later decode buffers of 4–32 MB come
    from the heap and stay counted against the process once freed; a fixed threshold hands them back at once.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):
        return False
