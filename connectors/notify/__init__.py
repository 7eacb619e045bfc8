"""Alert delivery: notifications, routing, payloads, signatures, delivery and its log.

``notification`` (what is sent), ``routing`` / ``routing_store`` (where, when; YAML file
plus an operator override in ClickHouse), ``payloads`` (Alertmanager v4, generic JSON,
Slack), ``signing`` (HMAC-SHA256 with a replay window), ``delivery`` (one attempt, retry
policy, circuit breaker), ``delivery_log`` (attempts and delivery state in ClickHouse),
``alertmanager_api`` (incidents as alerts on Alertmanager's v2 API). The worker that
drives them is ``streams.notify``.
"""
