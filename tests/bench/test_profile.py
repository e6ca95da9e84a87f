"""bench.profile on a real py-spy recording of a child process (no gateway: a known workload)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.profile import record_command, summarize

# Two threads named as the gateway names its pools; each spends its time in its own function.
CHILD = """
import threading, time

def burn_in_image_thread(stop):
    while time.monotonic() < stop:
        sum(i * i for i in range(2000))

def burn_in_main(stop):
    while time.monotonic() < stop:
        sorted(range(5000), key=lambda i: -i)

stop = time.monotonic() + 1.5
worker = threading.Thread(target=burn_in_image_thread, args=(stop,), name="image_0")
worker.start()
burn_in_main(stop)
worker.join()
"""


def test_summary_of_a_real_recording_names_the_threads_and_the_hot_functions(tmp_path: Path) -> None:
    out = tmp_path / "profile.txt"
    done = subprocess.run(
        record_command(out, [sys.executable, "-c", CHILD]), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    profile = summarize(out)
    assert profile.samples >= 20  # 1.5 s at 100 Hz, two busy threads
    assert set(profile.threads) <= {"image", "event loop / gRPC", "other"}
    assert profile.threads["image"] > 0.2 and profile.threads["event loop / gRPC"] > 0.2
    assert abs(sum(profile.threads.values()) - 1) < 1e-9
    hot = {function for function, _, share in profile.self_time if share > 0.05}
    assert hot & {"burn_in_image_thread", "<genexpr>"} and hot & {"burn_in_main", "<lambda>"}
    shares = [share for _, _, share in profile.self_time]
    assert shares == sorted(shares, reverse=True)
