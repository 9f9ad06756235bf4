"""Runtime settings: the knobs read and changed via ``/_emulator/config`` while the emulator runs.

They start as (and ``POST /_emulator/reset`` restores them to) the values of the start-time
:class:`~bol_emulator.config.EmulatorConfig`; the rest of that configuration is fixed at start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from bol_emulator.config import EmulatorConfig


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# name -> (valid?, what a valid value is, conversion)
CHECKS: dict[str, tuple[Callable[[Any], bool], str, Callable[[Any], Any]]] = {
    "rate_scale": (lambda v: _number(v) and v > 0, "a number > 0", float),
    "retry_after": (lambda v: isinstance(v, bool), "true or false", bool),
    "token_lifetime": (lambda v: _integer(v) and v >= 1, "an integer >= 1", int),
    "code_flow_token_lifetime": (lambda v: _integer(v) and v >= 1, "an integer >= 1", int),
    "credential_rate_per_second": (
        lambda v: v is None or (_number(v) and v > 0),
        "a number > 0 or null",
        lambda v: None if v is None else float(v),
    ),
    "export_pending_polls": (lambda v: _integer(v) and v >= 0, "an integer >= 0", int),
    "export_pending_seconds": (lambda v: _number(v) and v >= 0, "a number >= 0", float),
    "process_status_retention": (lambda v: _number(v) and v > 0, "a number > 0", float),
    "invoice_specification_page_size": (lambda v: _integer(v) and 1 <= v <= 25_000, "an integer from 1 to 25000", int),
}


@dataclass
class RuntimeSettings:
    """Runtime knobs, changeable via ``POST /_emulator/config``."""

    rate_scale: float
    retry_after: bool
    token_lifetime: int
    code_flow_token_lifetime: int
    credential_rate_per_second: float | None
    export_pending_polls: int
    export_pending_seconds: float
    process_status_retention: float
    invoice_specification_page_size: int

    @classmethod
    def of(cls, config: EmulatorConfig) -> RuntimeSettings:
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def update(self, body: dict[str, Any]) -> None:
        """Apply a subset of settings; ValueError (and nothing changed) if one is unknown or invalid."""
        unknown = set(body) - set(CHECKS)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        for key, value in body.items():
            valid, expected, _ = CHECKS[key]
            if not valid(value):
                raise ValueError(f"{key} must be {expected}")
        for key, value in body.items():
            setattr(self, key, CHECKS[key][2](value))
