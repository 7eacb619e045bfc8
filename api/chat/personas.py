"""Chat personas: the five built-in ones plus custom personas managed by admins.

Custom personas live in memory in the running API (per replica); a custom persona cannot
replace a built-in one, and its tools must come from the registry.
"""

from __future__ import annotations

import re
import threading

from pydantic import BaseModel, ConfigDict, Field, field_validator

from streams.llm.personas import ALL_TOOLS, PERSONAS, Persona

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,39}$")


class PersonaIn(BaseModel):
    """A custom persona as an admin defines it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=40, description="lower-case, digits, dashes")
    title: str = Field(min_length=1, max_length=120)
    system_prompt: str = Field(min_length=1, max_length=4000)
    tools: list[str] = Field(min_length=1, max_length=len(ALL_TOOLS))

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError("name must be lower-case letters, digits and dashes (2-40)")
        return value

    @field_validator("tools")
    @classmethod
    def _tools(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ALL_TOOLS))
        if unknown:
            raise ValueError(f"unknown tools {unknown}")
        return [t for t in ALL_TOOLS if t in value]


class PersonaStore:
    """Built-in personas (read-only) and custom ones."""

    def __init__(self) -> None:
        self._custom: dict[str, Persona] = {}
        self._lock = threading.Lock()

    def all(self) -> list[tuple[Persona, bool]]:
        """(persona, custom?) pairs, built-ins first."""
        with self._lock:
            custom = list(self._custom.values())
        return [(p, False) for p in PERSONAS.values()] + [(p, True) for p in custom]

    def get(self, name: str) -> Persona | None:
        with self._lock:
            return PERSONAS.get(name) or self._custom.get(name)

    def put(self, spec: PersonaIn) -> tuple[Persona, bool]:
        """Create or replace a custom persona; ValueError for a built-in name."""
        if spec.name in PERSONAS:
            raise ValueError(f"{spec.name!r} is a built-in persona")
        persona = Persona(spec.name, spec.title, spec.system_prompt, tuple(spec.tools))
        with self._lock:
            created = spec.name not in self._custom
            self._custom[spec.name] = persona
        return persona, created

    def delete(self, name: str) -> bool:
        if name in PERSONAS:
            raise ValueError(f"{name!r} is a built-in persona")
        with self._lock:
            return self._custom.pop(name, None) is not None
