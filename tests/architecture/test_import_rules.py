"""The import rules of SYSTEM.md, checked: the serving side never loads torch, the model and
training code never import the service or the export stage, generated protobuf code is imported
only where the wire is."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SERVING_MODULES = [
    "colorizer.contract",
    "colorizer.encoding",
    "colorizer.lines",
    "colorizer.imaging",
    "service.settings",
    "service.batching",
    "service.pipeline",
    "service.backends.embedded",
    "service.backends.triton",
    "service.servicer",
    "service.server",
    "service.serve_cmd",
    "service.client.client",
    "service.client.batch_cmd",
    "service.demo_cmd",
    "colorizer.cli",
    "bench.loadgen",
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]


def test_the_gateway_and_its_client_never_load_torch() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {SERVING_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "from colorizer.cli import build_parser\n"
        "for command in ('serve', 'colorize', 'batch', 'demo', 'fuzz', 'soak'):\n"
        "    build_parser(command)\n"
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "print(len(loaded))\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"serving modules loaded torch:\n{result.stdout}\n{result.stderr}"


def test_model_and_training_code_never_import_the_service_or_export() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _python_files("colorizer")
        for name in _imports(path)
        if name.split(".")[0] in ("service", "export", "bench")
    ]
    assert not offenders, offenders


def test_the_data_stage_needs_no_torch_and_eval_reads_its_files_only() -> None:
    """colorizer.datasets renders and filters with numpy/OpenCV/cairosvg (a data machine needs no
    torch); colorizer.eval reads the prepared files and never imports the data stage."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _python_files("colorizer/datasets")
        for name in _imports(path)
        if name.split(".")[0] == "torch" or name.startswith(("colorizer.train", "colorizer.model"))
    ]
    offenders += [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _python_files("colorizer/eval")
        for name in _imports(path)
        if name.startswith("colorizer.datasets")
    ]
    assert not offenders, offenders


def test_export_never_imports_the_service() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _python_files("export")
        for name in _imports(path)
        if name.split(".")[0] == "service"
    ]
    assert not offenders, offenders


def test_generated_protobuf_code_is_imported_only_at_the_wire() -> None:
    # The wire: the servicer, the server that registers it, the client, and the tools that speak
    # gRPC themselves (benchmarks, fuzzing, soak). Batcher, pipeline and backends must not.
    forbidden = ["service/batching.py", "service/pipeline.py", "service/settings.py", "service/errors.py"]
    forbidden += [str(p.relative_to(ROOT)) for p in (ROOT / "service/backends").glob("*.py")]
    offenders = [
        f"{rel} imports {name}"
        for rel in forbidden
        for name in _imports(ROOT / rel)
        if name.startswith("service.grpc_gen")
    ]
    assert not offenders, offenders


def test_every_cli_command_builds_its_options() -> None:
    from colorizer.cli import COMMANDS, build_parser

    for name in COMMANDS:
        parser = build_parser(name)
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0, name
        # The chosen command got its real options (its module's add_arguments ran).
        sub_actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        options = {opt for action in sub_actions[0].choices[name]._actions for opt in action.option_strings}
        assert options - {"-h", "--help"}, f"{name} has no options of its own"
