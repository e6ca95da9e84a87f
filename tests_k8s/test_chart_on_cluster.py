"""helm install / upgrade / rollback / uninstall of helm/colorizer on a real kube-apiserver.

Real: etcd, kube-apiserver, controller-manager (Deployments, ReplicaSets, PV binding, HPA,
disruption budgets, EndpointSlices, garbage collection), scheduler, Pod Security admission
(`restricted`, enforced on every namespace here), Helm v4. Simulated: the kubelets (see
scripts/k8s_cluster.py): no container runs, so images, probes' answers and GPUs are not tested.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import k8s_cluster
import pytest
import yaml
from k8s_cluster import ApiError, ControlPlane

ROOT = Path(__file__).resolve().parents[1]
CHART = str(ROOT / "helm" / "colorizer")
RELEASE = "demo"
GATEWAY = f"{RELEASE}-colorizer-gateway"
TRITON = f"{RELEASE}-colorizer-triton"
SERVICE_MONITOR_API = "monitoring.coreos.com/v1/ServiceMonitor"
WAIT = "90s"

Obj = dict[str, Any]

# Where each kind the chart renders lives in the API.
PLURALS = {
    ("v1", "ConfigMap"): "configmaps", ("v1", "Service"): "services", ("v1", "Pod"): "pods",
    ("v1", "ServiceAccount"): "serviceaccounts", ("v1", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("v1", "Secret"): "secrets", ("apps/v1", "Deployment"): "deployments",
    ("apps/v1", "ReplicaSet"): "replicasets",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networkpolicies",
    ("discovery.k8s.io/v1", "EndpointSlice"): "endpointslices",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitors",
}


def collection(api_version: str, kind: str, namespace: str) -> str:
    group = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{group}/namespaces/{namespace}/{PLURALS[(api_version, kind)]}"


def wait_for(check: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.3)


def is_subset(rendered: Any, live: Any, where: str = "") -> list[str]:
    """Where ``rendered`` is not found in ``live`` (the server may add defaults, never drop or change)."""
    if isinstance(rendered, dict):
        if not isinstance(live, dict):
            return [f"{where}: {live!r} is not a mapping"]
        return [d for k, v in rendered.items()
                for d in (is_subset(v, live[k], f"{where}.{k}") if k in live else [f"{where}.{k}: dropped"])]
    if isinstance(rendered, list):
        if not isinstance(live, list) or len(live) != len(rendered):
            return [f"{where}: {rendered!r} became {live!r}"]
        pairs = enumerate(zip(rendered, live, strict=True))
        return [d for i, (a, b) in pairs for d in is_subset(a, b, f"{where}[{i}]")]
    # Quantities and int-or-strings come back as the server spells them (1 -> "1").
    return [] if str(rendered) == str(live) else [f"{where}: {rendered!r} became {live!r}"]


def documents(text: str) -> list[Obj]:
    return [d for d in yaml.safe_load_all(text) if d]


# ---- a release in its own namespace ----------------------------------------------------------------

class Release:
    """A release installed by the real Helm CLI in its own Pod Security `restricted` namespace."""

    def __init__(self, plane: ControlPlane, namespace: str, values: Obj, tmp: Path) -> None:
        self.plane = plane
        self.api = plane.api
        self.namespace = namespace
        self.values_file = tmp / f"{namespace}.values.json"
        self.values_file.write_text(json.dumps(values))
        self.api_versions = (["--api-versions", SERVICE_MONITOR_API]
                             if values.get("metrics", {}).get("serviceMonitor", {}).get("enabled") else [])

    def helm(self, *args: str, check: bool = True) -> Any:
        return self.plane.helm(*args, "-n", self.namespace, check=check)

    def install(self, *extra: str, check: bool = True) -> Any:
        return self.helm("install", RELEASE, CHART, "-f", str(self.values_file), "--wait", "--timeout", WAIT,
                         *extra, check=check)

    def status(self) -> Obj:
        return json.loads(self.helm("status", RELEASE, "-o", "json").stdout)

    def manifest(self) -> list[Obj]:
        """What Helm applied for the current revision."""
        return documents(self.helm("get", "manifest", RELEASE).stdout)

    def template(self) -> list[Obj]:
        """`helm template` of the same values, hooks (the helm-test Pod) included."""
        out = self.plane.helm("template", RELEASE, CHART, "-n", self.namespace, "-f", str(self.values_file),
                              "--kube-version", k8s_cluster.KUBE_VERSION, *self.api_versions).stdout
        return documents(out)

    def live(self, obj: Obj) -> Obj:
        base = collection(obj["apiVersion"], obj["kind"], self.namespace)
        return self.api.get(f"{base}/{obj['metadata']['name']}")

    def list(self, api_version: str, kind: str, **params: str) -> list[Obj]:
        return self.api.items(collection(api_version, kind, self.namespace), **params)

    def pods(self, component: str) -> list[Obj]:
        selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component={component}"
        pods = self.list("v1", "Pod", labelSelector=selector)
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def deployment(self, name: str) -> Obj:
        return self.api.get(f"{collection('apps/v1', 'Deployment', self.namespace)}/{name}")

    def leftovers(self) -> list[str]:
        """Objects of the release still in the namespace (Helm's own release Secrets included)."""
        found = []
        selectors = {("v1", "Secret"): "owner=helm"}
        for (api_version, kind) in PLURALS:
            selector = selectors.get((api_version, kind), f"app.kubernetes.io/instance={RELEASE}")
            try:
                objects = self.list(api_version, kind, labelSelector=selector)
            except ApiError as exc:
                if exc.status != 404:  # a custom resource whose CRD is not installed: none
                    raise
                objects = []
            found += [f"{kind}/{o['metadata']['name']}" for o in objects]
        return found


def create_namespace(api: k8s_cluster.Api, name: str) -> None:
    labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}
    api.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": name, "labels": labels}})


@contextmanager
def release(plane: ControlPlane, namespace: str, values: Obj, tmp: Path,
            setup: Callable[[Release], None] | None = None, kept: frozenset[str] = frozenset()
            ) -> Iterator[Release]:
    """Checks the manifests on the server (strict dry run), installs with --wait, yields, uninstalls.

    After the uninstall nothing of the release may be left in the namespace but ``kept`` (what
    the chart documents it keeps).
    """
    create_namespace(plane.api, namespace)
    rel = Release(plane, namespace, values, tmp)
    if setup is not None:
        setup(rel)
    assert_accepted_as_written(rel)
    rel.install()
    try:
        yield rel
    finally:
        rel.helm("uninstall", RELEASE, "--wait", "--timeout", WAIT)
        wait_for(lambda: set(rel.leftovers()) == kept,
                 f"nothing but {sorted(kept)} left of {namespace}/{RELEASE}", timeout_s=45)
        plane.api.delete(f"/api/v1/namespaces/{namespace}")


def assert_accepted_as_written(rel: Release) -> None:
    """Every rendered object passes a server-side dry run with strict field validation, no warning.

    Strict validation rejects unknown or duplicated fields; Pod Security `restricted` answers with
    a warning (workloads) or an error (Pods) when a pod spec breaks it.
    """
    api = rel.api
    for obj in rel.template():
        api.post(collection(obj["apiVersion"], obj["kind"], rel.namespace), obj,
                 dryRun="All", fieldValidation="Strict")
        assert api.warnings == [], (obj["kind"], obj["metadata"]["name"], api.warnings)


def assert_ready_on_the_right_nodes(rel: Release) -> None:
    """deployed; every Deployment Available with all replicas; Triton on the GPU node only."""
    status = rel.status()
    assert status["info"]["status"] == "deployed", status["info"]
    deployments = [o for o in rel.manifest() if o["kind"] == "Deployment"]
    assert deployments
    for obj in deployments:
        live = rel.deployment(obj["metadata"]["name"])
        conditions = {c["type"]: c["status"] for c in live["status"].get("conditions", [])}
        assert conditions.get("Available") == "True", (obj["metadata"]["name"], live["status"])
        assert live["status"].get("availableReplicas") == live["spec"]["replicas"]
    for pod in rel.pods("triton"):
        assert pod["spec"]["nodeName"] == "gpu-node", pod["metadata"]["name"]
    for pod in rel.pods("gateway"):
        assert pod["spec"]["nodeName"] == "cpu-node", pod["metadata"]["name"]
    sim = rel.plane.simulator
    assert sim is not None
    assert not [w for w in sim.waiting if w.startswith(rel.namespace + "/")], sim.waiting


def assert_stored_as_rendered(rel: Release) -> None:
    """Every object Helm applied is on the server as rendered: nothing dropped or changed."""
    for obj in rel.manifest():
        differences = is_subset({k: v for k, v in obj.items() if k != "status"}, rel.live(obj), obj["kind"])
        assert differences == [], (obj["metadata"]["name"], differences[:5])


# ---- the values sets DEPLOY.md documents ------------------------------------------------------------

TLS_SECRET = {"tls.crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
              "tls.key": "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCg=="}


def secrets_for_tls_and_tokens(rel: Release) -> None:
    # Placeholders: no container reads them here; the simulated kubelet checks they exist with the keys.
    for name, kind, data in (("gw-tls", "kubernetes.io/tls", TLS_SECRET),
                             ("clients-ca", "Opaque", {"ca.crt": TLS_SECRET["tls.crt"]}),
                             ("gw-tokens", "Opaque", {"tokens": "dG9rZW4K"}),
                             ("triton-tls", "kubernetes.io/tls",
                              {**TLS_SECRET, "ca.crt": TLS_SECRET["tls.crt"]})):
        rel.api.post(f"/api/v1/namespaces/{rel.namespace}/secrets", {
            "apiVersion": "v1", "kind": "Secret", "type": kind, "metadata": {"name": name}, "data": data})


def claim_with_the_repository(rel: Release) -> None:
    """A PersistentVolume and a claim on it, bound by the controller-manager's PV controller."""
    pv = f"models-{rel.namespace}"
    rel.api.post("/api/v1/persistentvolumes", {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadOnlyMany"], "storageClassName": "",
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": "/srv/model_repository"}}})
    rel.api.post(f"/api/v1/namespaces/{rel.namespace}/persistentvolumeclaims", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "models"},
        "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "", "volumeName": pv,
                 "resources": {"requests": {"storage": "1Gi"}}}})
    wait_for(lambda: rel.api.get(f"/api/v1/namespaces/{rel.namespace}/persistentvolumeclaims/models")
             .get("status", {}).get("phase") == "Bound", "the claim to bind")


def volume_for_the_engine_cache(rel: Release) -> None:
    """A PersistentVolume reserved for the claim the chart creates (no provisioner runs here)."""
    claim = f"{TRITON}-engine-cache"
    rel.api.post("/api/v1/persistentvolumes", {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"cache-{rel.namespace}"},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": "/srv/engine-cache"},
                 "claimRef": {"namespace": rel.namespace, "name": claim}}})


VALUE_SETS: dict[str, tuple[Obj, Callable[[Release], None] | None]] = {
    "embedded": ({"mode": "embedded"}, None),
    "triton-existing-claim": ({"modelRepository": {"source": "pvc", "pvc": {"claimName": "models"}}},
                              claim_with_the_repository),
    "embedded-existing-claim": ({"mode": "embedded",
                                 "modelRepository": {"source": "pvc", "pvc": {"claimName": "models"}}},
                                claim_with_the_repository),
    "tls-tokens": ({"gateway": {"tls": {"existingSecret": "gw-tls", "clientCASecret": "clients-ca"},
                                "auth": {"existingSecret": "gw-tokens"}, "reflection": False},
                    "triton": {"tls": {"existingSecret": "triton-tls"}}}, secrets_for_tls_and_tokens),
    "networkpolicy": ({"networkPolicy": {"enabled": True, "clientsFrom": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "pipeline"}}}], "metricsFrom": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}}, None),
}


def test_default_install_is_ready_and_its_budgets_hold(plane: ControlPlane, tmp_path: Path) -> None:
    """Defaults: triton mode, the model copied from the gateway image, PDBs on."""
    with release(plane, "defaults", {}, tmp_path) as rel:
        assert_ready_on_the_right_nodes(rel)
        assert_stored_as_rendered(rel)
        notes = rel.status()["info"]["notes"]
        assert "BAKE_MODEL_REPOSITORY=1" in notes and "kubectl -n defaults port-forward" in notes
        (triton,) = rel.pods("triton")
        assert [c["name"] for c in triton["spec"]["initContainers"]] == ["model-repository"]
        # The gateway's Service selects the two Ready gateway pods (EndpointSlice controller), and
        # so does its headless twin, whose DNS name clients balance calls over.
        def ready_endpoints(service: str) -> int:
            slices = rel.list("discovery.k8s.io/v1", "EndpointSlice",
                              labelSelector=f"kubernetes.io/service-name={service}")
            return sum(bool(e["conditions"].get("ready")) for s in slices for e in s.get("endpoints") or [])
        wait_for(lambda: ready_endpoints(GATEWAY) == 2, "2 ready gateway endpoints")
        wait_for(lambda: ready_endpoints(f"{GATEWAY}-headless") == 2, "2 ready headless gateway endpoints")
        wait_for(lambda: ready_endpoints(f"{TRITON}-headless") == 1, "a Triton endpoint, headless")
        headless = rel.api.get(f"/api/v1/namespaces/{rel.namespace}/services/{GATEWAY}-headless")
        assert headless["spec"]["clusterIP"] == "None"
        # The disruption controller counts the gateway pods; the apiserver enforces the budget.
        pdb_path = f"{collection('policy/v1', 'PodDisruptionBudget', rel.namespace)}/{GATEWAY}"
        wait_for(lambda: rel.api.get(pdb_path).get("status", {}).get("disruptionsAllowed") == 1,
                 "the gateway PDB")
        assert rel.api.get(pdb_path)["status"]["currentHealthy"] == 2
        first, second = rel.pods("gateway")
        evict = lambda pod: rel.api.post(  # noqa: E731
            f"/api/v1/namespaces/{rel.namespace}/pods/{pod['metadata']['name']}/eviction",
            {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod["metadata"]["name"]}})
        evict(first)
        with pytest.raises(ApiError) as refused:
            evict(second)
        assert refused.value.status == 429 and "disruption budget" in str(refused.value)
        wait_for(lambda: len([p for p in rel.pods("gateway") if p["status"].get("phase") == "Running"]) == 2,
                 "the evicted gateway replaced")


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_values_set_installs_and_is_ready(plane: ControlPlane, tmp_path: Path, name: str) -> None:
    values, setup = VALUE_SETS[name]
    with release(plane, name, values, tmp_path, setup) as rel:
        assert_ready_on_the_right_nodes(rel)
        assert_stored_as_rendered(rel)
        embedded = values.get("mode") == "embedded"
        assert bool(rel.pods("triton")) is not embedded
        assert len(rel.pods("gateway")) == 2  # both replicas fit on the one 2-core node
        kinds = {o["kind"] for o in rel.manifest()}
        assert ("NetworkPolicy" in kinds) is (name == "networkpolicy")


def test_autoscaling_hpa_is_accepted_and_says_it_needs_metrics_server(plane: ControlPlane,
                                                                      tmp_path: Path) -> None:
    autoscaling = {"enabled": True, "minReplicas": 2, "queueRatio": {"enabled": True}}
    values = {"gateway": {"autoscaling": autoscaling}}
    with release(plane, "autoscaling", values, tmp_path) as rel:
        assert_ready_on_the_right_nodes(rel)
        assert_stored_as_rendered(rel)
        assert "replicas" not in next(o for o in rel.manifest() if o["kind"] == "Deployment" and
                                      o["metadata"]["name"] == GATEWAY)["spec"]
        # The HPA controller owns the replica count: it lifts the Deployment to minReplicas ...
        wait_for(lambda: rel.deployment(GATEWAY)["spec"]["replicas"] == 2, "the HPA to apply minReplicas")
        # ... but cannot read CPU without metrics-server (the resource metrics API), as documented.
        hpa_path = f"{collection('autoscaling/v2', 'HorizontalPodAutoscaler', rel.namespace)}/{GATEWAY}"

        def metrics_condition() -> Obj | None:
            conditions = rel.api.get(hpa_path).get("status", {}).get("conditions", [])
            inactive = (c for c in conditions if c["type"] == "ScalingActive" and c["status"] == "False")
            return next(inactive, None)
        condition = wait_for(metrics_condition, "the HPA's ScalingActive condition", timeout_s=30)
        assert condition["reason"] == "FailedGetResourceMetric", condition
        assert "pods.metrics.k8s.io" in condition["message"], condition


def test_the_engine_cache_claim_binds_and_is_kept_on_uninstall(plane: ControlPlane, tmp_path: Path) -> None:
    values = {"triton": {"engineCache": {"persistence": {"enabled": True}}}}
    claim = f"{TRITON}-engine-cache"
    kept = frozenset({f"PersistentVolumeClaim/{claim}"})  # helm.sh/resource-policy: keep (documented)
    with release(plane, "engine-cache", values, tmp_path, volume_for_the_engine_cache, kept) as rel:
        assert_ready_on_the_right_nodes(rel)
        assert_stored_as_rendered(rel)
        pvc = rel.api.get(f"/api/v1/namespaces/{rel.namespace}/persistentvolumeclaims/{claim}")
        assert pvc["status"]["phase"] == "Bound"
        (triton,) = rel.pods("triton")
        volumes = {v["name"]: v for v in triton["spec"]["volumes"]}
        assert volumes["engine-cache"]["persistentVolumeClaim"]["claimName"] == claim


@pytest.mark.parametrize("mode", ["triton", "embedded"])
def test_config_change_rolls_the_gateway_and_rollback_restores_it(plane: ControlPlane, tmp_path: Path,
                                                                  mode: str) -> None:
    def checksum(rel: Release) -> str:
        return str(rel.deployment(GATEWAY)["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    def rolled_to(rel: Release, value: str) -> bool:
        pods = rel.pods("gateway")
        return (len(pods) == 2 and all(p["metadata"]["annotations"]["checksum/config"] == value
                                       and p["status"].get("phase") == "Running" for p in pods))

    with release(plane, f"upgrade-{mode}", {"mode": mode}, tmp_path) as rel:
        before = checksum(rel)
        cm_path = f"/api/v1/namespaces/{rel.namespace}/configmaps/{GATEWAY}"
        # maxUnavailable 0: the surge pod must fit next to the two replicas on the 2-core node.
        rel.helm("upgrade", RELEASE, CHART, "--reuse-values", "--set", "gateway.config.MAX_BATCH_SIZE=16",
                 "--wait", "--timeout", WAIT)
        after = checksum(rel)
        assert after != before
        assert rel.api.get(cm_path)["data"]["COLORIZER_MAX_BATCH_SIZE"] == "16"
        wait_for(lambda: rolled_to(rel, after), "the gateway pods to roll")
        assert_ready_on_the_right_nodes(rel)
        rel.helm("rollback", RELEASE, "1", "--wait", "--timeout", WAIT)
        assert checksum(rel) == before
        assert rel.api.get(cm_path)["data"]["COLORIZER_MAX_BATCH_SIZE"] == "8"
        wait_for(lambda: rolled_to(rel, before), "the gateway pods to roll back")
        assert rel.status()["version"] == 3


def test_the_old_embedded_requests_never_scheduled_on_a_two_core_node(plane: ControlPlane,
                                                                      tmp_path: Path) -> None:
    # Guards the test above: the 2-core node really is too small for what embedded mode used to ask.
    namespace = "embedded-4cpu"
    create_namespace(plane.api, namespace)
    rel = Release(plane, namespace, {"mode": "embedded", "gateway": {"embeddedResources": {
        "requests": {"cpu": "4", "memory": "2Gi"}, "limits": {"cpu": "4", "memory": "4Gi"}}}}, tmp_path)
    rel.helm("install", RELEASE, CHART, "-f", str(rel.values_file))
    try:
        def unschedulable() -> bool:
            pods = rel.pods("gateway")
            return len(pods) == 2 and all(
                any(c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"
                    and "Insufficient cpu" in c.get("message", "") for c in p["status"].get("conditions", []))
                for p in pods)
        wait_for(unschedulable, "the scheduler to refuse 4-CPU gateway pods", timeout_s=30)
    finally:
        rel.helm("uninstall", RELEASE, "--wait", "--timeout", WAIT)
        plane.api.delete(f"/api/v1/namespaces/{namespace}")


def test_pods_wait_for_the_secrets_they_name(plane: ControlPlane, tmp_path: Path) -> None:
    # Guards the tls-tokens set: its pods start only once the Secrets exist (the simulated kubelet
    # waits for them like a real one), so "Available" there means the names and keys agree.
    namespace = "secrets-later"
    create_namespace(plane.api, namespace)
    values, setup = VALUE_SETS["tls-tokens"]
    rel = Release(plane, namespace, values, tmp_path)
    rel.helm("install", RELEASE, CHART, "-f", str(rel.values_file))
    sim = plane.simulator
    assert sim is not None
    try:
        def waiting() -> dict[str, str]:
            return {k: v for k, v in sim.waiting.items() if k.startswith(namespace + "/")}
        wait_for(lambda: len(waiting()) == 3, "the three pods to wait for their Secrets", timeout_s=30)
        assert all("not found" in why and "secrets" in why for why in waiting().values()), waiting()
        assert all(p["status"].get("phase") == "Pending" for p in rel.pods("gateway") + rel.pods("triton"))
        assert setup is not None
        setup(rel)
        wait_for(lambda: not waiting() and all(p["status"].get("phase") == "Running"
                                               for p in rel.pods("gateway") + rel.pods("triton")),
                 "the pods to start once the Secrets exist", timeout_s=30)
    finally:
        rel.helm("uninstall", RELEASE, "--wait", "--timeout", WAIT)
        plane.api.delete(f"/api/v1/namespaces/{namespace}")


def test_a_missing_claim_fails_the_install_saying_what_to_set(plane: ControlPlane, tmp_path: Path) -> None:
    namespace = "missing-claim"
    create_namespace(plane.api, namespace)
    values = {"modelRepository": {"source": "pvc", "pvc": {"claimName": "nowhere"}}}
    rel = Release(plane, namespace, values, tmp_path)
    done = rel.install(check=False)
    assert done.returncode != 0
    assert 'PersistentVolumeClaim "nowhere" does not exist' in done.stderr
    assert "modelRepository.source=image" in done.stderr
    assert rel.leftovers() == []
    plane.api.delete(f"/api/v1/namespaces/{namespace}")


# A trimmed copy of the Prometheus Operator's CRD: the fields the chart writes, typed, so that strict
# field validation rejects anything else under spec.
_ENDPOINT = {"type": "object", "properties": {
    "port": {"type": "string"}, "path": {"type": "string"},
    "interval": {"type": "string", "pattern": "^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"},
    "scrapeTimeout": {"type": "string"}}}
_SPEC: Obj = {"type": "object", "required": ["selector", "endpoints"], "properties": {
    "selector": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    "namespaceSelector": {"type": "object", "properties": {
        "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
    "endpoints": {"type": "array", "items": _ENDPOINT}}}
_SCHEMA = {"type": "object", "properties": {"spec": _SPEC}}
SERVICE_MONITOR_CRD: Obj = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
             "names": {"kind": "ServiceMonitor", "listKind": "ServiceMonitorList",
                       "plural": "servicemonitors", "singular": "servicemonitor"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": _SCHEMA}}]},
}


def test_service_monitor_needs_the_crd_and_then_scrapes_the_metrics_ports(plane: ControlPlane,
                                                                          tmp_path: Path) -> None:
    values = {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}}
    namespace = "no-operator"
    create_namespace(plane.api, namespace)
    rel = Release(plane, namespace, values, tmp_path)
    done = rel.install(check=False)
    assert done.returncode != 0
    assert "ServiceMonitor CRD (monitoring.coreos.com/v1)" in done.stderr, done.stderr
    assert rel.leftovers() == []
    plane.api.delete(f"/api/v1/namespaces/{namespace}")

    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    plane.api.post(crd_path, SERVICE_MONITOR_CRD)
    try:
        wait_for(lambda: any(c["type"] == "Established" and c["status"] == "True" for c in plane.api.get(
            f"{crd_path}/servicemonitors.monitoring.coreos.com").get("status", {}).get("conditions") or []),
            "the CRD to be established")
        with release(plane, "with-operator", values, tmp_path) as rel:
            assert_ready_on_the_right_nodes(rel)
            assert_stored_as_rendered(rel)
            monitors = rel.list("monitoring.coreos.com/v1", "ServiceMonitor")
            assert {m["metadata"]["name"] for m in monitors} == {GATEWAY, TRITON}
            for monitor in monitors:
                assert monitor["metadata"]["labels"]["release"] == "prom"
                name = monitor["metadata"]["name"]
                service = rel.api.get(f"/api/v1/namespaces/{rel.namespace}/services/{name}")
                selector = monitor["spec"]["selector"]["matchLabels"]
                assert all(service["metadata"]["labels"].get(k) == v for k, v in selector.items())
                assert monitor["spec"]["namespaceSelector"] == {"matchNames": [rel.namespace]}
                (endpoint,) = monitor["spec"]["endpoints"]
                assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
                assert endpoint["path"] == "/metrics"
    finally:
        plane.api.delete(f"{crd_path}/servicemonitors.monitoring.coreos.com")
