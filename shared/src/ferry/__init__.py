"""ferry's common library.

- `ferry.contracts`: the messages every service exchanges (commands, job events, options).
- `ferry.topology`: exchange and queue names and declarations.
- `ferry.jobs`: the job runtime (dedupe, steps, checkpoints, progress, cancel).
- `ferry.settings`, `ferry.logging`, `ferry.db`: configuration, structured logs, Postgres.
- `ferry.cli`: the `ferry` command.
"""
