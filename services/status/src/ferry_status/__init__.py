"""ferry's status service: job events into Postgres, and the HTTP API over them."""

SERVICE = "status"
"""The service's one name (log field, schema, AMQP app id)."""
