"""Fixtures of asset-sync's tests."""

from __future__ import annotations

from tests.cli.conftest import ferry  # the `ferry` CLI runner on the test's own vhost

__all__ = ["ferry"]
