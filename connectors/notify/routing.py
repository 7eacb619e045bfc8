"""Routing rules (YAML): which notification goes to which endpoint, how often, and when not.

A document has ``endpoints`` (where to deliver) and ordered ``routes`` (what to deliver
where). A route matches on severity, cluster, namespace, service, labels and event (globs);
the first matching route wins unless it says ``continue: true``. Per route:
``group_by`` labels form the group key; ``group_wait_s`` delays a new group's first
notification, ``group_interval_s`` spaces later ones (newer versions of a waiting
subject supersede older ones); ``repeat_interval_s`` re-sends an unchanged open incident;
``throttle`` caps notifications per group and window; ``mute`` windows hold delivery.

>>> cfg = parse_routes('''
... endpoints: [{name: hook, url: "http://127.0.0.1:1/x"}]
... routes: [{name: crit, match: {min_severity: HIGH, cluster: ["prod-*"]}, endpoints: [hook]}]
... ''')
>>> from connectors.notify.notification import Notification
>>> n = Notification("incident:i", "OPEN", 1, "prod-1", "CRITICAL", "t", "s", 0)
>>> [(r.name, e.name) for r, e in cfg.targets(n)]
[('crit', 'hook')]
"""

from __future__ import annotations

import fnmatch
import os
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from connectors.notify.notification import SEVERITIES, Notification, severity_rank

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RoutingError(ValueError):
    """A routing document that cannot be used, with the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Endpoint(_Strict):
    """One delivery target."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    type: Literal["webhook", "alertmanager"] = "webhook"
    format: Literal["alertmanager", "generic", "slack"] = Field(
        default="generic", description="Body of a webhook (ignored for type alertmanager).")
    url: str
    secret_env: str | None = Field(default=None, description="Env var holding the HMAC secret.")
    secret_file: str | None = Field(default=None, description="File holding the HMAC secret.")
    inline_secret: SecretStr | None = Field(
        default=None, alias="secret", min_length=1,
        description="The HMAC secret itself (set through the API; never returned by it).")
    timeout_s: float = 5.0
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_secret(self) -> Endpoint:
        given = [n for n, v in (("secret", self.inline_secret), ("secret_env", self.secret_env),
                                ("secret_file", self.secret_file)) if v]
        if len(given) > 1:
            raise ValueError(f"endpoint {self.name}: set only one of {', '.join(given)}")
        return self

    def secret(self) -> bytes | None:
        """The HMAC secret (None: unsigned); a named but missing secret is an error."""
        if self.inline_secret is not None:
            return self.inline_secret.get_secret_value().encode()
        if self.secret_env:
            value = os.environ.get(self.secret_env)
            if not value:
                raise RoutingError(f"endpoint {self.name}: env {self.secret_env} is not set")
            return value.encode()
        if self.secret_file:
            return Path(self.secret_file).read_bytes().strip()
        return None


class MuteWindow(_Strict):
    """A recurring (weekdays + time of day) or absolute (from/until) window."""

    weekdays: list[str] = Field(default_factory=list)
    start: str | None = None
    end: str | None = None
    timezone: str = "UTC"
    from_: datetime | None = Field(default=None, alias="from")
    until: datetime | None = None

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = [d.lower()[:3] for d in value]
        bad = [d for d in days if d not in WEEKDAYS]
        if bad:
            raise ValueError(f"unknown weekdays {bad} (use mon..sun)")
        return days

    @model_validator(mode="after")
    def _shape(self) -> MuteWindow:
        ZoneInfo(self.timezone)
        if (self.start is None) != (self.end is None):
            raise ValueError("mute window needs both start and end (HH:MM)")
        for text in (self.start, self.end):
            if text is not None:
                dtime.fromisoformat(text)
        if self.from_ is None and self.until is None and not self.weekdays and not self.start:
            raise ValueError("mute window needs weekdays/start-end or from/until")
        return self

    def active(self, when: datetime) -> bool:
        """True when ``when`` (aware) falls inside the window."""
        if self.from_ is not None and when < _aware(self.from_):
            return False
        if self.until is not None and when >= _aware(self.until):
            return False
        local = when.astimezone(ZoneInfo(self.timezone))
        if self.weekdays and WEEKDAYS[local.weekday()] not in self.weekdays:
            return False
        if self.start is not None and self.end is not None:
            start, end, now = dtime.fromisoformat(self.start), dtime.fromisoformat(self.end), \
                local.time()
            return start <= now < end if start <= end else (now >= start or now < end)
        return True


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Match(_Strict):
    """Conditions (all must hold); lists are alternatives, strings are globs."""

    severity: list[str] = Field(default_factory=list)
    min_severity: str | None = None
    cluster: list[str] = Field(default_factory=list)
    namespace: list[str] = Field(default_factory=list)
    service: list[str] = Field(default_factory=list)
    event: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("severity")
    @classmethod
    def _sev(cls, value: list[str]) -> list[str]:
        out = [v.upper() for v in value]
        bad = [v for v in out if v not in SEVERITIES]
        if bad:
            raise ValueError(f"unknown severities {bad} (use {', '.join(SEVERITIES)})")
        return out

    @field_validator("min_severity")
    @classmethod
    def _min(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in SEVERITIES:
            raise ValueError(f"unknown severity {value!r}")
        return value.upper() if value else None

    def matches(self, note: Notification) -> bool:
        sev = note.severity.upper()
        if self.severity and sev not in self.severity:
            return False
        if self.min_severity and severity_rank(sev) < severity_rank(self.min_severity):
            return False
        pairs = ((self.cluster, note.cluster), (self.namespace, note.namespace),
                 (self.service, note.service), (self.event, note.event))
        if any(pats and not any(fnmatch.fnmatchcase(v, p) for p in pats) for pats, v in pairs):
            return False
        have = note.match_labels()
        return all(fnmatch.fnmatchcase(have.get(k, ""), p) for k, p in self.labels.items())


class Throttle(_Strict):
    """At most ``max`` notifications per group per ``window_s`` (resolutions always pass)."""

    max: int = Field(ge=1)
    window_s: float = Field(gt=0)


class Route(_Strict):
    """One rule: a match, its endpoints and its timing."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    match: Match = Field(default_factory=Match)
    endpoints: list[str] = Field(min_length=1)
    group_by: list[str] = Field(default_factory=lambda: ["cluster"])
    group_wait_s: float = Field(default=0.0, ge=0)
    group_interval_s: float = Field(default=0.0, ge=0)
    repeat_interval_s: float = Field(default=0.0, ge=0, description="0: never repeat.")
    throttle: Throttle | None = None
    mute: list[MuteWindow] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")

    def group_key(self, note: Notification) -> str:
        have = note.match_labels()
        return ",".join(f"{k}={have.get(k, '')}" for k in self.group_by)

    def muted(self, when: datetime) -> bool:
        return any(w.active(when) for w in self.mute)


class RoutingConfig(_Strict):
    """A validated routing document."""

    endpoints: list[Endpoint] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refs(self) -> RoutingConfig:
        names = [e.name for e in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError("endpoint names must be unique")
        for route in self.routes:
            missing = [n for n in route.endpoints if n not in names]
            if missing:
                raise ValueError(f"route {route.name}: unknown endpoints {missing}")
        return self

    def endpoint(self, name: str) -> Endpoint:
        for e in self.endpoints:
            if e.name == name:
                return e
        raise KeyError(name)

    def targets(self, note: Notification) -> list[tuple[Route, Endpoint]]:
        """(route, endpoint) pairs ``note`` goes to, in rule order (no duplicate endpoint)."""
        out: list[tuple[Route, Endpoint]] = []
        seen: set[str] = set()
        for route in self.routes:
            if not route.match.matches(note):
                continue
            for name in route.endpoints:
                if name not in seen:
                    seen.add(name)
                    out.append((route, self.endpoint(name)))
            if not route.continue_:
                break
        return out


def parse_routes(text: str) -> RoutingConfig:
    """Validate a YAML routing document; :class:`RoutingError` says what is wrong.

    Messages name the place (path, line) but never quote the input, which may hold secrets.
    """
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise RoutingError(f"routing YAML does not parse: {yaml_problem(exc)}") from exc
    if not isinstance(doc, dict):
        raise RoutingError("routing document must be a mapping with endpoints and routes")
    return validate_routes(doc)


def validate_routes(doc: dict) -> RoutingConfig:
    """Validate an already-loaded document (see :func:`parse_routes`)."""
    try:
        return RoutingConfig.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False, include_context=False))
        raise RoutingError(f"invalid routing document: {problems}") from exc


def yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong with a YAML text and where, without quoting it."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return " ".join(p for p in (exc.context, exc.problem) if p) + where
    return type(exc).__name__
