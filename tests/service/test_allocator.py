"""glibc keeps freed image buffers for reuse once the gateway's allocator setting is applied."""

from __future__ import annotations

import subprocess
import sys

import pytest

from service.settings import Settings

# A child process allocates and frees a 64 MB array (above glibc's largest dynamic mmap threshold,
# so by default it is mmapped and handed back on free) and prints how much of it stayed resident.
_CHILD = """
import sys
import numpy as np
from service.allocator import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
before = rss()
a = np.ones(64 * 2**20, np.uint8)
del a
print((rss() - before) / 2**20)
"""


def _kept_mib(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True)
    return float(done.stdout)


def test_freed_buffers_stay_in_the_process_only_with_the_setting() -> None:
    assert _kept_mib("default") < 8  # returned to the kernel on free
    assert _kept_mib("keep") > 56  # kept for the next request (its pages already faulted in)


def test_the_setting_is_on_by_default_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().malloc_keep_freed
    monkeypatch.setenv("COLORIZER_MALLOC_KEEP_FREED", "false")
    assert not Settings().malloc_keep_freed

