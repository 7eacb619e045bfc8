"""Masking rules for variable log tokens (ids, IPs, numbers, hex, paths, UUIDs, durations).

The rules are an ordered list of ``(mask_name, regex)`` pairs. They are exposed both as Drain3
:class:`~drain3.masking.MaskingInstruction` objects (for Drain3's own ``match`` and
``extract_parameters``) and as a single compiled alternation (:class:`FastMasker`), which is
what the hot path uses: one regex scan per line instead of one scan per rule. With an
alternation the first rule that matches at a position wins, so the order below goes from most to
least specific. Results can differ from Drain3's sequential application where rules overlap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from drain3.masking import MaskingInstruction

# A token boundary: not preceded/followed by a letter or digit (so "rdd_42" -> "rdd_<NUM>",
# but "user1" and "ipv4" stay as they are).
_L = r"(?<![A-Za-z0-9])"
_R = r"(?![A-Za-z0-9])"

#: Ordered default rules; the first match at a position wins.
DEFAULT_RULES: tuple[tuple[str, str], ...] = (
    ("UUID", _L + r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}" + _R),
    ("URL", r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s\"'<>]+"),
    ("MAC", _L + r"(?:[0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}" + _R),
    # IPv4 (optional port), also comma-separated lists ("10.0.0.1,10.0.0.2")
    ("IP", r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?"
     r"(?:,\s?(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?)*(?![\w.])"),
    ("BLK", r"\bblk_-?\d+\b"),
    ("PATH", r"(?<![\w.:/])(?:[A-Za-z]:)?(?:[/\\][\w.@~+-]+){2,}[/\\]?(?:\?[^\s\"']*)?"),
    # host names / dotted names with >= 3 labels, the last starting with a letter, optional port
    ("HOST", r"(?<![\w.-])(?:[A-Za-z0-9-]+\.){2,}[A-Za-z][A-Za-z0-9-]*(?::\d{1,5})?(?![\w.-])"),
    # "1190 bytes", "1190 bytes (1.16 KB)", "12 KB", "3.5MiB"
    ("SIZE", _L + r"\d+(?:\.\d+)?\s?(?:bytes(?:\s\(\d+(?:\.\d+)?\s?[KMGT]i?B\))?|[KMGT]i?B)"
     + _R),
    ("DUR", r"(?<![A-Za-z0-9<>])[<>~]?\s?\d+(?:\.\d+)?\s?"
     r"(?:ms|us|µs|ns|sec|secs|seconds|s|min|mins|minutes|h)(?![\w])"),
    ("HEX", _L + r"0[xX][0-9a-fA-F]+" + _R),
    # decimal numbers and hex-digit tokens containing a digit ("42", "-1.5", "12:30:01",
    # "00000001", "7fed806eb5d"): one name so "00000009"/"0000000a" land in the same template
    # (runs of 3+ space-separated numbers are one value: variable-length lists)
    ("NUM", _L + r"[-+]?[0-9a-fA-F]*\d[0-9a-fA-F]*(?:[.,:][0-9a-fA-F]*\d[0-9a-fA-F]*)*"
     r"(?:(?: [-+]?\d+(?:\.\d+)?){2,}(?= |$))?" + _R),
    ("BOOL", r"\b(?:true|false|True|False|TRUE|FALSE)\b"),
)

def masking_instructions(
    rules: Iterable[tuple[str, str]] = DEFAULT_RULES,
) -> list[MaskingInstruction]:
    """The rules as Drain3 masking instructions (applied one after another by Drain3).

    >>> [mi.mask_with for mi in masking_instructions()][:3]
    ['UUID', 'URL', 'MAC']
    """
    return [MaskingInstruction(pattern, name) for name, pattern in rules]


class FastMasker:
    """All rules compiled into one alternation; ``mask`` returns the masked text and the values.

    >>> m = FastMasker()
    >>> masked, values = m.mask("conn from 10.0.0.1:80 took 12ms id=0x1f")
    >>> masked
    'conn from <IP> took <DUR> id=<HEX>'
    >>> values
    [('10.0.0.1:80', 'IP'), ('12ms', 'DUR'), ('0x1f', 'HEX')]
    """

    __slots__ = ("_regex", "_names", "prefix", "suffix", "placeholder_re", "rules")

    def __init__(
        self,
        rules: Sequence[tuple[str, str]] = DEFAULT_RULES,
        prefix: str = "<",
        suffix: str = ">",
    ) -> None:
        self.rules = tuple(rules)
        self.prefix, self.suffix = prefix, suffix
        self._names: dict[str, str] = {}
        parts = []
        for i, (name, pattern) in enumerate(self.rules):
            if not re.fullmatch(r"[A-Za-z0-9_]+", name):
                raise ValueError(f"mask name must be alphanumeric: {name!r}")
            re.compile(pattern)  # fail early, with the offending rule in the traceback
            group = f"m{i}"
            self._names[group] = name
            parts.append(f"(?P<{group}>{pattern})")
        # Every rule starts at a token boundary, so the shared guard is hoisted in front of the
        # alternation: mid-word positions then fail on one look-behind instead of on each rule.
        guard = r"(?<![A-Za-z0-9])(?=[\w/\\<>~+-])"
        self._regex = re.compile(guard + "(?:" + "|".join(parts) + ")") if parts else None
        names = sorted({n for n, _ in self.rules} | {"*"}, key=len, reverse=True)
        alternatives = "|".join(re.escape(n) for n in names)
        pre, post = re.escape(prefix), re.escape(suffix)
        self.placeholder_re = re.compile(f"{pre}(?:{alternatives}){post}")

    def mask(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        """Replace every rule match by ``<NAME>``; return the text and ``[(value, NAME), ...]``."""
        if self._regex is None:
            return text, []
        values: list[tuple[str, str]] = []
        append = values.append
        names = self._names
        prefix, suffix = self.prefix, self.suffix

        def repl(m: re.Match[str]) -> str:
            name = names[m.lastgroup]  # type: ignore[index]
            append((m.group(), name))
            return prefix + name + suffix

        return self._regex.sub(repl, text), values


def with_extra_rules(
    extra: Iterable[tuple[str, str]], base: Sequence[tuple[str, str]] = DEFAULT_RULES,
) -> tuple[tuple[str, str], ...]:
    """Extra (more specific) rules placed before ``base``.

    >>> with_extra_rules([("CORE", r"core\\.\\d+")])[0]
    ('CORE', 'core\\\\.\\\\d+')
    """
    return (*tuple(extra), *base)
