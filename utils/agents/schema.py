"""Check a JSON value against a JSON Schema: the subset that tool schemas use, written out so that every rule can
be read. Taught in notebook 16; the unit tests check it against the `jsonschema` library.

A tool declares its arguments as a JSON Schema (the format OpenAI-style function calling uses too), e.g.

    {"type": "object", "properties": {"word": {"type": "string", "minLength": 1}},
     "required": ["word"], "additionalProperties": False}

Supported keywords: `type` (one name or a list), `enum`, `properties`, `required`, `additionalProperties` (bool or
a schema), `items`, `minLength` / `maxLength`, `minimum` / `maximum`, and `description` / `title` (ignored, as
annotations). Any other keyword raises a ValueError rather than being silently ignored.
"""

from __future__ import annotations

import json
from typing import Any

SUPPORTED_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "description",
        "title",
    }
)


def _is_type(value: Any, name: str) -> bool:
    """JSON Schema's types on Python values (as `json.loads` makes them): booleans are not numbers, and a float
    with no fractional part counts as an integer."""
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return not isinstance(value, bool) and (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        )
    if name == "number":
        return not isinstance(value, bool) and isinstance(value, int | float)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    raise ValueError(f"unknown JSON Schema type {name!r}.")


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, float | int) or isinstance(value, bool) else repr(value)


def schema_errors(instance: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way `instance` breaks `schema`, as messages that name the place (`$` is the whole value,
    `$.arguments.word` a field); an empty list when it is valid."""
    unknown = sorted(set(schema) - SUPPORTED_KEYWORDS)
    if unknown:
        raise ValueError(f"`schema` uses keywords this validator does not support: {unknown}.")
    errors: list[str] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(instance, name) for name in names):
            return [f"{path} must be of type {' or '.join(names)}, got {_show(instance)}"]
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path} must be one of {schema['enum']}, got {_show(instance)}")
    if isinstance(instance, str):
        if "minLength" in schema and len(instance) < schema["minLength"]:
            errors.append(f"{path} must have at least {schema['minLength']} characters")
        if "maxLength" in schema and len(instance) > schema["maxLength"]:
            errors.append(f"{path} must have at most {schema['maxLength']} characters")
    if isinstance(instance, int | float) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{path} must be >= {schema['minimum']}, got {instance!r}")
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append(f"{path} must be <= {schema['maximum']}, got {instance!r}")
    if isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            errors.extend(schema_errors(item, schema["items"], f"{path}[{i}]"))
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in instance:
                errors.append(f"{path} is missing the required field {name!r}")
        extra = schema.get("additionalProperties", True)
        for name, value in instance.items():
            if name in properties:
                errors.extend(schema_errors(value, properties[name], f"{path}.{name}"))
            elif extra is False:
                errors.append(f"{path} has an unexpected field {name!r} (allowed: {sorted(properties)})")
            elif isinstance(extra, dict):
                errors.extend(schema_errors(value, extra, f"{path}.{name}"))
    return errors


def is_valid(instance: Any, schema: dict[str, Any]) -> bool:
    """True when `instance` satisfies `schema` (see `schema_errors` for why not)."""
    return not schema_errors(instance, schema)
