"""A real NVIDIA Triton for local runs and tests: the ``tritonserver`` bundled in nvidia-pytriton.

The server runs in its own virtual environment (default ``<repo>/.venv-triton``, made by
``make triton-env``): its Python backend needs numpy < 2. It serves a CPU twin of a production
repository (:mod:`export.twin`). What makes that binary work on these machines:

* ``LD_LIBRARY_PATH`` = the Triton venv interpreter's libdir (pyenv's libpython, not the system
  one the stub was linked against) + ``site-packages/nvidia_pytriton.libs``;
* the Python backend copied to a folder with ``triton_python_backend_stub`` of the venv's
  Python version next to it;
* the Triton venv's ``bin`` first in ``PATH`` (the stub finds its environment through it).

The server and its stubs run in their own process group, so :meth:`LocalTriton.stop` and
:meth:`LocalTriton.kill` leave no stray process. Its Python-backend shared-memory regions get a
per-instance prefix and are removed after the server is gone (a SIGKILL leaves them behind).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
import weakref
from pathlib import Path
from types import TracebackType

from colorizer import contract
from export import logger, twin

#: The repository root (this file is <repo>/export/triton_local.py).
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TRITON_VENV = REPO_ROOT / ".venv-triton"
_SHM_DIR = Path("/dev/shm")


def live_group_members(pgid: int) -> list[int]:
    """Pids of processes in group ``pgid`` that are still running (zombies excluded; reads /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we were listing
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


class TritonError(RuntimeError):
    """The local Triton could not be prepared, started, or became unready."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now (held open together so they differ)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class TritonInstall:
    """Paths of the tritonserver install inside a Triton virtual environment."""

    def __init__(self, venv: Path) -> None:
        self.venv = Path(venv)
        python = self.venv / "bin" / "python"
        if not python.exists():
            raise TritonError(f"no Triton virtual environment at {self.venv}: run `make triton-env`")
        found = sorted(self.venv.glob("lib/python3.*/site-packages/pytriton/tritonserver"))
        if not found:
            raise TritonError(f"nvidia-pytriton is not installed in {self.venv}: run `make triton-env`")
        self.root = found[-1]
        self.site_packages = self.root.parents[1]
        self.python_version = self.site_packages.parent.name.removeprefix("python")  # e.g. "3.11"
        self.binary = self.root / "bin" / "tritonserver"
        self.python_backend = self.root / "backends" / "python"
        self.stub = self.root / "python_backend_stubs" / self.python_version / "triton_python_backend_stub"
        for path in (self.binary, self.python_backend, self.stub):
            if not path.exists():
                raise TritonError(f"incomplete nvidia-pytriton install: {path} is missing")

    def libdir(self) -> str:
        """The libdir of the venv's base interpreter (holds the libpython the stub must load)."""
        out = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c",
             "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"],
            check=True, capture_output=True, text=True, timeout=60,
        )
        return out.stdout.strip()

    def backend_dir(self, workdir: Path) -> Path:
        """A backend directory holding the Python backend with the stub beside it (made once)."""
        backends = workdir / "backends"
        python = backends / "python"
        if not (python / self.stub.name).exists():
            shutil.copytree(self.python_backend, python, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy2(self.stub, python / self.stub.name)
        return backends


class LocalTriton:
    """A tritonserver process serving a CPU twin of ``repository`` on local ports.

    ``None`` ports are chosen free once, here, and kept across restarts. Use as a context
    manager, or call :meth:`start` / :meth:`stop`; :meth:`kill` is for fault-injection tests.
    """

    def __init__(
        self,
        repository: Path,
        *,
        workdir: Path | None = None,
        grpc_port: int | None = None,
        http_port: int | None = None,
        metrics_port: int | None = None,
        triton_venv: Path | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.repository = Path(repository)
        self.install = TritonInstall(Path(triton_venv) if triton_venv else DEFAULT_TRITON_VENV)
        if workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="colorizer-triton-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, self.workdir, True)
        else:
            self.workdir = Path(workdir)
            self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = Path(log_path) if log_path else self.workdir / "tritonserver.log"
        chosen = iter(free_ports(3))
        self.grpc_port = grpc_port or next(chosen)
        self.http_port = http_port or next(chosen)
        self.metrics_port = metrics_port or next(chosen)
        self._shm_prefix = f"colorizer_triton_{uuid.uuid4().hex[:12]}_"
        self._proc: subprocess.Popen[bytes] | None = None
        #: Seconds the last successful :meth:`start` took until the model was READY.
        self.last_startup_s: float | None = None

    @property
    def grpc_url(self) -> str:
        """``host:port`` of the gRPC endpoint (what tritonclient.grpc takes)."""
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        """``host:port`` of the HTTP endpoint (what tritonclient.http takes)."""
        return f"127.0.0.1:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        """Full URL of the Prometheus metrics endpoint."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def running(self) -> bool:
        """Whether the tritonserver process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of tritonserver (also its process group id), or None when stopped."""
        return self._proc.pid if self._proc is not None else None

    def _command(self, model_repository: Path, backends: Path) -> list[str]:
        return [
            str(self.install.binary),
            f"--model-repository={model_repository}",
            f"--backend-directory={backends}",
            f"--backend-config=python,shm-region-prefix-name={self._shm_prefix}",
            "--grpc-address=127.0.0.1", f"--grpc-port={self.grpc_port}",
            "--http-address=127.0.0.1", f"--http-port={self.http_port}",
            "--metrics-address=127.0.0.1", f"--metrics-port={self.metrics_port}",
            "--allow-gpu-metrics=false",
            "--strict-readiness=true",
            "--exit-on-error=true",
            "--disable-auto-complete-config",
            "--log-verbose=0",
        ]

    def _environment(self) -> dict[str, str]:
        # The child inherits the caller's environment (locale, HOME, ...) with the three settings
        # the bundled binary needs; PYTHONPATH/PYTHONHOME would point the stub at the wrong stdlib.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        libs = [self.install.libdir(), str(self.install.site_packages / "nvidia_pytriton.libs")]
        if env.get("LD_LIBRARY_PATH"):
            libs.append(env["LD_LIBRARY_PATH"])
        env["LD_LIBRARY_PATH"] = os.pathsep.join(libs)
        env["PATH"] = os.pathsep.join([str(self.install.venv / "bin"), env.get("PATH", "/usr/bin:/bin")])
        env["VIRTUAL_ENV"] = str(self.install.venv)
        return env

    def start(self, timeout_s: float = 120.0) -> None:
        """Start tritonserver; return once the model is READY, else raise :class:`TritonError`."""
        if self.running:
            return
        self._proc = None
        model_repository = twin.make_cpu_twin(self.repository, self.workdir / "repository")
        backends = self.install.backend_dir(self.workdir)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self._command(model_repository, backends),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self._environment(), cwd=self.workdir, start_new_session=True,
            )
        logger.info("tritonserver pid %d starting (grpc %s, log %s)",
                    self._proc.pid, self.grpc_url, self.log_path)
        try:
            self._wait_ready(started + timeout_s)
        except BaseException:
            self.stop()
            raise
        self.last_startup_s = time.monotonic() - started
        logger.info("tritonserver ready in %.1f s", self.last_startup_s)

    def _wait_ready(self, deadline: float) -> None:
        import tritonclient.grpc as grpcclient
        from tritonclient.utils import InferenceServerException

        client = grpcclient.InferenceServerClient(self.grpc_url)
        try:
            while True:
                assert self._proc is not None
                code = self._proc.poll()
                if code is not None:
                    raise TritonError(f"tritonserver exited with code {code} before the model was ready; "
                                      f"log tail ({self.log_path}):\n{_tail(self.log_path)}")
                try:
                    if client.is_model_ready(contract.MODEL_NAME, client_timeout=2.0):
                        return
                except InferenceServerException:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    raise TritonError(f"model {contract.MODEL_NAME!r} not ready on {self.grpc_url} in time; "
                                      f"log tail ({self.log_path}):\n{_tail(self.log_path)}")
                time.sleep(0.2)
        finally:
            client.close()

    def _signal_group(self, sig: int) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is already gone
            os.killpg(self._proc.pid, sig)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the server (graceful), SIGKILL the group after ``timeout_s``; idempotent."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("tritonserver did not stop in %.0f s; killing it", timeout_s)
        self._reap()

    def kill(self) -> None:
        """SIGKILL the server and its stubs at once (for fault-injection tests)."""
        if self._proc is not None:
            self._reap()

    def _reap(self) -> None:
        # Kill the whole group even after a graceful exit: a stub orphaned by its server must not
        # outlive it. Then collect the server's exit status and remove its shared memory.
        assert self._proc is not None
        pgid = self._proc.pid
        self._signal_group(signal.SIGKILL)
        self._proc.wait()
        self._proc = None
        # SIGKILL is delivered asynchronously: a stub can still be tearing down (state R/D) after
        # the server itself was reaped. Wait for the group to empty so that "stopped" means it.
        deadline = time.monotonic() + 10.0
        while (left := live_group_members(pgid)) and time.monotonic() < deadline:
            time.sleep(0.02)
        if left:
            logger.warning("tritonserver group %d still has live members after SIGKILL: %s", pgid, left)
        for region in _SHM_DIR.glob(f"{self._shm_prefix}*"):
            region.unlink(missing_ok=True)

    def __enter__(self) -> LocalTriton:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
