"""ferry's status service: job events into Postgres, and the HTTP API over them (DESIGN §6)."""

SERVICE = "status"
"""The service's one name (log field, schema, AMQP app id)."""
