"""The registry of sources: name -> module that defines ``SOURCE`` (imported only when chosen)."""

from __future__ import annotations

import importlib

from colorizer.datasets.base import Source

#: Every source ``colorizer data`` knows, in the order ``--all`` prepares them.
SOURCES: dict[str, str] = {
    "openmoji": "colorizer.datasets.openmoji",
    "streamline": "colorizer.datasets.streamline",
    "facesjs": "colorizer.datasets.facesjs",
    "openclipart": "colorizer.datasets.openclipart",
}


def get_source(name: str) -> Source:
    """The source called ``name``; ValueError naming the known ones otherwise."""
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
    source: Source = importlib.import_module(SOURCES[name]).SOURCE
    return source
