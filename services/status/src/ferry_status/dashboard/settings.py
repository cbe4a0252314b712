"""The dashboard's settings (same `FERRY_` prefix as everything else)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from ferry.settings import FerrySettings


class DashboardSettings(FerrySettings):
    """How the dashboard signs and sends its session cookie."""

    dashboard_secret_key: SecretStr | None = Field(
        None, description="Signs the session cookie. Unset: a random key per process (logins end at restart "
        "and do not carry across replicas), so set it wherever more than one replica runs.",
    )
    dashboard_secure_cookie: bool = Field(
        False, description="Send the session cookie over HTTPS only (set it behind TLS).",
    )
    dashboard_session_hours: float = Field(12.0, gt=0, le=24 * 30, description="How long a login lasts.")
    dashboard_rabbitmq_api_url: str | None = Field(
        None, description="RabbitMQ's management API (e.g. http://rabbitmq:15672), for unacknowledged counts on "
        "the queues page. Unset: the page shows ready counts and consumers only, and says so.",
    )
    dashboard_rabbitmq_api_user: str | None = Field(
        None, description="User for the management API (default: FERRY_AMQP_URL's user).",
    )
    dashboard_rabbitmq_api_password: SecretStr | None = Field(
        None, description="Its password (default: FERRY_AMQP_URL's password). Never shown.",
    )
