"""The Helm chart, rendered and linted by the real Helm SDK and validated against Kubernetes' schemas.

Kubernetes version validated against: KUBE_VERSION below, the newest whose schemas
kubernetes-validate ships. Custom resources (the Prometheus Operator's ServiceMonitor) have no
schema there: only the kinds in CRD_KINDS skip schema validation, and the tests check their
structure by hand instead.
"""

from __future__ import annotations

import copy
from typing import Any

import helm_python
import kubernetes_validate
import pytest
from helm_chart import CHART_DIR, NAMESPACE, Manifest, render_chart, render_notes

from service.settings import Settings

KUBE_VERSION = "1.37.0"
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
FULLNAME = "demo-colorizer"
GATEWAY = f"{FULLNAME}-gateway"
TRITON = f"{FULLNAME}-triton"

# Every COLORIZER_* setting the gateway reads (its settings class); the ConfigMap may hold no other.
GATEWAY_ENV = {f"COLORIZER_{name.upper()}" for name in Settings.model_fields}

S3 = {"modelRepository": {"source": "uri", "uri": "s3://models-bucket/model_repository",
                          "credentials": {"existingSecret": "model-store"}}}
GCS = {"modelRepository": {"source": "uri", "uri": "gs://models-bucket/model_repository",
                           "credentials": {"existingSecret": "gcs-key", "gcsKeyFile": "sa.json"}}}
CASES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "embedded": {"mode": "embedded", "modelRepository": {"source": "pvc", "pvc": {"claimName": "models"}},
                 "gateway": {"nodeSelector": {"pool": "cpu"}}},
    "embedded-image": {"mode": "embedded", "modelRepository": {"source": "image"}},
    "object-store-s3": S3,
    "object-store-gcs": GCS,
    "autoscaling": {"gateway": {"autoscaling": {"enabled": True, "queueRatio": {"enabled": True}}}},
    "netpol": {
        "networkPolicy": {"enabled": True, "metricsFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]},
    },
    "secure": {
        "gateway": {"tls": {"existingSecret": "gw-tls", "clientCASecret": "clients-ca"},
                    "auth": {"existingSecret": "gw-tokens", "key": "tokens.txt"}, "reflection": False},
        "triton": {"tls": {"existingSecret": "triton-tls"}},
        "networkPolicy": {"enabled": True, "clientsFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "pipeline"}}}]},
    },
    "everything": {
        "model": {"version": "3"},
        "modelRepository": {"source": "pvc", "pvc": {"claimName": "models", "subPath": "repo"}},
        "gateway": {"ports": {"grpc": 6000, "metrics": 9100}, "graceSeconds": 45,
                    "autoscaling": {"enabled": True, "queueRatio": {"enabled": True}},
                    "config": {"MAX_POINTS": 512, "LOG_FORMAT": "text"}},
        "triton": {"ports": {"http": 9000, "grpc": 9001, "metrics": 9002}, "replicaCount": 2,
                   "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                   "engineCache": {"mountPath": "/cache/trt",
                                   "persistence": {"enabled": True, "accessModes": ["ReadWriteMany"]}}},
        "networkPolicy": {"enabled": True},
    },
}
TRITON_CASES = [name for name, values in CASES.items() if values.get("mode", "triton") == "triton"]


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], list[Manifest]]:
    """(name, values, rendered manifests) for every case of the matrix."""
    values = CASES[request.param]
    return request.param, values, render_chart(copy.deepcopy(values))


def find(manifests: list[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]


def one(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = find(manifests, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_specs(manifests: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    specs = [(f"Pod/{m['metadata']['name']}", m["spec"]) for m in find(manifests, "Pod")]
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        specs += [(f"{kind}/{m['metadata']['name']}", m["spec"]["template"]["spec"])
                  for m in find(manifests, kind)]
    return specs


def container(deployment: Manifest, name: str) -> dict[str, Any]:
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def named_port(ports: list[dict[str, Any]], name: str, key: str) -> int:
    return next(int(p[key]) for p in ports if p["name"] == name)


def config(manifests: list[Manifest]) -> dict[str, str]:
    return one(manifests, "ConfigMap", GATEWAY)["data"]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# ---- Helm itself -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CASES))
def test_lint_strict_has_no_errors_or_warnings(name: str) -> None:
    report = helm_python.lint(CHART_DIR, copy.deepcopy(CASES[name]), strict=True,
                              namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_lint_reports_bad_values() -> None:
    # Guards the test above: lint does look at values and at the schema.
    report = helm_python.lint(CHART_DIR, {"mode": "tensorrt"}, strict=True)
    assert report["errors"], report


# ---- every manifest is valid Kubernetes ------------------------------------------------------------

def test_every_manifest_validates(case: tuple[str, dict[str, Any], list[Manifest]]) -> None:
    _, _, manifests = case
    assert manifests
    for manifest in manifests:
        if (manifest["apiVersion"], manifest["kind"]) in CRD_KINDS:
            continue  # a custom resource: no schema in kubernetes-validate, checked by hand below
        kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)
        assert manifest["metadata"]["namespace"] == NAMESPACE


def test_rendered_kinds(case: tuple[str, dict[str, Any], list[Manifest]]) -> None:
    _, values, manifests = case
    kinds = sorted((m["kind"], m["metadata"]["name"]) for m in manifests)
    triton = values.get("mode", "triton") == "triton"
    assert ("Deployment", GATEWAY) in kinds and ("Service", GATEWAY) in kinds
    assert (("Deployment", TRITON) in kinds) is triton
    assert (("Service", TRITON) in kinds) is triton
    assert ("ConfigMap", GATEWAY) in kinds
    assert ("PodDisruptionBudget", GATEWAY) in kinds
    assert ("Pod", f"{FULLNAME}-test-health") in kinds
    assert not find(manifests, "Secret"), "the chart must never carry secret values"
    autoscaling = values.get("gateway", {}).get("autoscaling", {}).get("enabled", False)
    assert bool(find(manifests, "HorizontalPodAutoscaler")) is autoscaling
    monitor = values.get("metrics", {}).get("serviceMonitor", {}).get("enabled", False)
    assert len(find(manifests, "ServiceMonitor")) == (2 if triton else 1) * monitor
    netpol = values.get("networkPolicy", {}).get("enabled", False)
    assert len(find(manifests, "NetworkPolicy")) == int(netpol) * (2 if triton else 1)


def test_optional_objects_are_off_by_default() -> None:
    manifests = render_chart()
    for kind in ("ServiceMonitor", "NetworkPolicy", "HorizontalPodAutoscaler", "PersistentVolumeClaim"):
        assert not find(manifests, kind), kind


# ---- security --------------------------------------------------------------------------------------

def test_every_container_is_locked_down(case: tuple[str, dict[str, Any], list[Manifest]]) -> None:
    _, _, manifests = case
    specs = pod_specs(manifests)
    assert len(specs) >= 2
    for where, spec in specs:
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True, where
        assert pod_sc["runAsUser"] > 0, where
        assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True, (where, c["name"])
            assert sc["runAsUser"] > 0, (where, c["name"])
            assert sc["readOnlyRootFilesystem"] is True, (where, c["name"])
            assert sc["allowPrivilegeEscalation"] is False, (where, c["name"])
            assert sc.get("privileged", False) is False, (where, c["name"])
            assert sc["capabilities"]["drop"] == ["ALL"], (where, c["name"])
            assert not sc["capabilities"].get("add"), (where, c["name"])
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", (where, c["name"])
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert mounts.get("/tmp") in tmp_volumes, f"{where}/{c['name']}: /tmp must be an emptyDir"
            assert c["resources"].get("limits"), (where, c["name"])


def test_model_repository_mounts_are_read_only(case: tuple[str, dict[str, Any], list[Manifest]]) -> None:
    _, _, manifests = case
    for where, spec in pod_specs(manifests):
        for c in spec["containers"]:
            for m in c.get("volumeMounts", []):
                if m["name"] == "model-repository":
                    assert m["readOnly"] is True, where


# ---- the gateway -----------------------------------------------------------------------------------

def test_gateway_ports_probes_and_config_agree(case: tuple[str, dict[str, Any], list[Manifest]]) -> None:
    _, _, manifests = case
    deploy = one(manifests, "Deployment", GATEWAY)
    gw = container(deploy, "gateway")
    grpc_port = named_port(gw["ports"], "grpc", "containerPort")
    metrics_port = named_port(gw["ports"], "metrics", "containerPort")
    cfg = config(manifests)
    assert int(cfg["COLORIZER_PORT"]) == grpc_port
    assert int(cfg["COLORIZER_METRICS_PORT"]) == metrics_port
    assert cfg["COLORIZER_HOST"] == "0.0.0.0"
    # Native gRPC probes on the gateway's grpc.health.v1 service; with TLS on the gRPC port, on
    # the plaintext health-only port (kubelet's gRPC probe cannot speak TLS).
    tls = "COLORIZER_TLS_CERT_FILE" in cfg
    probe_port = named_port(gw["ports"], "health", "containerPort") if tls else grpc_port
    if tls:
        assert int(cfg["COLORIZER_HEALTH_PORT"]) == probe_port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert gw[probe]["grpc"]["port"] == probe_port, probe
    assert gw["readinessProbe"]["grpc"]["service"] == "colorizer.v1.Colorizer"
    assert gw["livenessProbe"]["grpc"]["service"] in ("", "colorizer.v1.Colorizer")
    assert gw["envFrom"] == [{"configMapRef": {"name": GATEWAY}}]
    service = one(manifests, "Service", GATEWAY)
    assert named_port(service["spec"]["ports"], "grpc", "port") == grpc_port
    expected_ports = {"grpc", "metrics"} | ({"health"} if tls else set())
    assert {p["targetPort"] for p in service["spec"]["ports"]} == expected_ports
    assert matches(service["spec"]["selector"], deploy["spec"]["template"]["metadata"]["labels"])
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert matches(deploy["spec"]["selector"]["matchLabels"], pod_labels)


def test_gateway_config_holds_only_known_settings(case: tuple[str, dict[str, Any], list[Manifest]]) -> None:
    _, values, manifests = case
    cfg = config(manifests)
    assert set(cfg) <= GATEWAY_ENV, set(cfg) - GATEWAY_ENV
    assert all(isinstance(v, str) for v in cfg.values())
    assert cfg["COLORIZER_BACKEND"] == values.get("mode", "triton")
    assert cfg["COLORIZER_MODEL_NAME"] == "colorizer"


def test_termination_grace_exceeds_drain_grace(case: tuple[str, dict[str, Any], list[Manifest]]) -> None:
    _, _, manifests = case
    spec = one(manifests, "Deployment", GATEWAY)["spec"]["template"]["spec"]
    grace = int(config(manifests)["COLORIZER_GRACE_S"])
    pre_stop = container(one(manifests, "Deployment", GATEWAY), "gateway").get("lifecycle", {})
    sleep = pre_stop.get("preStop", {}).get("sleep", {}).get("seconds", 0)
    assert spec["terminationGracePeriodSeconds"] > grace + sleep


@pytest.mark.parametrize(("grace", "pre_stop"), [(0, 0), (10, 5), (120, 0), (300, 30)])
def test_termination_grace_is_derived_from_the_grace_value(grace: int, pre_stop: int) -> None:
    manifests = render_chart({"gateway": {"graceSeconds": grace, "preStopSleepSeconds": pre_stop}})
    gw_deploy = one(manifests, "Deployment", GATEWAY)
    assert config(manifests)["COLORIZER_GRACE_S"] == str(grace)
    assert gw_deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace + pre_stop
    assert ("lifecycle" in container(gw_deploy, "gateway")) is (pre_stop > 0)


def test_config_change_rolls_the_gateway() -> None:
    def checksum(values: dict[str, Any]) -> str:
        deploy = one(render_chart(values), "Deployment", GATEWAY)
        return deploy["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum({}) != checksum({"gateway": {"config": {"MAX_BATCH_SIZE": "16"}}})


def test_gateway_config_passes_settings_through() -> None:
    cfg = config(render_chart({"gateway": {"config": {"MAX_POINTS": 512, "MAX_WAIT_MS": "2",
                                                      "INTRA_OP_THREADS": "3"}}}))
    assert cfg["COLORIZER_MAX_POINTS"] == "512"
    assert cfg["COLORIZER_MAX_WAIT_MS"] == "2"
    assert cfg["COLORIZER_INTRA_OP_THREADS"] == "3"


# ---- the gateway <-> Triton wiring -----------------------------------------------------------------

@pytest.mark.parametrize("name", TRITON_CASES)
def test_gateway_dials_the_triton_service(name: str) -> None:
    manifests = render_chart(copy.deepcopy(CASES[name]))
    service = one(manifests, "Service", TRITON)
    deploy = one(manifests, "Deployment", TRITON)
    triton = container(deploy, "triton")
    host, port = config(manifests)["COLORIZER_TRITON_URL"].rsplit(":", 1)
    # By default through the headless Service (every Triton pod, round robin: see below).
    assert host == f"dns:///{TRITON}-headless.{NAMESPACE}.svc"
    assert int(port) == named_port(service["spec"]["ports"], "grpc", "port")
    assert next(p["targetPort"] for p in service["spec"]["ports"] if p["name"] == "grpc") == "grpc"
    assert matches(service["spec"]["selector"], deploy["spec"]["template"]["metadata"]["labels"])
    # Service ports, container ports and tritonserver's own flags agree.
    args = dict(a.removeprefix("--").split("=", 1) for a in triton["args"])
    for name_ in ("http", "grpc", "metrics"):
        container_port = named_port(triton["ports"], name_, "containerPort")
        assert int(args[f"{name_}-port"]) == container_port
        assert named_port(service["spec"]["ports"], name_, "port") == container_port


@pytest.mark.parametrize("mode", ["triton", "embedded"])
def test_headless_services_reach_every_pod(mode: str) -> None:
    """Next to each ClusterIP Service, a headless one (grpc only) whose DNS name lists every Ready
    pod: clients of the gateway and the gateway itself (for Triton) balance calls over them."""
    manifests = render_chart({"mode": mode})
    pairs = [(GATEWAY, "gateway")] + ([(TRITON, "triton")] if mode == "triton" else [])
    assert (find(manifests, "Service", TRITON + "-headless") != []) is (mode == "triton")
    for name, component in pairs:
        service, headless = one(manifests, "Service", name), one(manifests, "Service", f"{name}-headless")
        assert headless["spec"]["clusterIP"] == "None"
        assert not headless["spec"].get("publishNotReadyAddresses")  # Ready pods only
        assert headless["spec"]["selector"] == service["spec"]["selector"]
        deploy = one(manifests, "Deployment", name)
        assert matches(headless["spec"]["selector"], deploy["spec"]["template"]["metadata"]["labels"])
        # grpc alone: a metrics port would have the ServiceMonitor scrape every pod twice.
        assert [(p["name"], p["port"], p["targetPort"]) for p in headless["spec"]["ports"]] == [
            ("grpc", named_port(service["spec"]["ports"], "grpc", "port"), "grpc")
        ], component
    cfg = config(manifests)
    # Clients reconnect (and re-resolve) every 5 minutes, so that scaled-up replicas get calls.
    assert float(cfg["COLORIZER_MAX_CONNECTION_AGE_S"]) == 300
    assert f"dns:///{GATEWAY}-headless.{NAMESPACE}.svc:50051" in render_notes({"mode": mode})


def test_headless_service_names_stay_dns_labels() -> None:
    manifests = render_chart({"fullnameOverride": "x" * 60})
    names = [m["metadata"]["name"] for m in find(manifests, "Service")]
    assert len(names) == 4 and all(len(n) <= 63 for n in names), names


def test_a_pre_stop_sleep_replaces_the_gateways_refusing_window() -> None:
    """With the preStop sleep the gateway sends GOAWAY on SIGTERM at once (DRAIN_PRE_STOP_S 0):
    clients balancing over pods move off without calls refused (tests/service/test_load_balancing)."""
    assert config(render_chart())["COLORIZER_DRAIN_PRE_STOP_S"] == "0"
    assert "COLORIZER_DRAIN_PRE_STOP_S" not in config(render_chart({"gateway": {"preStopSleepSeconds": 0}}))
    mine = config(render_chart({"gateway": {"config": {"DRAIN_PRE_STOP_S": "2"}}}))
    assert mine["COLORIZER_DRAIN_PRE_STOP_S"] == "2"


def test_headless_services_can_be_turned_off() -> None:
    off = {"service": {"headless": {"enabled": False}}}
    manifests = render_chart({"gateway": off, "triton": copy.deepcopy(off)})
    assert not find(manifests, "Service", f"{GATEWAY}-headless")
    assert not find(manifests, "Service", f"{TRITON}-headless")
    assert config(manifests)["COLORIZER_TRITON_URL"] == f"{TRITON}.{NAMESPACE}.svc:8001"


@pytest.mark.parametrize("name", TRITON_CASES)
def test_triton_probes_gpu_and_engine_cache(name: str) -> None:
    values = CASES[name]
    manifests = render_chart(copy.deepcopy(values))
    deploy = one(manifests, "Deployment", TRITON)
    spec = deploy["spec"]["template"]["spec"]
    triton = container(deploy, "triton")
    http = named_port(triton["ports"], "http", "containerPort")
    version = values.get("model", {}).get("version", "")
    ready = "/v2/models/colorizer" + (f"/versions/{version}" if version else "") + "/ready"
    assert triton["readinessProbe"]["httpGet"] == {"path": ready, "port": "http"}
    assert triton["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    assert triton["startupProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert http > 0
    startup = triton["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 15 * 60, "TensorRT builds take minutes"
    # GPUs: requests equal limits for an extended resource.
    res = triton["resources"]
    assert int(res["limits"]["nvidia.com/gpu"]) >= 1
    assert res["requests"]["nvidia.com/gpu"] == res["limits"]["nvidia.com/gpu"]
    assert any(t["key"] == "nvidia.com/gpu" for t in spec["tolerations"])
    assert spec.get("nodeSelector") == values.get("triton", {}).get("nodeSelector")
    # The TensorRT engine cache volume, at the configured path.
    cache_path = values.get("triton", {}).get("engineCache", {}).get("mountPath", "/engine-cache")
    mounts = {m["mountPath"]: m["name"] for m in triton["volumeMounts"]}
    assert mounts[cache_path] == "engine-cache"
    volume = next(v for v in spec["volumes"] if v["name"] == "engine-cache")
    persistent = values.get("triton", {}).get("engineCache", {}).get("persistence", {}).get("enabled")
    if persistent:
        claim = volume["persistentVolumeClaim"]["claimName"]
        pvc = one(manifests, "PersistentVolumeClaim", claim)
        assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    else:
        assert "emptyDir" in volume
    assert triton["image"].startswith("nvcr.io/nvidia/tritonserver:")
    assert triton["image"].endswith("-py3")


def test_default_triton_copies_the_repository_from_the_gateway_image() -> None:
    manifests = render_chart()
    spec = one(manifests, "Deployment", TRITON)["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    gateway = container(one(manifests, "Deployment", GATEWAY), "gateway")
    assert init["image"] == gateway["image"]
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env["SOURCE"] == "/app/model_repository" and env["MODEL"] == "colorizer"
    assert {"name": "model-repository", "mountPath": env["TARGET"]} in init["volumeMounts"]
    triton = container(one(manifests, "Deployment", TRITON), "triton")
    assert f"--model-repository={env['TARGET']}" in triton["args"]
    mount = next(m for m in triton["volumeMounts"] if m["name"] == "model-repository")
    assert mount["mountPath"] == env["TARGET"] and mount["readOnly"] is True
    volume = next(v for v in spec["volumes"] if v["name"] == "model-repository")
    assert volume == {"name": "model-repository", "emptyDir": {"sizeLimit": "2Gi"}}
    assert not find(manifests, "PersistentVolumeClaim")


def test_triton_model_repository_from_pvc() -> None:
    manifests = render_chart(copy.deepcopy(CASES["everything"]))
    deploy = one(manifests, "Deployment", TRITON)
    triton = container(deploy, "triton")
    mount = next(m for m in triton["volumeMounts"] if m["name"] == "model-repository")
    assert mount["subPath"] == "repo"
    assert f"--model-repository={mount['mountPath']}" in triton["args"]
    volume = next(v for v in deploy["spec"]["template"]["spec"]["volumes"] if v["name"] == "model-repository")
    assert volume["persistentVolumeClaim"] == {"claimName": "models", "readOnly": True}
    # The gateway does not mount the repository in triton mode.
    gw = container(one(manifests, "Deployment", GATEWAY), "gateway")
    assert all(m["name"] != "model-repository" for m in gw["volumeMounts"])


def test_triton_reads_s3_with_credentials_from_a_secret() -> None:
    manifests = render_chart(copy.deepcopy(S3))
    deploy = one(manifests, "Deployment", TRITON)
    triton = container(deploy, "triton")
    assert "--model-repository=s3://models-bucket/model_repository" in triton["args"]
    assert triton["envFrom"] == [{"secretRef": {"name": "model-store"}}]
    assert all(v["name"] != "model-repository" for v in deploy["spec"]["template"]["spec"]["volumes"])


def test_triton_reads_gcs_with_a_mounted_key() -> None:
    manifests = render_chart(copy.deepcopy(GCS))
    deploy = one(manifests, "Deployment", TRITON)
    triton = container(deploy, "triton")
    assert "--model-repository=gs://models-bucket/model_repository" in triton["args"]
    env = {e["name"]: e.get("value") for e in triton["env"]}
    mount = next(m for m in triton["volumeMounts"] if m["name"] == "model-repository-credentials")
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == f"{mount['mountPath']}/sa.json"
    volume = next(v for v in deploy["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "model-repository-credentials")
    assert volume["secret"]["secretName"] == "gcs-key"


def test_object_store_without_secret_relies_on_workload_identity() -> None:
    values = {"modelRepository": {"source": "uri", "uri": "s3://b/r"},
              "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"}}}
    manifests = render_chart(values)
    triton = container(one(manifests, "Deployment", TRITON), "triton")
    assert "envFrom" not in triton
    sa = one(manifests, "ServiceAccount", FULLNAME)
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:")
    assert one(manifests, "Deployment", TRITON)["spec"]["template"]["spec"]["serviceAccountName"] == FULLNAME


# ---- embedded mode ---------------------------------------------------------------------------------

def test_embedded_mode_runs_the_gateway_alone_from_a_pvc() -> None:
    manifests = render_chart(copy.deepcopy(CASES["embedded"]))
    assert all(m["metadata"]["labels"].get("app.kubernetes.io/component") != "triton" for m in manifests)
    cfg = config(manifests)
    assert "COLORIZER_TRITON_URL" not in cfg
    deploy = one(manifests, "Deployment", GATEWAY)
    gw = container(deploy, "gateway")
    mount = next(m for m in gw["volumeMounts"] if m["name"] == "model-repository")
    assert cfg["COLORIZER_MODEL_REPOSITORY"] == mount["mountPath"]
    assert mount["readOnly"] is True
    assert deploy["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "cpu"}
    assert "nvidia.com/gpu" not in gw["resources"].get("limits", {})
    # Embedded resources apply, and ONNX Runtime's threads follow the CPU limit, not the node.
    assert gw["resources"]["limits"]["cpu"] == "2"
    assert cfg["COLORIZER_INTRA_OP_THREADS"] == "2"


@pytest.mark.parametrize(("cpu", "threads"), [("1500m", "2"), ("250m", "1"), ("3", "3"), (6, "6")])
def test_intra_op_threads_follow_the_cpu_limit(cpu: str | int, threads: str) -> None:
    values = {"mode": "embedded", "gateway": {"embeddedResources": {"limits": {"cpu": cpu}}}}
    assert config(render_chart(values))["COLORIZER_INTRA_OP_THREADS"] == threads


def test_embedded_mode_with_the_model_baked_in_the_image() -> None:
    manifests = render_chart(copy.deepcopy(CASES["embedded-image"]))
    assert not find(manifests, "Deployment", TRITON)
    assert config(manifests)["COLORIZER_MODEL_REPOSITORY"] == "/app/model_repository"
    spec = one(manifests, "Deployment", GATEWAY)["spec"]["template"]["spec"]
    assert all("persistentVolumeClaim" not in v for v in spec["volumes"])


# ---- autoscaling, disruption budgets, monitoring, network policy --------------------------------

def test_hpa_targets_the_gateway_on_cpu_and_queue_ratio() -> None:
    manifests = render_chart(copy.deepcopy(CASES["autoscaling"]))
    hpa = one(manifests, "HorizontalPodAutoscaler", GATEWAY)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": GATEWAY}
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    assert metrics["Resource"]["resource"]["target"]["type"] == "Utilization"
    assert metrics["Pods"]["pods"]["metric"]["name"] == "colorizer_queue_per_inference_seconds"
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # The HPA owns the replica count: the Deployment must not fight it on every upgrade.
    assert "replicas" not in one(manifests, "Deployment", GATEWAY)["spec"]


def test_pdbs_select_their_deployments(case: tuple[str, dict[str, Any], list[Manifest]]) -> None:
    _, _, manifests = case
    for pdb in find(manifests, "PodDisruptionBudget"):
        deploy = one(manifests, "Deployment", pdb["metadata"]["name"])
        labels = deploy["spec"]["template"]["metadata"]["labels"]
        assert matches(pdb["spec"]["selector"]["matchLabels"], labels)
        assert pdb["spec"]["maxUnavailable"] >= 1


def test_service_monitor_without_the_crd_fails_with_what_to_do() -> None:
    # Offline, like a cluster without the Prometheus Operator: no monitoring.coreos.com/v1. The
    # ServiceMonitors themselves are checked on a real API server with the CRD (tests_k8s).
    with pytest.raises(helm_python.HelmRenderError, match=r"ServiceMonitor CRD .*--api-versions"):
        render_chart({"metrics": {"serviceMonitor": {"enabled": True}}})


def test_network_policy_lets_only_the_gateway_reach_triton() -> None:
    manifests = render_chart(copy.deepcopy(CASES["netpol"]))
    policy = one(manifests, "NetworkPolicy", TRITON)
    triton_labels = one(manifests, "Deployment", TRITON)["spec"]["template"]["metadata"]["labels"]
    gateway_labels = one(manifests, "Deployment", GATEWAY)["spec"]["template"]["metadata"]["labels"]
    assert matches(policy["spec"]["podSelector"]["matchLabels"], triton_labels)
    assert not matches(policy["spec"]["podSelector"]["matchLabels"], gateway_labels)
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    grpc = {"port": "grpc", "protocol": "TCP"}
    inference_rules = [r for r in policy["spec"]["ingress"] if grpc in r["ports"]]
    assert len(inference_rules) == 1
    (peer,) = inference_rules[0]["from"]
    assert set(peer) == {"podSelector"}, "a namespaceSelector would open Triton to other namespaces"
    assert matches(peer["podSelector"]["matchLabels"], gateway_labels)
    assert not matches(peer["podSelector"]["matchLabels"], triton_labels)
    metrics_rules = [r for r in policy["spec"]["ingress"] if r not in inference_rules]
    assert [r["ports"] for r in metrics_rules] == [[{"port": "metrics", "protocol": "TCP"}]]


def test_secrets_are_mounted_from_existing_secrets_never_carried() -> None:
    manifests = render_chart(copy.deepcopy(CASES["secure"]))
    assert not find(manifests, "Secret")
    cfg = config(manifests)
    spec = one(manifests, "Deployment", GATEWAY)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    gateway = container(one(manifests, "Deployment", GATEWAY), "gateway")
    mounts = {m["name"]: m for m in gateway["volumeMounts"]}
    expected = {  # volume -> (Secret, setting, file it names)
        "tls": ("gw-tls", "COLORIZER_TLS_CERT_FILE", "tls.crt"),
        "client-ca": ("clients-ca", "COLORIZER_TLS_CLIENT_CA_FILE", "ca.crt"),
        "auth-tokens": ("gw-tokens", "COLORIZER_AUTH_TOKENS_FILE", "tokens.txt"),
        "triton-ca": ("triton-tls", "COLORIZER_TRITON_TLS_CA_FILE", "ca.crt"),
    }
    for volume, (secret, setting, filename) in expected.items():
        assert volumes[volume]["secret"]["secretName"] == secret
        assert volumes[volume]["secret"]["defaultMode"] == 0o440
        assert mounts[volume]["readOnly"] is True
        assert "subPath" not in mounts[volume], "a subPath mount never sees a rotated Secret"
        assert cfg[setting] == f"{mounts[volume]['mountPath']}/{filename}"
    assert cfg["COLORIZER_TLS_KEY_FILE"] == "/etc/colorizer/tls/tls.key"
    assert (cfg["COLORIZER_TRITON_TLS"], cfg["COLORIZER_REFLECTION"]) == ("true", "false")
    # Triton serves its gRPC port with the Secret's certificate.
    triton = container(one(manifests, "Deployment", TRITON), "triton")
    assert "--grpc-use-ssl=true" in triton["args"]
    assert "--grpc-server-cert=/etc/triton/tls/tls.crt" in triton["args"]
    tspec = one(manifests, "Deployment", TRITON)["spec"]["template"]["spec"]
    tvolumes = {v["name"]: v for v in tspec["volumes"]}
    assert tvolumes["tls"]["secret"]["secretName"] == "triton-tls"
    # No secret material in any rendered object: only names of Secrets.
    text = str(manifests)
    assert "BEGIN" not in text and "PRIVATE KEY" not in text


def test_plain_install_sets_no_security_settings() -> None:
    cfg = config(render_chart({}))
    assert not {k for k in cfg if "TLS" in k or "AUTH" in k or "HEALTH_PORT" in k}
    assert cfg["COLORIZER_REFLECTION"] == "true"


def test_gateway_network_policy_admits_clients_metrics_and_health() -> None:
    manifests = render_chart(copy.deepcopy(CASES["secure"]))
    policy = one(manifests, "NetworkPolicy", GATEWAY)
    gateway_labels = one(manifests, "Deployment", GATEWAY)["spec"]["template"]["metadata"]["labels"]
    assert matches(policy["spec"]["podSelector"]["matchLabels"], gateway_labels)
    rules = {tuple(p["port"] for p in r["ports"]): r.get("from") for r in policy["spec"]["ingress"]}
    assert rules[("grpc",)] == CASES["secure"]["networkPolicy"]["clientsFrom"]
    assert rules[("health",)] is None  # probes and `helm test`; the health service only
    assert set(rules) == {("grpc",), ("health",)}  # no metricsFrom given: no one scrapes


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"gateway": {"tls": {"clientCASecret": "ca"}}}, "clientCASecret"),
        ({"gateway": {"tls": {"existingSecret": "t"}, "ports": {"health": 50051}}}, "ports.health"),
    ],
)
def test_inconsistent_security_values_fail_the_render(values: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        render_chart(values)


# ---- helm test and NOTES ---------------------------------------------------------------------------

def test_helm_test_pod_checks_the_gateway_health(case: tuple[str, dict[str, Any], list[Manifest]]) -> None:
    _, _, manifests = case
    pod = one(manifests, "Pod", f"{FULLNAME}-test-health")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    (c,) = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in c["env"]}
    service = one(manifests, "Service", GATEWAY)
    grpc_port = named_port(service["spec"]["ports"], "grpc", "port")
    ports = service["spec"]["ports"]
    probe_port = named_port(ports, "health", "port") if len(ports) > 2 else grpc_port
    assert env["TARGET"] == f"{GATEWAY}.{NAMESPACE}.svc:{probe_port}"
    assert env["SERVICE"] == "colorizer.v1.Colorizer"
    script = c["command"][-1]
    assert "health_pb2_grpc.HealthStub" in script and "SERVING" in script
    compile(script, "helm-test", "exec")  # the one-liner is valid Python
    assert c["image"] == container(one(manifests, "Deployment", GATEWAY), "gateway")["image"]


def test_notes_render_the_gateway_address() -> None:
    notes = render_notes()
    assert f"{GATEWAY}.{NAMESPACE}.svc:50051" in notes
    assert "helm test demo" in notes
    assert "Embedded mode" in render_notes({"mode": "embedded"})


# ---- values.schema.json ----------------------------------------------------------------------------

BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "negative gateway replicas": ({"gateway": {"replicaCount": -1}}, "/gateway/replicaCount"),
    "negative triton replicas": ({"triton": {"replicaCount": -2}}, "/triton/replicaCount"),
    "unknown mode": ({"mode": "tensorrt"}, "/mode"),
    "backend set by hand": ({"gateway": {"config": {"BACKEND": "onnx"}}}, "BACKEND"),
    "triton url set by hand": ({"gateway": {"config": {"TRITON_URL": "x:1"}}}, "TRITON_URL"),
    "lower-case setting": ({"gateway": {"config": {"max_queue": 3}}}, "max_queue"),
    "unknown log format": ({"gateway": {"config": {"LOG_FORMAT": "xml"}}}, "LOG_FORMAT"),
    "no repository source": ({"modelRepository": {"source": None}}, "source"),
    "unknown repository source": ({"modelRepository": {"source": "nfs"}}, "/modelRepository/source"),
    "pvc without a claim": ({"modelRepository": {"source": "pvc"}}, "claimName"),
    "uri source without a uri": ({"modelRepository": {"source": "uri"}}, "/modelRepository/uri"),
    "uri Triton cannot read": ({"modelRepository": {"source": "uri", "uri": "https://x/y"}}, "uri"),
    "object store in embedded mode": (
        {"mode": "embedded", "modelRepository": {"source": "uri", "uri": "s3://b/r"}}, "source"),
    "secret value in values": (
        {"modelRepository": {"credentials": {"awsSecretAccessKey": "hunter2"}}}, "awsSecretAccessKey"),
    "port zero": ({"gateway": {"ports": {"grpc": 0}}}, "/gateway/ports/grpc"),
    "port too high": ({"triton": {"ports": {"grpc": 70000}}}, "/triton/ports/grpc"),
    "port as text": ({"gateway": {"ports": {"metrics": "http"}}}, "/gateway/ports/metrics"),
    "negative grace": ({"gateway": {"graceSeconds": -5}}, "/gateway/graceSeconds"),
    "typo in a key": ({"gateway": {"replicas": 3}}, "replicas"),
    "zero max replicas": ({"gateway": {"autoscaling": {"maxReplicas": 0}}}, "maxReplicas"),
    "bad digest": ({"gateway": {"image": {"digest": "latest"}}}, "digest"),
}


@pytest.mark.parametrize("label", sorted(BAD_VALUES))
def test_schema_rejects_bad_values(label: str) -> None:
    values, where = BAD_VALUES[label]
    chart = helm_python.Chart.load(CHART_DIR)
    with pytest.raises(helm_python.HelmValuesError, match=where):
        chart.validate_schema(copy.deepcopy(values))  # coalesces with the defaults itself
    with pytest.raises(helm_python.HelmError):
        render_chart(copy.deepcopy(values))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"gateway": {"ports": {"grpc": 9090}}}, "must differ"),
        ({"triton": {"ports": {"metrics": 8001}}}, "must all differ"),
        ({"gateway": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}}, "minReplicas"),
    ],
)
def test_template_rejects_inconsistent_values(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmRenderError, match=message):
        render_chart(values)


def test_schema_accepts_the_defaults_and_every_case() -> None:
    chart = helm_python.Chart.load(CHART_DIR)
    for values in CASES.values():
        chart.validate_schema(copy.deepcopy(values))  # coalesces with the defaults itself
