"""Evidence before mass deletions: the one rule every full list (a snapshot source) follows before it flags
records deleted.

A full list (the offer export, a v11 full sweep, the FBB stock list) names every record an account has, so
what it does not name is flagged deleted. A list cut short (a page without its next cursor, a partial or empty
file) looks exactly like a mass deletion. So a full list whose deletions are out of proportion holds them:
they are not applied, the listed records still land, and the day's snapshot keeps the held records at their
last known state, until a run confirms them (param ``confirm_deletions``, or its older name ``confirm_empty``).

Out of proportion means: the list names none of the live records (an empty list is this extreme case), or it
would flag more than ``[bolsync] mass_deletion_percent`` (default 10) % AND more than
``[bolsync] mass_deletion_count`` (default 20) of them deleted. Smaller deletions apply as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bolsync.runs import config

#: The run param that confirms a held mass deletion.
CONFIRM_PARAM = "confirm_deletions"
#: Older names of :data:`CONFIRM_PARAM`, still accepted.
CONFIRM_ALIASES = ("confirm_empty",)


@dataclass(frozen=True)
class DeletionThreshold:
    """Deletions above both limits (more than ``percent`` % and more than ``count`` of the live records) need
    confirmation."""

    percent: float = config.DEFAULT_MASS_DELETION_PERCENT
    count: int = config.DEFAULT_MASS_DELETION_COUNT

    @classmethod
    def configured(cls) -> DeletionThreshold:
        """The ``[bolsync] mass_deletion_percent`` and ``mass_deletion_count`` settings (BolConfigError if bad)."""
        return cls(config.mass_deletion_percent(), config.mass_deletion_count())


@dataclass(frozen=True)
class FullListEvidence:
    """What a full list says about the records stored live for its account when it was taken.

    ``live``: records live then; ``named``: how many of them the list names; ``missing``: how many it would
    flag deleted (live, not named, and not seen since the list was taken).
    """

    live: int
    named: int
    missing: int

    def out_of_proportion(self, threshold: DeletionThreshold) -> bool:
        """Whether the deletions need confirmation (see the module docstring)."""
        if self.missing <= 0:
            return False
        if self.named == 0:
            return True
        return self.missing * 100 > threshold.percent * self.live and self.missing > threshold.count


@dataclass(frozen=True)
class DeletionCheck:
    """The verdict on one full list: ``held`` when its deletions need a confirmation the run did not give.

    ``what`` names the list (``bol's offer export``), ``records`` what it lists (``offers``) and ``table`` where
    they live, for the messages.
    """

    stream: str
    what: str
    records: str
    table: str
    listed: int
    evidence: FullListEvidence
    threshold: DeletionThreshold = field(default_factory=DeletionThreshold)
    confirmed: bool = False

    @property
    def needs_confirmation(self) -> bool:
        return self.evidence.out_of_proportion(self.threshold)

    @property
    def held(self) -> bool:
        return self.needs_confirmation and not self.confirmed

    @property
    def held_deletions(self) -> int:
        return self.evidence.missing if self.held else 0

    def reason(self) -> str:
        """Why the deletions need confirmation."""
        e, t = self.evidence, self.threshold
        if e.named == 0:
            return f"it names none of the {e.live} live {self.records}"
        return f"that is more than {t.percent:g} % and more than {t.count} of the {e.live} live {self.records}"

    def summary(self, retailer_id: str) -> str:
        """One line: what was held."""
        return (
            f"{self.what} for retailer {retailer_id} listed {self.listed} {self.records}; "
            f"{self.evidence.missing} deletions of {self.evidence.live} live {self.records} are held until confirmed."
        )

    def message(self, retailer_id: str, how_to_confirm: str) -> str:
        """The hold, its consequences and exactly how to confirm it (``how_to_confirm``: see :func:`in_a_run`)."""
        e = self.evidence
        return (
            f"{self.what} for retailer {retailer_id} listed {self.listed} {self.records}; applied as a full list "
            f"it would flag {e.missing} of the {e.live} live {self.records} in {self.table} deleted, and "
            f"{self.reason()}. A list cut short or an empty answer looks exactly like that, so these deletions "
            f"are held: none of them was flagged deleted, the listed {self.records} were loaded, and the day's "
            f"snapshot keeps the held {self.records} at their last known state. If the account really lost them, "
            f"{how_to_confirm} Otherwise nothing needs doing: the next full list that does not show this mass "
            "deletion clears the hold."
        )


def in_a_run(dag_id: str) -> str:
    """How to confirm from Airflow: a new run of ``dag_id`` with the confirming param (UI and CLI)."""
    conf = json.dumps({CONFIRM_PARAM: True})
    return (
        f"run {dag_id} again with the param {CONFIRM_PARAM} = true (UI: Trigger DAG, tick {CONFIRM_PARAM}; CLI: "
        f"airflow dags trigger {dag_id} --conf '{conf}'; the older name {CONFIRM_ALIASES[0]} works too): that run "
        "applies the deletions its own full list shows."
    )


def confirm_params(records: str) -> dict[str, Any]:
    """The DAG params of a stream whose full list can hold deletions: :data:`CONFIRM_PARAM` and its aliases
    (``records``: what the list names, for the description)."""
    from airflow.sdk import Param

    return {
        CONFIRM_PARAM: Param(
            False,
            type="boolean",
            description=f"Apply a mass deletion: without it, a full list that names none of the live {records}, or "
            f"would mark more than [bolsync] mass_deletion_percent % and more than mass_deletion_count of them gone, "
            f"marks none (the deletions are held and alerted).",
        ),
        **{
            alias: Param(False, type="boolean", description=f"The older name of {CONFIRM_PARAM}; either works.")
            for alias in CONFIRM_ALIASES
        },
    }


def confirmed(params: Mapping[str, Any] | None) -> bool:
    """Whether the run's params confirm held deletions (:data:`CONFIRM_PARAM` or an alias set to true)."""
    values = [(params or {}).get(name) for name in (CONFIRM_PARAM, *CONFIRM_ALIASES)]
    return any(value is True or str(value).strip().lower() == "true" for value in values)
