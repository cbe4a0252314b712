"""What the janitor raises (on top of the job runtime's `ferry.jobs.errors`).

    JanitorError         base of the janitor's own failures
     └── TableNotFound   FERRY_JANITOR_TABLE names a table that does not exist (or lacks id/status)

A job step turns a `JanitorError` into `JobFailed`, so the job fails with this message; at start-up
it stops the service before it consumes anything.
"""

from __future__ import annotations


class JanitorError(Exception):
    """Base of the janitor's own failures."""


class TableNotFound(JanitorError):
    """The configured webhook table is missing, or is not shaped like assignments_learnpackwebhook."""
