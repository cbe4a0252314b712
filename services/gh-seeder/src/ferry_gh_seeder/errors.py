"""What the seeder raises (on top of the job runtime's `ferry.jobs.errors` and the GitHub client's).

    SeederError            base of the seeder's own failures
     ├── UnknownProject    --project names no preset of FERRY_GH_SEEDER_PROJECTS
     ├── CheckpointInvalid a --checkpoint-file exists but is not a checkpoint (or cannot be read),
     │                     or its name leads out of the checkpoint directory
     └── CheckpointUnwritable  a checkpoint file could not be written (also an OSError; the
                           operating system's reason is in the worker's log, not the message)

A plan step turns these into `JobFailed`, so the job fails with the message.
"""

from __future__ import annotations


class SeederError(Exception):
    """Base of the seeder's own failures."""


class UnknownProject(SeederError):
    """The project preset does not exist."""


class CheckpointInvalid(SeederError):
    """The checkpoint file cannot be used."""


class CheckpointUnwritable(SeederError, OSError):
    """Writing a checkpoint file failed; the message names the file, never the system's reason."""
