"""Fixtures for the dashboard tests: a fresh database holding known missions, usage, audit."""

from __future__ import annotations

import pytest
from dashboard_rows import seed


@pytest.fixture
def seeded_database_url(fresh_database_url: str) -> str:
    """A fresh database holding the rows dashboard_rows.SEEDED_* describe."""
    seed(fresh_database_url)
    return fresh_database_url
