"""Settings for a process about to train, made once at its edge (the CLI, serve's training thread), not per run.

Denormal floats are flushed to zero on the training thread (tiny gradients otherwise slow every step several-fold
on CPUs), and glibc's heap is set for pages and tiles (elsewhere: macOS, Windows, musl, a no-op).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

import torch

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
THRESHOLD = 128 * 2**20  # blocks this large come from mmap: a decoded page; a tile's activations stay in the heap


def ready_for_training() -> None:
    """Flush denormals on the calling thread, and fix the C heap's mmap threshold once for the process."""
    flush_denormals()
    return_large_blocks()


def flush_denormals() -> None:
    """Flush denormal floats to zero on the calling thread: a setting of this thread's CPU state only, which other
    code on the thread (a test framework, a native library) may have changed, so each run makes sure of it."""
    torch.set_flush_denormal(True)


@functools.cache
def libc() -> ctypes.CDLL | None:
    """glibc, where the process runs on it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


@functools.cache
def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold: True when it took effect.

    Left alone, glibc raises its threshold each time a large block is freed (up to 32 MB), so decode buffers come
    from the heap and stay counted once freed. Fixed too low (it was 8 MB), every activation of a 1024-px tile
    (20–80 MB) is mapped fresh and faulted in page by page, which made apply 1.5–2.8× slower. At 128 MB a tile's
    activations are reused from the heap, and what training frees from its pool goes back by `give_back_freed`.
    """
    found = libc()
    try:
        return bool(found and found.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except AttributeError:  # a C library without mallopt
        return False


def give_back_freed() -> None:
    """Hand the heap's free pages back to the system (glibc's malloc_trim); after a large buffer is dropped."""
    found = libc()
    if found is not None and hasattr(found, "malloc_trim"):
        found.malloc_trim(0)
