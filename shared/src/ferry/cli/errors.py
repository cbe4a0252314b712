"""What can go wrong in the CLI, each with the exit code the user sees.

| error              | exit | when                                                        |
|--------------------|------|-------------------------------------------------------------|
| `Refused`          | 2    | the CLI will not act as asked (no terminal to confirm on)    |
| `JobNotFound`      | 1    | the status service does not know the job                     |
| `JobEnded`         | 1    | a cancel asked for a job that has already finished           |
| `StatusApiError`   | 1    | the status service refused a request (4xx)                    |
| `StatusUnreachable`| 3    | the status service cannot be reached or is failing (5xx)      |
| `BrokerUnreachable`| 3    | RabbitMQ cannot be reached                                    |
| `PublishFailed`    | 3    | RabbitMQ did not confirm a message                            |
| `Interrupted`      | 130  | the user pressed Ctrl-C while following a job                 |

Messages never carry a secret: URLs are shown without their password.
"""

from __future__ import annotations


class CliError(Exception):
    """An error the CLI reports in one line, exiting with `exit_code`."""

    exit_code = 1


class Refused(CliError):
    """The CLI refuses to do what was asked, before publishing anything."""

    exit_code = 2


class JobNotFound(CliError):
    """The status service has no such job."""


class JobEnded(CliError):
    """The job asked about has already finished: there is nothing left to cancel."""


class StatusApiError(CliError):
    """The status service answered with an error."""


class StatusUnreachable(CliError):
    """The status service (FERRY_STATUS_URL) cannot be reached."""

    exit_code = 3


class BrokerUnreachable(CliError):
    """RabbitMQ (FERRY_AMQP_URL) cannot be reached."""

    exit_code = 3


class PublishFailed(CliError):
    """RabbitMQ did not take a message."""

    exit_code = 3


class Interrupted(CliError):
    """Ctrl-C while following a job; the job itself keeps running."""

    exit_code = 130
