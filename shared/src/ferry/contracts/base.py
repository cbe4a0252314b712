"""The base every ferry message model shares: frozen, strict about unknown fields, versioned."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """A message body exchanged between ferry processes (frozen; unknown fields refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Options(Contract):
    """A command's own options: the flags of the management command it replaces."""

    dry_run: bool = False
