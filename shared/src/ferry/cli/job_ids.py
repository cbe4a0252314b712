"""A job id as people type it: the whole UUID, or a unique prefix of it (as git takes a short hash).

A prefix is looked up in the status service (`GET /jobs?id_prefix=`); none matching is `ferry
job`'s "not found", several is an error listing them so the user can type a longer one.
"""

from __future__ import annotations

import re
from uuid import UUID

import typer

from ferry.cli.errors import JobNotFound
from ferry.cli.render import when
from ferry.cli.status_client import StatusClient

MIN_PREFIX = 4
_PREFIX = re.compile(r"^[0-9a-fA-F-]+$")
SHOWN = 10
"""Candidates listed for an ambiguous prefix."""


def full_id(text: str) -> UUID | None:
    """`text` as a UUID when it is a whole one."""
    try:
        return UUID(text)
    except ValueError:
        return None


def check_prefix(text: str) -> str:
    """A job id or a prefix of one (hex digits and dashes, at least MIN_PREFIX long), or a usage error."""
    if full_id(text) is None and (len(text) < MIN_PREFIX or len(text) > 36 or not _PREFIX.match(text)):
        raise typer.BadParameter(
            f"{text!r} is neither a job id nor the start of one (at least {MIN_PREFIX} hex digits)"
        )
    return text


def resolve(client: StatusClient, text: str) -> UUID:
    """The job id `text` names: itself when whole, else the one job whose id starts with it."""
    whole = full_id(text)
    if whole is not None:
        return whole
    page = client.jobs(id_prefix=text, limit=SHOWN)
    items = page.get("items", [])
    if not items:
        raise JobNotFound(f"no job whose id starts with {text!r} in the status service")
    if len(items) == 1:
        return UUID(str(items[0]["job_id"]))
    total = int(page.get("total") or len(items))
    listed = "; ".join(
        f"{j['job_id']} ({j.get('service')} {j.get('command')}, {j.get('status')}, {when(j.get('created_at'))})"
        for j in items
    )
    more = f" and {total - len(items)} more" if total > len(items) else ""
    raise JobNotFound(f"job id prefix {text!r} is ambiguous: {total} jobs match: {listed}{more}; type more of the id")
