"""Fixtures of the data-stage tests: the committed real line-art files (tests/fixtures/real)."""

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "real"


@pytest.fixture
def fixture_root() -> Path:
    """tests/fixtures/real: a few files per source, laid out as each package lays them out."""
    return FIXTURES
