"""Static checks of the container images' Dockerfiles (no container engine runs here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from helm_chart import CHART_DIR, ROOT

DOCKER = ROOT / "docker"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path.name}: dangling line continuation"
    result = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def user_of(stage: list[tuple[str, str]]) -> str:
    users = [args for k, args in stage if k == "USER"]
    assert users, "the image must switch to a non-root USER"
    return users[-1]


def pip_commands(steps: list[tuple[str, str]]) -> list[str]:
    """Every `pip install ...` command of the RUN steps (split on && and ;)."""
    commands = [c.strip() for k, args in steps if k == "RUN" for c in re.split(r"&&|;", args)]
    return [c for c in commands if "pip install" in c]


def chart_defaults() -> dict:
    return yaml.safe_load((CHART_DIR / "values.yaml").read_text())


@pytest.mark.parametrize("name", ["Dockerfile.gateway", "Dockerfile.export"])
def test_image_runs_as_a_numeric_non_root_user(name: str) -> None:
    user = user_of(final_stage(instructions(DOCKER / name)))
    # Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    match = re.fullmatch(r"(\d+)(?::(\d+))?", user)
    assert match, f"{name}: USER {user!r} is not numeric"
    assert int(match.group(1)) != 0 and int(match.group(2) or 1) != 0


def test_gateway_user_matches_the_chart() -> None:
    uid, gid = (int(x) for x in user_of(final_stage(instructions(DOCKER / "Dockerfile.gateway"))).split(":"))
    gateway = chart_defaults()["gateway"]
    assert (uid, gid) == (gateway["runAsUser"], gateway["runAsGroup"])


def test_gateway_image_is_multi_stage_slim_and_serve_only() -> None:
    steps = instructions(DOCKER / "Dockerfile.gateway")
    text = (DOCKER / "Dockerfile.gateway").read_text()
    froms = [args for k, args in steps if k == "FROM"]
    assert len(froms) >= 2, "multi-stage build"
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", text)
    assert base and re.fullmatch(r"python:3\.1[1-3]-slim(-\w+)?", base.group(1)), "slim Python base"
    pip_installs = pip_commands(steps)
    assert pip_installs
    extras = set(re.findall(r"\.\[([a-z,]+)\]", " ".join(pip_installs)))
    assert extras == {"serve"}, f"the gateway installs the serve extra only, not {extras}"
    for command in pip_installs:
        assert "torch" not in command, "no torch in the gateway"
        assert "-r " not in command, "dependencies come from pyproject.toml's serve extra"
    assert 'import torch' in text, "the build proves torch is absent"
    # The final image copies the virtual environment, not the sources or the model repository.
    final = final_stage(steps)
    copies = [args for k, args in final if k == "COPY"]
    assert copies and all("--from=build" in c for c in copies), copies
    assert not any("model_repository" in c for c in copies), "model repository baked in by default"
    bake = next(args for k, args in final if k == "RUN" and "model_repository" in args)
    assert '"${BAKE_MODEL_REPOSITORY}" = "1"' in bake
    assert re.search(r"ARG BAKE_MODEL_REPOSITORY=0\b", text)
    entry = json.loads(next(args for k, args in final if k == "ENTRYPOINT"))
    assert entry == ["colorizer", "serve"]


def test_gateway_image_exposes_the_chart_ports() -> None:
    final = final_stage(instructions(DOCKER / "Dockerfile.gateway"))
    exposed = {int(p) for k, args in final if k == "EXPOSE" for p in args.split()}
    ports = chart_defaults()["gateway"]["ports"]
    assert exposed == {ports["grpc"], ports["metrics"]}


def test_export_image_uses_nvidia_base_and_keeps_its_torch() -> None:
    steps = instructions(DOCKER / "Dockerfile.export")
    text = (DOCKER / "Dockerfile.export").read_text()
    base = re.search(r"ARG BASE_IMAGE=(\S+)", text)
    assert base and re.fullmatch(r"nvcr\.io/nvidia/(pytorch|tensorrt):\d\d\.\d\d-py3", base.group(1))
    pip_installs = pip_commands(steps)
    assert any("--no-deps ." in args for args in pip_installs)
    # Installing the `train` extra would replace NVIDIA's CUDA torch with the pinned CPU build.
    assert not any(re.search(r"\.\[[^\]]*train", args) for args in pip_installs)
    assert not any(re.search(r"\btorch[=<>~ \"]", args) for args in pip_installs)
    entry = json.loads(next(args for k, args in final_stage(steps) if k == "ENTRYPOINT"))
    assert entry == ["colorizer", "export"]


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "tests"} <= ignored
    assert "model_repository" not in ignored, "BAKE_MODEL_REPOSITORY=1 needs it in the context"
    assert not ignored & {"colorizer", "service", "export", "pyproject.toml", "README.md"}
