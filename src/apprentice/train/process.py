"""Settings for a process about to train or apply, made once at its edge (the CLI, serve's threads), not per run.

Denormal floats are flushed to zero on the training thread (tiny gradients otherwise slow every step several-fold
on CPUs), and glibc's heap is set for what the process does: training or applying (elsewhere: a no-op).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

import torch

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's mallopt parameter numbers
TRAINING = 8 * 2**20  # blocks this large come from mmap: a decoded example, not a training batch's activations
APPLYING = 128 * 2**20  # … a decoded page; a 1024-px tile's activations (20–80 MB) are reused from the heap


def ready_for_training() -> None:
    """Flush denormals on the calling thread, and set the C heap's mmap threshold for training, for the process."""
    flush_denormals()
    set_mmap_threshold(TRAINING)


def ready_for_applying() -> None:
    """Flush denormals on the calling thread, and set the C heap for applying, for the process: the mmap threshold,
    and one arena, so what the pipeline's decode and encode threads free is reused by the others (an 8000² page:
    peak RSS 1.7 GB against 2.1–2.2 GB with an arena per thread)."""
    flush_denormals()
    set_mmap_threshold(APPLYING)
    mallopt(M_ARENA_MAX, 1)


def flush_denormals() -> None:
    """Flush denormal floats to zero on the calling thread: a setting of this thread's CPU state only, which other
    code on the thread (a test framework, a native library) may have changed, so each run makes sure of it."""
    torch.set_flush_denormal(True)


def set_mmap_threshold(size: int) -> bool:
    """Fix glibc's mmap threshold for the process; True when it took effect (off glibc: a no-op).

    Left alone, glibc raises its threshold each time a large block is freed (up to 32 MB), after which decode
    buffers of 4–32 MB come from the heap and stay counted against the process once freed: training on a large set
    fixes it at 8 MB, which hands them back at once (peak RSS 1.1 GB against 3.8 GB at 128 MB, `bench/train_memory.py`).
    But at 8 MB every activation of a 1024-px tile is mapped afresh and faulted in page by page, which makes apply
    1.5–2.8× slower; applying fixes it at 128 MB.
    """
    return mallopt(M_MMAP_THRESHOLD, size)


def mallopt(parameter: int, value: int) -> bool:
    """glibc's mallopt; False where it did not take effect or the process does not run on glibc."""
    found = libc()
    try:
        return bool(found and found.mallopt(parameter, value))
    except AttributeError:  # a C library without mallopt
        return False


@functools.cache
def libc() -> ctypes.CDLL | None:
    """glibc, where the process runs on it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
