"""Helpers of the Helm chart tests: render helm/colorizer with the real Helm SDK (offline).

A plain module, not conftest.py, so that its name cannot clash with other test folders' conftest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "helm" / "colorizer"
RELEASE = "demo"
NAMESPACE = "colorizer-test"

Manifest = dict[str, Any]


def render_chart(values: dict[str, Any] | None = None) -> list[Manifest]:
    """Render the chart like ``helm template --is-upgrade=false`` and parse every document.

    NOTES.txt is not a manifest and is left out; an empty document (a disabled template) too.
    """
    chart = helm_python.Chart.load(CHART_DIR)
    rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    manifests: list[Manifest] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                manifests.append(doc)
    return manifests


def render_notes(values: dict[str, Any] | None = None) -> str:
    """The rendered NOTES.txt."""
    chart = helm_python.Chart.load(CHART_DIR)
    rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))
