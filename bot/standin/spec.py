"""The Bot API specification (data/bot-api.json), loaded once into a small typed model.

The JSON comes from the public project telegram-bot-api-spec, generated from the official
documentation (see data/README.md). Methods are looked up case-insensitively, as Telegram does.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = [
    "PRIMITIVE_TYPES",
    "ApiSpec",
    "FieldSpec",
    "MethodSpec",
    "TypeSpec",
    "load_spec",
]

PRIMITIVE_TYPES = frozenset({"Integer", "Float", "Boolean", "String", "InputFile"})
ARRAY_PREFIX = "Array of "
# "Scope type, must be chat" / 'Type of the reaction, always "emoji"'
_DISCRIMINATOR = re.compile(r'(?:must be|always) "?([a-z_]+)"?\.?$')


@dataclass(frozen=True)
class FieldSpec:
    name: str
    types: tuple[str, ...]
    required: bool
    description: str


@dataclass(frozen=True)
class MethodSpec:
    name: str
    fields: dict[str, FieldSpec]
    returns: tuple[str, ...]


@dataclass(frozen=True)
class TypeSpec:
    name: str
    fields: dict[str, FieldSpec]
    subtypes: tuple[str, ...]
    description: str

    @property
    def is_abstract(self) -> bool:
        return bool(self.subtypes)


def _fields(raw: list[dict[str, Any]] | None) -> dict[str, FieldSpec]:
    return {
        f["name"]: FieldSpec(
            name=f["name"],
            types=tuple(f["types"]),
            required=bool(f["required"]),
            description=str(f.get("description", "")),
        )
        for f in raw or []
    }


class ApiSpec:
    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = str(data.get("version", ""))
        self._methods: dict[str, MethodSpec] = {}
        for name, raw in data["methods"].items():
            method = MethodSpec(
                name=name, fields=_fields(raw.get("fields")), returns=tuple(raw.get("returns", ()))
            )
            self._methods[name.lower()] = method
        self.types: dict[str, TypeSpec] = {
            name: TypeSpec(
                name=name,
                fields=_fields(raw.get("fields")),
                subtypes=tuple(raw.get("subtypes", ())),
                description=" ".join(raw.get("description", [])),
            )
            for name, raw in data["types"].items()
        }

    def method(self, name: str) -> MethodSpec | None:
        """The method called ``name`` (any letter case), or None."""
        return self._methods.get(name.lower())

    @property
    def method_names(self) -> list[str]:
        return sorted(m.name for m in self._methods.values())

    def concrete_types(self, name: str) -> list[TypeSpec]:
        """The type itself, or for an abstract type all of its concrete subtypes."""
        spec = self.types.get(name)
        if spec is None:
            return []
        if not spec.is_abstract:
            return [spec]
        out: list[TypeSpec] = []
        for sub in spec.subtypes:
            out.extend(t for t in self.concrete_types(sub) if t not in out)
        return out

    @staticmethod
    def discriminator(spec: TypeSpec) -> tuple[str, str] | None:
        """(field, constant) that tells this subtype apart, e.g. ("type", "chat")."""
        for field in spec.fields.values():
            if field.required and field.types == ("String",):
                match = _DISCRIMINATOR.search(field.description)
                if match:
                    return field.name, match.group(1)
        return None


@functools.cache
def load_spec() -> ApiSpec:
    """The bundled specification, parsed on first use."""
    source = resources.files("bot.standin").joinpath("data", "bot-api.json")
    return ApiSpec(json.loads(source.read_text(encoding="utf-8")))
