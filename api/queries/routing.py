"""The notification routing document as the API shows and edits it: secrets never leave.

Reading redacts every endpoint's inline ``secret``, every header value and any
credentials in its URL (user password, query values) to ``<redacted>``. Writing
accepts the redacted form back: a ``<redacted>`` placeholder keeps the stored value of
the same endpoint (so GET, edit, PUT round-trips), and a placeholder with nothing stored
behind it is an error. Saved documents go through ``connectors.notify.routing_store``.

>>> doc = {"endpoints": [{"name": "h", "url": "https://u:pw@x/y?token=t&a=1",
...                       "secret": "s", "headers": {"Authorization": "Bearer z"}}]}
>>> redacted(doc)["endpoints"][0]
{'name': 'h', 'url': 'https://u:<redacted>@x/y?token=<redacted>&a=<redacted>', \
'secret': '<redacted>', 'headers': {'Authorization': '<redacted>'}}
>>> restore(redacted(doc), doc)[0] == doc
True
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml

from api.db import ClickHousePool
from connectors.notify.routing import RoutingConfig, RoutingError, validate_routes, yaml_problem
from connectors.notify.routing_store import RoutingDocument, read_routes, reset_routes, save_routes

REDACTED = "<redacted>"
MAX_DOCUMENT_BYTES = 256 * 1024


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases (an alias bomb would expand into billions of nodes)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases are not accepted", event.start_mark)
        return super().compose_node(parent, index)


def load(text: str, *, json_body: bool = False) -> dict[str, Any]:
    """A submitted document (YAML, or JSON) as a mapping; RoutingError says what is wrong."""
    try:
        doc = json.loads(text) if json_body else yaml.load(text, Loader=_NoAliasLoader)
    except json.JSONDecodeError as exc:
        raise RoutingError(f"routing JSON does not parse: {exc.msg} at line {exc.lineno}, "
                           f"column {exc.colno}") from exc
    except yaml.YAMLError as exc:
        raise RoutingError(f"routing YAML does not parse: {yaml_problem(exc)}") from exc
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise RoutingError("routing document must be a mapping with endpoints and routes")
    return doc


def dump(doc: dict[str, Any]) -> str:
    """YAML text of a document (key order kept)."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _endpoints(doc: dict[str, Any]) -> list[dict[str, Any]]:
    items = doc.get("endpoints")
    return [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []


def redact_url(url: Any) -> Any:
    """``url`` with its user password and query values replaced by the placeholder."""
    if not isinstance(url, str):
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.partition(':')[0]}:{REDACTED}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, REDACTED) for k, _ in pairs], safe="<>")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return REDACTED  # not a URL we can take apart: show nothing of it


def _redact_endpoint(e: dict[str, Any]) -> dict[str, Any]:
    out = dict(e)
    if "url" in out:
        out["url"] = redact_url(out["url"])
    if out.get("secret") is not None:
        out["secret"] = REDACTED
    if isinstance(out.get("headers"), dict):
        out["headers"] = {k: REDACTED for k in out["headers"]}
    return out


def redacted(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` with every secret replaced by the placeholder."""
    out = copy.deepcopy(doc)
    if isinstance(out.get("endpoints"), list):
        out["endpoints"] = [_redact_endpoint(e) if isinstance(e, dict) else e
                            for e in out["endpoints"]]
    return out


def _restore_endpoint(e: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """Put stored values behind placeholders in ``e`` (in place); True when any was."""
    name, changed = e.get("name"), False

    def stored(what: str, value: Any) -> Any:
        if value is None:
            raise RoutingError(f"endpoint {name}: {what} is {REDACTED} but nothing is stored")
        return value

    if e.get("secret") == REDACTED:
        e["secret"], changed = stored("secret", (old or {}).get("secret")), True
    headers, old_headers = e.get("headers"), (old or {}).get("headers")
    if isinstance(headers, dict):
        for k, v in headers.items():
            if v == REDACTED:
                prev = old_headers.get(k) if isinstance(old_headers, dict) else None
                headers[k], changed = stored(f"header {k}", prev), True
    url = e.get("url")
    if isinstance(url, str) and REDACTED in url:
        prev = (old or {}).get("url")
        if prev is None or redact_url(prev) != url:
            raise RoutingError(f"endpoint {name}: url holds {REDACTED} but does not match the "
                               "stored url's redacted form (send the full url)")
        e["url"], changed = prev, True
    return changed


def restore(doc: dict[str, Any], old: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``doc`` with placeholders replaced by ``old``'s values (by endpoint name)."""
    doc = copy.deepcopy(doc)
    previous = {e.get("name"): e for e in _endpoints(old)}
    changed = False
    for e in _endpoints(doc):
        changed |= _restore_endpoint(e, previous.get(e.get("name")))
    return doc, changed


def endpoint_view(e: Any) -> dict[str, Any]:
    """What the API shows of one validated endpoint."""
    return {"name": e.name, "type": e.type, "format": e.format, "url": redact_url(e.url),
            "timeout_s": e.timeout_s, "headers": {k: REDACTED for k in e.headers},
            "secret_set": e.inline_secret is not None or bool(e.secret_env or e.secret_file),
            "secret_env": e.secret_env, "secret_file": e.secret_file}


def view(doc: RoutingDocument) -> dict[str, Any]:
    """The effective document as the API returns it (redacted text and parsed form)."""
    out: dict[str, Any] = {"text": doc.text, "source": doc.source,
                           "updated_ms": doc.updated_ms, "actor": doc.actor, "endpoints": [],
                           "routes": [], "error": None}
    try:
        raw = yaml.safe_load(doc.text) or {}
    except yaml.YAMLError as exc:  # only a hand-edited file can get here
        out["text"] = ""  # unparseable: nothing can be redacted reliably
        out["error"] = f"routing YAML does not parse: {yaml_problem(exc)}"
        return out
    if isinstance(raw, dict) and redacted(raw) != raw:
        out["text"] = dump(redacted(raw))  # comments are lost only when something had to go
    try:
        config = validate_routes(raw) if isinstance(raw, dict) else doc.config()
    except RoutingError as exc:
        out["error"] = scrub(str(exc), raw if isinstance(raw, dict) else {})
        return out
    out["endpoints"] = [endpoint_view(e) for e in config.endpoints]
    out["routes"] = [r.model_dump(mode="json", by_alias=True) for r in config.routes]
    return out


def scrub(message: str, *docs: dict[str, Any]) -> str:
    """``message`` without any secret of ``docs`` (belt and braces for error texts)."""
    for doc in docs:
        for e in _endpoints(doc):
            values = [e.get("secret")]
            if isinstance(e.get("headers"), dict):
                values += list(e["headers"].values())
            for v in values:
                if v not in (None, "", REDACTED):
                    message = message.replace(str(v), REDACTED)
    return message


class RoutingStore:
    """Reads and writes the effective document through the API's ClickHouse pool."""

    def __init__(self, pool: ClickHousePool, path: Any) -> None:
        self.pool = pool
        self.path = path

    def read(self) -> RoutingDocument:
        with self.pool.client() as c:
            return read_routes(c, self.pool.database, self.path)

    def current(self) -> tuple[RoutingDocument, dict[str, Any]]:
        """The effective document and its loaded mapping."""
        doc = self.read()
        raw = yaml.safe_load(doc.text) or {}
        return doc, raw if isinstance(raw, dict) else {}

    def save(self, text: str, doc: dict[str, Any], actor: str) -> RoutingConfig:
        """Validate (without quoting secrets) and store ``text`` (the dump of ``doc``)."""
        try:
            validate_routes(doc)
            with self.pool.client() as c:
                return save_routes(c, self.pool.database, text, actor)
        except RoutingError as exc:
            raise RoutingError(scrub(str(exc), doc)) from exc

    def reset(self, actor: str) -> None:
        with self.pool.client() as c:
            reset_routes(c, self.pool.database, actor)
