"""ferry's rate-limiter service: the fleet's token buckets, answered over RabbitMQ (DESIGN §4)."""

SERVICE = "rate-limiter"
