"""ferry's rate-limiter service: the fleet's token buckets, answered over RabbitMQ."""

SERVICE = "rate-limiter"
