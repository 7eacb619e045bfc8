"""Bearer tokens validated by the Kubernetes TokenReview API (OpenShift), with a short cache.

``POST {api}/apis/authentication.k8s.io/v1/tokenreviews`` authenticated with the
API's own service-account token; the user's groups map to a role through
``AIOPS_API_GROUP_ROLES`` (``group=role,...``, the highest role wins). Users in no
mapped group are refused. Kubernetes users see every cluster.
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import httpx

from api.auth.principal import Principal, Role
from streams.logs_setup import get_logger

log = get_logger(__name__)
PATH = "/apis/authentication.k8s.io/v1/tokenreviews"


def parse_group_roles(text: str) -> dict[str, Role]:
    """``'sre=operator, admins=admin'`` -> mapping; bad roles raise ValueError.

    >>> parse_group_roles("sre=operator, admins=admin")
    {'sre': <Role.OPERATOR: 'operator'>, 'admins': <Role.ADMIN: 'admin'>}
    """
    out: dict[str, Role] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        group, sep, role = part.partition("=")
        if not sep or not group.strip():
            raise ValueError(f"bad group=role entry {part!r}")
        out[group.strip()] = Role(role.strip())
    return out


class TokenReviewError(Exception):
    """The Kubernetes API could not be asked (network, 5xx, bad answer)."""


class TokenReviewer:
    """Validates tokens through TokenReview; answers are cached for ``cache_s``."""

    def __init__(self, api_url: str, group_roles: dict[str, Role], *,
                 credentials: str | Path | None = None, ca_file: Path | None = None,
                 cache_s: float = 30.0, timeout_s: float = 5.0) -> None:
        self.url = api_url.rstrip("/") + PATH
        self.group_roles = group_roles
        self.credentials = credentials
        self.cache_s = cache_s
        verify: bool | str = str(ca_file) if ca_file else True
        self.http = httpx.Client(timeout=timeout_s, verify=verify, trust_env=False)
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()
        self.calls = 0

    def _bearer(self) -> str | None:
        if isinstance(self.credentials, Path):
            try:
                return self.credentials.read_text().strip()
            except OSError:
                return None
        return self.credentials

    def role_for(self, groups: list[str]) -> Role | None:
        roles = [self.group_roles[g] for g in groups if g in self.group_roles]
        return max(roles, key=lambda r: r.rank) if roles else None

    def review(self, token: str) -> Principal | None:
        """The principal for ``token``, None when Kubernetes says it is not authenticated
        or the user has no mapped group."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < self.cache_s:
                return hit[1]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                "spec": {"token": token}}
        headers = {}
        bearer = self._bearer()
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        self.calls += 1
        try:
            resp = self.http.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TokenReviewError(f"TokenReview request failed: {exc}") from exc
        if resp.status_code >= 300:
            raise TokenReviewError(f"TokenReview answered {resp.status_code}")
        try:
            status = resp.json().get("status") or {}
        except ValueError as exc:
            raise TokenReviewError("TokenReview answered non-JSON") from exc
        principal = None
        if status.get("authenticated"):
            user = status.get("user") or {}
            role = self.role_for(list(user.get("groups") or []))
            if role is None:
                log.info("api_tokenreview_unmapped", user=user.get("username"))
            else:
                principal = Principal(str(user.get("uid") or user.get("username")),
                                      str(user.get("username", "")), role, None, "tokenreview")
        with self._lock:
            self._cache[key] = (now, principal)
        return principal

    def close(self) -> None:
        self.http.close()
