"""Kafka plumbing shared by every component (confluent-kafka underneath)."""
