"""Online log template mining with Drain3, one miner per cluster/app key.

Template ids are ``blake2b(template_text)[:8 bytes]`` in hex, not Drain's cluster counter: the
counter depends on arrival order, so two replicas (or a restart without a snapshot) would give the
same template different ids, while the text hash is the same everywhere. The cost is that the id
follows the text: when Drain generalises a template (``change == "cluster_template_changed"``) the
line gets the new id; ``cluster_id`` (process-local) stays put for callers that need continuity.

Hostile input: bytes are decoded as UTF-8 with replacement, control characters become spaces,
lone surrogates are replaced, and the line is cut to ``max_line_chars`` before masking
(``truncated=True`` in the result). Nothing in ``add`` raises on line content.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from drain3 import TemplateMiner
from drain3.drain import LogCluster, LogClusterCache, Node
from drain3.template_miner import ExtractedParameter
from drain3.template_miner_config import TemplateMinerConfig

from streams.logs.masking import DEFAULT_RULES, FastMasker, masking_instructions

SNAPSHOT_VERSION = 1
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class MinerSettings:
    """Drain parameters and input bounds (defaults: Drain3's, plus the default masking rules)."""

    sim_th: float = 0.4
    depth: int = 4
    max_children: int = 100
    max_clusters: int | None = None
    extra_delimiters: tuple[str, ...] = ()
    rules: tuple[tuple[str, str], ...] = DEFAULT_RULES
    max_line_chars: int = 4096
    cache_size: int = 200_000  # masked line -> cluster id; 0 disables the cache
    parametrize_numeric_tokens: bool = True


@dataclass(slots=True, eq=False)
class TemplateMatch:
    """What the miner says about one line; ``params`` is extracted on first access."""

    template_id: str
    template: str
    change: str  # "none" | "cluster_created" | "cluster_template_changed"
    cluster_id: int
    truncated: bool = False
    _lazy: tuple | None = field(default=None, repr=False)
    _params: tuple[ExtractedParameter, ...] | None = field(default=None, repr=False)

    def param_values(self) -> list[str]:
        """Just the parameter values of :attr:`params` (cheaper when no ``<*>`` is involved)."""
        if self._params is None and self._lazy is not None:
            miner, _masked, values, tokens = self._lazy
            if miner.param_str not in tokens:
                return [v for v, _name in values]
        return [p.value for p in self.params]

    @property
    def params(self) -> tuple[ExtractedParameter, ...]:
        """Parameters in line order: ``(value, mask_name)``; Drain wildcards have name ``*``."""
        if self._params is None:
            if self._lazy is None:
                self._params = ()
            else:
                miner, masked, values, tokens = self._lazy
                self._params = miner._params(masked, values, tokens)
                self._lazy = None
        return self._params


def template_id(template: str) -> str:
    """Stable id of a template text (16 hex chars).

    >>> tid = template_id("user <*> logged in")
    >>> len(tid), tid == template_id("user <*> logged in")
    (16, True)
    """
    data = template.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def clean_line(line: str | bytes, max_chars: int) -> tuple[str, bool]:
    """Decode, drop control characters / lone surrogates, trim, and bound the length."""
    if isinstance(line, bytes | bytearray):
        line = bytes(line[: max_chars * 4]).decode("utf-8", "replace")
    truncated = len(line) > max_chars
    if truncated:
        line = line[:max_chars]
    if _CONTROL_RE.search(line):
        line = _CONTROL_RE.sub(" ", line)
    return line.strip(), truncated


@dataclass(slots=True)
class LogTemplateMiner:
    """Drain3 ``TemplateMiner`` with fast masking, text-hash ids and a masked-line cache.

    >>> m = LogTemplateMiner()
    >>> a = m.add("user 42 logged in from 10.0.0.1")
    >>> b = m.add("user 7 logged in from 10.0.0.2")
    >>> a.template, a.template_id == b.template_id, [p.value for p in b.params]
    ('user <NUM> logged in from <IP>', True, ['7', '10.0.0.2'])
    """

    settings: MinerSettings = field(default_factory=MinerSettings)
    miner: TemplateMiner = field(init=False, repr=False)
    masker: FastMasker = field(init=False, repr=False)
    _cache: dict[str, int] = field(init=False, repr=False, default_factory=dict)
    _ids: dict[tuple[str, ...], tuple[str, str]] = field(init=False, repr=False,
                                                         default_factory=dict)

    def __post_init__(self) -> None:
        s = self.settings
        cfg = TemplateMinerConfig()
        cfg.drain_sim_th = s.sim_th
        cfg.drain_depth = s.depth
        cfg.drain_max_children = s.max_children
        cfg.drain_max_clusters = s.max_clusters
        cfg.drain_extra_delimiters = list(s.extra_delimiters)
        cfg.masking_instructions = masking_instructions(s.rules)
        cfg.parametrize_numeric_tokens = s.parametrize_numeric_tokens
        self.miner = TemplateMiner(persistence_handler=None, config=cfg)
        self.masker = FastMasker(s.rules, cfg.mask_prefix, cfg.mask_suffix)

    @property
    def param_str(self) -> str:
        return self.miner.drain.param_str

    def __len__(self) -> int:
        return len(self.miner.drain.id_to_cluster)

    def _template(self, tokens: tuple[str, ...]) -> tuple[str, str]:
        hit = self._ids.get(tokens)
        if hit is None:
            if len(self._ids) > 100_000:
                self._ids.clear()
            text = " ".join(tokens)
            hit = self._ids[tokens] = (template_id(text), text)
        return hit

    def add(self, line: str | bytes) -> TemplateMatch:
        """Mine one line; returns its template id, template text and parameters."""
        text, truncated = clean_line(line, self.settings.max_line_chars)
        masked, values = self.masker.mask(text)
        drain = self.miner.drain
        cluster: LogCluster | None = None
        change = "none"
        cid = self._cache.get(masked)
        if cid is not None:
            cluster = drain.id_to_cluster.get(cid)
            if cluster is not None:
                cluster.size += 1
                if drain.max_clusters:
                    drain.id_to_cluster[cid]  # noqa: B018  (touch for LRU order)
        if cluster is None:
            cluster, change = drain.add_log_message(masked)
            if self.settings.cache_size:
                if len(self._cache) >= self.settings.cache_size:
                    self._cache.clear()
                self._cache[masked] = cluster.cluster_id
        tokens = cluster.log_template_tokens
        tid, tpl = self._template(tokens)
        return TemplateMatch(tid, tpl, change, cluster.cluster_id, truncated,
                             (self, masked, values, tokens))

    def match(self, line: str | bytes) -> TemplateMatch | None:
        """Read-only lookup of an existing template (no cluster is created or changed)."""
        text, truncated = clean_line(line, self.settings.max_line_chars)
        masked, values = self.masker.mask(text)
        cluster = self.miner.drain.match(masked, "fallback")
        if cluster is None:
            return None
        tokens = cluster.log_template_tokens
        tid, tpl = self._template(tokens)
        return TemplateMatch(tid, tpl, "none", cluster.cluster_id, truncated,
                             (self, masked, values, tokens))

    def _params(self, masked: str, values: list[tuple[str, str]],
                template: Sequence[str]) -> tuple[ExtractedParameter, ...]:
        """Parameters in line order: masked values and Drain ``<*>`` tokens (mask name ``*``)."""
        star = self.param_str
        if star not in template:  # every parameter is a masked value, in line order
            return tuple(ExtractedParameter(v, n) for v, n in values)
        tokens = self.miner.drain.get_content_as_tokens(masked)
        if len(tokens) != len(template):  # cannot happen for a matched cluster; be safe
            return tuple(ExtractedParameter(v, n) for v, n in values)
        out: list[ExtractedParameter] = []
        ph = self.masker.placeholder_re
        vi = 0
        for tok, tpl in zip(tokens, template, strict=True):
            n = len(ph.findall(tok)) if "<" in tok else 0
            if tpl == star:
                if n:
                    chunk = iter(values[vi:vi + n])
                    tok = ph.sub(lambda m, c=chunk: next(c, (m.group(), ""))[0], tok)
                    vi += n
                out.append(ExtractedParameter(tok, "*"))
            elif n:
                out.extend(ExtractedParameter(v, k) for v, k in values[vi:vi + n])
                vi += n
        return tuple(out)

    def templates(self) -> dict[str, str]:
        """All current templates, id -> text."""
        return dict(self._template(c.log_template_tokens)
                    for c in self.miner.drain.id_to_cluster.values())

    def final_template_id(self, cluster_id: int) -> str | None:
        """The current id of a (process-local) cluster, e.g. for offline grouping."""
        c = self.miner.drain.id_to_cluster.get(cluster_id)
        return None if c is None else self._template(c.log_template_tokens)[0]

    # -- snapshot / restore ----------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The Drain state (tree + clusters) as compressed JSON bytes; no pickle involved."""
        drain = self.miner.drain

        def node(n: Node) -> dict:
            return {"c": list(n.cluster_ids),
                    "k": {k: node(v) for k, v in n.key_to_child_node.items()}}

        state = {
            "v": SNAPSHOT_VERSION,
            "counter": drain.clusters_counter,
            "clusters": [[c.cluster_id, c.size, list(c.log_template_tokens)]
                         for c in drain.id_to_cluster.values()],
            "tree": node(drain.root_node),
        }
        raw = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
        return zlib.compress(raw.encode("utf-8", "surrogatepass"), 6)

    def restore(self, snapshot: bytes) -> None:
        """Replace the state with a :meth:`snapshot` (same settings expected)."""
        state = json.loads(zlib.decompress(snapshot).decode("utf-8", "surrogatepass"))
        if state.get("v") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {state.get('v')!r}")
        drain = self.miner.drain

        def node(d: dict) -> Node:
            n = Node()
            n.cluster_ids = [int(i) for i in d["c"]]
            n.key_to_child_node = {k: node(v) for k, v in d["k"].items()}
            return n

        clusters: dict[int, LogCluster] = (
            LogClusterCache(maxsize=drain.max_clusters) if drain.max_clusters else {})
        for cid, size, tokens in state["clusters"]:
            c = LogCluster([str(t) for t in tokens], int(cid))
            c.size = int(size)
            clusters[c.cluster_id] = c
        drain.id_to_cluster = clusters
        drain.clusters_counter = int(state["counter"])
        drain.root_node = node(state["tree"])
        self._cache.clear()
        self._ids.clear()


@dataclass(slots=True)
class KeyedTemplateMiners:
    """One :class:`LogTemplateMiner` per cluster/app key (templates never mix across keys).

    >>> pool = KeyedTemplateMiners()
    >>> pool.add("prod/api", "GET /v1/users/17 200").template
    'GET <PATH> <NUM>'
    >>> sorted(pool.keys())
    ['prod/api']
    """

    settings: MinerSettings = field(default_factory=MinerSettings)
    miners: dict[str, LogTemplateMiner] = field(default_factory=dict)

    def miner(self, key: str) -> LogTemplateMiner:
        m = self.miners.get(key)
        if m is None:
            m = self.miners[key] = LogTemplateMiner(self.settings)
        return m

    def add(self, key: str, line: str | bytes) -> TemplateMatch:
        return self.miner(key).add(line)

    def keys(self) -> list[str]:
        return list(self.miners)

    def snapshot(self) -> dict[str, bytes]:
        return {k: m.snapshot() for k, m in self.miners.items()}

    def restore(self, snapshots: dict[str, bytes]) -> None:
        for k, snap in snapshots.items():
            self.miner(k).restore(snap)
