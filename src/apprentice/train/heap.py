"""Keep the C heap from hoarding freed image buffers while training streams examples through memory.

glibc raises its mmap threshold each time a large block is freed, after which later decode buffers of
4–32 MB come from the heap and stay counted against the process once freed; a fixed threshold
hands them back at once. Elsewhere (macOS, Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
THRESHOLD = 8 * 2**20  # blocks this large come from mmap: a decoded page, not a training batch's activations


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold so large freed blocks go back to the system; True when it took effect."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):
        return False
