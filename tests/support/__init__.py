"""Helpers the tests share: where the real RabbitMQ and Postgres are, and running services."""
