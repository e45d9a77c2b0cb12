"""Task metadata from the edges: an ``aegis`` body object, ``X-Aegis-*`` headers, kwargs.

Unknown values are a 400 that names the field and lists the allowed values. When
both the body and a header give a field, the body wins -- except ``data_class``,
where the more sensitive of the two wins (a class is never lowered).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aegis.errors import InvalidRequest
from aegis.privacy.classes import DataClass
from aegis.routing.decision import COMPLEXITY, QUALITY, STRATEGIES, TASK_TYPES, Task

HEADERS = {
    "x-aegis-data-class": "data_class",
    "x-aegis-quality": "quality",
    "x-aegis-complexity": "complexity",
    "x-aegis-task-type": "task_type",
    "x-aegis-strategy": "strategy",
    "x-aegis-workspace": "workspace",
}
_CHOICES = {"task_type": TASK_TYPES, "quality": QUALITY, "complexity": COMPLEXITY,
            "strategy": STRATEGIES}
FIELDS = ("task_type", "data_class", "quality", "complexity", "batch_size", "strategy",
          "workspace", "tags")


# Most requests declare nothing: one shared (frozen) Task for them, not one per request.
_UNDECLARED = Task()


def task_from_http(body: Any, headers: Mapping[str, str]) -> Task:
    """``body`` is the request's top-level ``aegis`` object (or None)."""
    values: dict[str, Any] = {}
    for header, name in HEADERS.items():
        if header in headers:
            values[name] = _field(name, headers[header], f"header {header}")
    if body is None and not values:
        return _UNDECLARED
    header_class = values.get("data_class")
    if body is not None:
        if not isinstance(body, Mapping):
            raise InvalidRequest("aegis: must be an object", param="aegis")
        for key, raw in body.items():
            if key not in FIELDS:
                raise InvalidRequest(
                    f"aegis.{key}: unknown field (allowed: {', '.join(FIELDS)})",
                    param=f"aegis.{key}")
            values[key] = _field(key, raw, f"aegis.{key}")
    if header_class is not None and values.get("data_class") is not None:
        values["data_class"] = max(header_class, values["data_class"])
    return Task(**values)


def task_from_kwargs(**kwargs: Any) -> Task:
    values = {k: _field(k, v, k) for k, v in kwargs.items() if v is not None}
    return Task(**values)


def _field(name: str, raw: Any, where: str) -> Any:
    if name == "data_class":
        try:
            return DataClass.parse(raw)
        except ValueError:
            allowed = ", ".join(d.value for d in DataClass)
            raise InvalidRequest(f"{where}: unknown value {raw!r} (allowed: {allowed})",
                                 param=where) from None
    if name == "batch_size":
        try:
            size = int(raw)
        except (TypeError, ValueError):
            raise InvalidRequest(f"{where}: must be a positive integer", param=where) from None
        if size < 1 or isinstance(raw, bool):
            raise InvalidRequest(f"{where}: must be a positive integer", param=where)
        return size
    if name == "tags":
        if isinstance(raw, str):
            return tuple(t.strip() for t in raw.split(",") if t.strip())
        if isinstance(raw, list | tuple) and all(isinstance(t, str) for t in raw):
            return tuple(raw)
        raise InvalidRequest(f"{where}: must be a list of strings", param=where)
    if name == "workspace":
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidRequest(f"{where}: must be a non-empty string", param=where)
        return raw.strip()
    choices = _CHOICES.get(name)
    if choices is None:
        raise InvalidRequest(f"{where}: unknown field (allowed: {', '.join(FIELDS)})",
                             param=where)
    value = str(raw).strip().lower()
    if value not in choices:
        raise InvalidRequest(f"{where}: unknown value {raw!r} (allowed: {', '.join(choices)})",
                             param=where)
    return value
