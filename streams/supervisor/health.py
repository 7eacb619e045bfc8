"""Probe a component's /health or /metrics endpoint and read counters from it."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def probe(url: str | None, timeout_s: float = 2.0) -> tuple[bool, str]:
    """(answered 200, body) for ``url``; (False, reason) when it does not answer."""
    if not url:
        return False, "no endpoint"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - http only
            return resp.status == 200, resp.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError) as exc:
        return False, f"{type(exc).__name__}: {exc}"


def counter_total(exposition: str, name: str) -> float | None:
    """Sum of every sample named ``name`` in a text exposition (None when absent)."""
    total, found = 0.0, False
    try:
        families = list(text_string_to_metric_families(exposition))
    except ValueError:
        return None
    for family in families:
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
                found = True
    return total if found else None
