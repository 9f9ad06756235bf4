"""Reading the archive back: the attempts of a DAG, their responses, and a hook that answers from them."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from bolsync.archive.location import MANIFEST_FILE, RESPONSES_FILE, ArchiveLocation
from bolsync.archive.writer import FORMAT
from bolsync.runs.staging import safe_segment
from bolsync.runs.windows import SyncWindow
from bolsync_provider.errors import BolResponseError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from bolsync_provider.transport.client import V10_JSON, BolTransport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchivedAttempt:
    """One archived extract attempt (its folder and manifest)."""

    location: ArchiveLocation
    folder: str
    manifest: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.folder.rstrip("/").rsplit("/", 1)[-1]

    @property
    def complete(self) -> bool:
        return bool(self.manifest.get("complete")) and self.manifest.get("format") == FORMAT

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    @property
    def conn_id(self) -> str:
        return str(self.manifest["conn_id"])

    @property
    def retailer_id(self) -> str:
        return str(self.manifest["retailer_id"])

    @property
    def window(self) -> SyncWindow:
        return SyncWindow(
            datetime.fromisoformat(self.manifest["window_start"]), datetime.fromisoformat(self.manifest["window_end"])
        )

    @property
    def extracted_at(self) -> datetime:
        return datetime.fromisoformat(self.manifest["extracted_at"])

    @property
    def listed_at(self) -> datetime:
        """When the source took the archived list (attempts archived without it: their extract time)."""
        return datetime.fromisoformat(self.manifest.get("listed_at") or self.manifest["extracted_at"])

    def responses(self) -> Iterator[dict[str, Any]]:
        """The archived responses in the order they were received (a cut-off end is logged and skipped)."""
        try:
            with (
                self.location.open_read(self.location.path(self.folder, RESPONSES_FILE)) as raw,
                gzip.open(raw, "rt", encoding="utf-8") as lines,
            ):
                for line in lines:
                    yield json.loads(line)
        except FileNotFoundError:
            return
        except (EOFError, zlib.error, ValueError) as error:
            log.warning("The archived responses of %s end early (%s); the rest is skipped.", self.folder, error)


def archived_attempts(location: ArchiveLocation, dag_id: str, conn_id: str | None = None) -> list[ArchivedAttempt]:
    """Every attempt of ``dag_id`` (of ``conn_id`` only, when given) with a readable manifest, oldest first."""
    found = []
    for run in location.folders(location.path(safe_segment(dag_id, "DAG id"))):
        for connection in location.folders(run):
            if conn_id is not None and connection.rstrip("/").rsplit("/", 1)[-1] != conn_id:
                continue
            for folder in location.folders(connection):
                manifest = location.read_json(location.path(folder, MANIFEST_FILE))
                if manifest is not None:
                    found.append(ArchivedAttempt(location, folder, manifest))
    return sorted(found, key=lambda attempt: attempt.name)


def attempts_near(
    location: ArchiveLocation, retailer_id: str, when: datetime, within: timedelta
) -> list[ArchivedAttempt]:
    """The attempts of any DAG and connection that extracted ``retailer_id``'s data within ``within`` of
    ``when``, e.g. a concurrent run that fetched order details for both."""
    found = []
    for dag in location.folders(location.root):
        for run in location.folders(dag):
            for connection in location.folders(run):
                for folder in location.folders(connection):
                    manifest = location.read_json(location.path(folder, MANIFEST_FILE)) or {}
                    try:
                        at = datetime.fromisoformat(str(manifest.get("extracted_at") or manifest.get("created_at")))
                    except ValueError:
                        continue
                    if manifest.get("retailer_id") == retailer_id and abs(at - when) <= within:
                        found.append(ArchivedAttempt(location, folder, manifest))
    return found


class ArchiveTransport(BolTransport):
    """Answers ``get_json`` with the archived bodies of the same path and parameters, in their order (the last
    one again once they are used up); sends nothing."""

    def __init__(self, responses: Iterable[Mapping[str, Any]]) -> None:
        self._answers: dict[str, deque[Any]] = {}
        self._last: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.add(responses)

    def add(self, responses: Iterable[Mapping[str, Any]]) -> None:
        """More archived responses to answer with (after those of the same request already held)."""
        with self._lock:
            for response in responses:
                key = _key(response["path"], response.get("params"))
                self._answers.setdefault(key, deque()).append(response["body"])

    def get_json(
        self, path: str, *, endpoint: str, params: Mapping[str, Any] | None = None, accept: str = V10_JSON
    ) -> Any:
        key = _key(path, params)
        with self._lock:
            queue = self._answers.get(key)
            if queue:
                self._last[key] = queue.popleft()
            if key in self._last:
                return self._last[key]
        raise BolResponseError(f"the archive holds no response to {endpoint} {path} {dict(params or {})}.")

    def request(self, method: str, path: str, *, endpoint: str, **_: Any) -> requests.Response:
        raise BolResponseError(f"a replay answers from the archive only; it does not send {method} {path}.")


class ArchivedHook(BolRetailerHook):
    """A ``BolRetailerHook`` whose responses come from the archive: the extract code runs unchanged, no request
    leaves the machine."""

    def __init__(self, conn_id: str, retailer_id: str, responses: Iterable[Mapping[str, Any]]) -> None:
        super().__init__(conn_id)
        self._archived_retailer_id = retailer_id
        self.archive = ArchiveTransport(responses)
        self.__dict__["transport"] = self.archive

    def get_retailer_id(self) -> str:
        return self._archived_retailer_id


def _key(path: str, params: Mapping[str, Any] | None) -> str:
    return json.dumps([path, dict(params or {})], sort_keys=True, default=str)
