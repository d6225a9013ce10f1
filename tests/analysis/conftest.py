"""Fixtures over analysis/synthetic.py's generators (seeded synthetic trajectories with known answers)."""

from __future__ import annotations

import pytest

from analysis.synthetic import brownian, fbm


@pytest.fixture(scope="session")
def make_fbm():
    return fbm


@pytest.fixture(scope="session")
def make_brownian():
    return brownian
