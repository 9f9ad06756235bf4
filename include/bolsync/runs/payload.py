"""What travels between tasks: small dataclasses, sent through XCom as plain JSON objects."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, Self


class Payload:
    """Mixin for a dataclass that a task returns and the next task receives (no paths to secrets, no rows)."""

    def to_xcom(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{key: value for key, value in data.items() if key in names})
