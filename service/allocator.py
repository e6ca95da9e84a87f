"""glibc malloc told to keep freed memory, for a process whose requests allocate large image buffers.

glibc serves an allocation above its mmap threshold (128 KiB, rising to at most 32 MiB as large
blocks are freed) with a fresh ``mmap`` and returns it to the kernel on ``free``; memory freed at
the top of the heap beyond the trim threshold goes back as well. A 2048 px page's pipeline makes a
few dozen 4-32 MB arrays per request (decode, labels, the guided upscale, flat fill, the encoder's
input), so every request faults all of them in afresh: the kernel zeroes each 4 KiB page on first
touch. Raising both thresholds keeps the freed blocks in the heap for the next request, as
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` would from the environment, set here with
``mallopt`` so that ``colorizer serve`` does it however it is started.

Measured (``scripts/bench_malloc.py``; docs/PERFORMANCE.md), per 2048 px page on one thread:
flat fill 4080-4591 page faults and 8-16 ms of system CPU without it, none with it; the guided
upscale + lines + PNG encode 8500-9200 faults and 28-40 ms of system CPU, none with it. The price:
the process keeps its high-water mark (each thread's arena its own peak) instead of shrinking
between requests; the admission limits bound that peak. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap (above it, from mmap as before): larger than any
#: array a request within the default limits makes (a 4000 x 3000 RGBA page is 48 MB).
MMAP_THRESHOLD = 256 * 2**20
#: Free memory at the heap's top is handed back only beyond this much.
TRIM_THRESHOLD = 1024 * 2**20


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; whether it took (False off glibc)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        version = libc.gnu_get_libc_version  # glibc only: musl has no such symbol
    except (OSError, AttributeError):
        logger.info("malloc: not glibc, freed memory handling left as it is")
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    version.restype = ctypes.c_char_p
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    what = "keeping freed memory for reuse" if done else "mallopt refused"
    logger.info("malloc (glibc %s): %s", version().decode(), what)
    return done
