"""Publishing to Kafka: the producer wrapper with its outage spool."""
