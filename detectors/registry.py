"""Detector kinds by name, so configuration, metrics and the contract tests share one list.

Each detector module defines a pydantic ``Params`` model (the rule's validated options,
``extra="forbid"`` so typos surface) whose ``build()`` returns a fresh detector, and
registers it here with :func:`register`.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from detectors.base import Params

_KINDS: dict[str, type[BaseModel]] = {}


def register(kind: str):  # type: ignore[no-untyped-def]
    """Class decorator: ``@register("threshold")`` on a detector's ``Params`` model."""

    def add(params_cls: type[BaseModel]) -> type[BaseModel]:
        _KINDS[kind] = params_cls
        return params_cls

    return add


def kinds() -> list[str]:
    _load_builtin()
    return sorted(_KINDS)


def params_for(kind: str, options: dict[str, Any]) -> Params:
    """Validated parameters for ``kind``; ``ValueError`` names the valid kinds."""
    _load_builtin()
    try:
        params_cls = _KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown detector kind {kind!r}; known kinds: {', '.join(sorted(_KINDS))}") from None
    return params_cls.model_validate(options)  # type: ignore[return-value]


def _load_builtin() -> None:
    # Imported lazily: each module registers itself on import.
    from detectors import anomaly, exponential_growth, rate_surge, sustained_drop, threshold  # noqa: F401
