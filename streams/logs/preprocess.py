"""Loghub-style header parsing: split a raw line into header fields and ``Content``.

A log format is a string such as ``"<Date> <Time> <Level> <Component>: <Content>"``: every
``<Name>`` is a lazily matched field, literal text between fields is matched as is (runs of spaces
match one or more whitespace). The per-system formats are those of the Loghub / LogPAI benchmark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Header formats of the 16 Loghub 2k systems (as in the LogPAI benchmark settings).
LOGHUB_FORMATS: dict[str, str] = {
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "Hadoop": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
    "Spark": "<Date> <Time> <Level> <Component>: <Content>",
    "Zookeeper": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
    "BGL": "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> "
           "<Content>",
    "HPC": "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
    "Thunderbird": r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> "
                   r"<Component>(\[<PID>\])?: <Content>",
    "Windows": "<Date> <Time>, <Level>                  <Component>    <Content>",
    "Linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
    "Android": "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
    "HealthApp": r"<Time>\|<Component>\|<Pid>\|<Content>",
    "Apache": r"\[<Time>\] \[<Level>\] <Content>",
    "Proxifier": r"\[<Time>\] <Program> - <Content>",
    "OpenSSH": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
    "OpenStack": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
    "Mac": r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
}

_FIELD = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass(frozen=True, slots=True)
class HeaderParser:
    """Compiled log format.

    >>> p = HeaderParser.from_format("<Date> <Time> <Level> <Component>: <Content>")
    >>> p.parse("17/06/09 20:10:40 INFO executor.Executor: Running task 0.0")["Content"]
    'Running task 0.0'
    >>> p.content("garbage") is None
    True
    """

    regex: re.Pattern[str]
    fields: tuple[str, ...]

    @classmethod
    def from_format(cls, log_format: str) -> HeaderParser:
        """Build the anchored regex: fields become lazy named groups, spaces match ``\\s+``."""
        pieces: list[str] = []
        fields: list[str] = []
        pos = 0
        for m in _FIELD.finditer(log_format):
            literal = log_format[pos:m.start()]
            pieces.append(re.sub(r" +", r"\\s+", literal))
            name = m.group(1)
            if name in fields:
                raise ValueError(f"duplicate field {name!r} in log format")
            fields.append(name)
            pieces.append(f"(?P<{name}>.*?)")
            pos = m.end()
        pieces.append(re.sub(r" +", r"\\s+", log_format[pos:]))
        if "Content" not in fields:
            raise ValueError("log format needs a <Content> field")
        return cls(re.compile("^" + "".join(pieces) + "$"), tuple(fields))

    def parse(self, line: str) -> dict[str, str] | None:
        """Header fields and ``Content`` of a line, or None when the line does not fit."""
        m = self.regex.match(line.rstrip("\r\n"))
        return None if m is None else {k: v or "" for k, v in m.groupdict().items()}

    def content(self, line: str) -> str | None:
        fields = self.parse(line)
        return None if fields is None else fields["Content"]


def loghub_parser(system: str) -> HeaderParser:
    """Parser for one Loghub system (name as in the data set, e.g. ``"HDFS"``)."""
    return HeaderParser.from_format(LOGHUB_FORMATS[system])
