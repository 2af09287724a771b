"""The registry of loaded personas: last good version per id, hot reload on file changes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import watchfiles

from situations.errors import PersonaError, PersonaLoadError, PersonaNotFound
from situations.loader import (
    PERSONA_SUFFIXES,
    duplicate_id_error,
    parse_profile,
    persona_files,
    read_persona,
)
from situations.models import AgentProfile
from situations.renderer import TemplateRenderer

__all__ = ["PersonaRegistry", "ReloadReport"]

log = logging.getLogger(__name__)

ReloadCallback = Callable[["ReloadReport"], Awaitable[None] | None]

_DEBOUNCE_MS = 400  # the longest a burst of file events is grouped before a reload
_STEP_MS = 50  # a reload starts this long after the last event of a burst
_TIMEOUT_MS = 1000  # how often the watcher wakes up without events (readiness, stop checks)


@dataclass(frozen=True)
class ReloadReport:
    """What one reload changed; ``errors`` are all the problems present after it."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[PersonaError] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True if a persona was added, updated or removed."""
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class _FileResult:
    digest: str
    profile: AgentProfile | None
    errors: tuple[PersonaError, ...]


@dataclass(frozen=True)
class _Scan:
    files: dict[Path, _FileResult]
    listing_error: PersonaError | None = None


class PersonaRegistry:
    """Holds the last good profile per persona id, loaded from one directory.

    ``renderer`` test-renders template situations as their files load; without one, each
    load uses a temporary renderer.
    """

    def __init__(self, directory: Path, renderer: TemplateRenderer | None = None) -> None:
        self.directory = directory
        self._renderer = renderer
        self._profiles: dict[str, AgentProfile] = {}
        self._files: dict[Path, _FileResult] = {}
        self._errors: list[PersonaError] = []
        self._generation = 0
        self._watching = False
        self._lock = asyncio.Lock()

    @property
    def generation(self) -> int:
        """Incremented whenever a reload changes the personas or the errors."""
        return self._generation

    @property
    def errors(self) -> list[PersonaError]:
        """The problems found by the last reload, by file and line."""
        return list(self._errors)

    @property
    def is_watching(self) -> bool:
        """True while ``watch()`` is running and its file watcher is active."""
        return self._watching

    def get(self, persona_id: str) -> AgentProfile:
        """The persona with this id; raises PersonaNotFound listing the available ids."""
        profile = self._profiles.get(persona_id)
        if profile is None:
            raise PersonaNotFound(persona_id, list(self._profiles))
        return profile

    def maybe_get(self, persona_id: str) -> AgentProfile | None:
        """The persona with this id, or None."""
        return self._profiles.get(persona_id)

    def all(self) -> list[AgentProfile]:
        """Every loaded persona, sorted by id."""
        return [self._profiles[persona_id] for persona_id in sorted(self._profiles)]

    async def load(self) -> ReloadReport:
        """Re-read the directory (in a thread) and apply what changed.

        A file that became invalid keeps its last good version; a removed file removes its
        persona; unchanged files (same content hash) are not parsed again.
        """
        async with self._lock:
            scan = await asyncio.to_thread(_scan, self.directory, dict(self._files), self._renderer)
            return self._apply(scan)

    def _apply(self, scan: _Scan) -> ReloadReport:
        if scan.listing_error is not None:  # keep everything until the directory is back
            profiles, errors = dict(self._profiles), [scan.listing_error]
            files = self._files
        else:
            profiles, errors = self._merge(scan.files)
            files = scan.files
        old = self._profiles
        report = ReloadReport(
            added=sorted(profiles.keys() - old.keys()),
            updated=sorted(
                pid for pid in profiles.keys() & old.keys() if _differ(profiles[pid], old[pid])
            ),
            removed=sorted(old.keys() - profiles.keys()),
            errors=errors,
        )
        self._log(report, profiles)
        if report.changed or errors != self._errors:
            self._generation += 1
        self._profiles, self._files, self._errors = profiles, files, errors
        return report

    def _merge(
        self, files: Mapping[Path, _FileResult]
    ) -> tuple[dict[str, AgentProfile], list[PersonaError]]:
        profiles: dict[str, AgentProfile] = {}
        errors: list[PersonaError] = []
        for path, result in sorted(files.items()):
            if result.profile is None:
                continue
            first = profiles.get(result.profile.id)
            if first is None:
                profiles[result.profile.id] = result.profile
            else:
                errors.append(duplicate_id_error(path, first.source))
        for path, result in sorted(files.items()):
            errors.extend(result.errors)
            last_good = self._profiles.get(path.stem)
            keep = result.profile is None and path.stem not in profiles
            if keep and last_good is not None and last_good.source == path:
                profiles[path.stem] = last_good
        return profiles, errors

    def _log(self, report: ReloadReport, profiles: Mapping[str, AgentProfile]) -> None:
        for persona_id in report.added:
            profile = profiles[persona_id]
            log.info("persona %r loaded from %s (%s)", persona_id, profile.source, profile.version)
        for persona_id in report.updated:
            profile = profiles[persona_id]
            log.info(
                "persona %r reloaded from %s (%s)", persona_id, profile.source, profile.version
            )
        for persona_id in report.removed:
            log.info("persona %r removed: its file is gone", persona_id)
        known = set(self._errors)
        new_errors = [error for error in report.errors if error not in known]
        for error in new_errors:
            log.warning("%s", error)
        for path in dict.fromkeys(error.path for error in new_errors):
            kept = profiles.get(path.stem)
            if kept is not None and kept.source == path:
                log.warning(
                    "persona %r: keeping version %s until %s is fixed", kept.id, kept.version, path
                )

    async def watch(
        self,
        stop: asyncio.Event | None = None,
        on_reload: ReloadCallback | None = None,
    ) -> None:
        """Reload whenever a persona file changes, until ``stop`` is set (or cancelled).

        ``on_reload`` is called with the report of every reload that changed something.
        """
        await self._reload(on_reload)
        try:
            async for changes in watchfiles.awatch(
                self.directory,
                watch_filter=_is_persona_file,
                stop_event=stop,
                debounce=_DEBOUNCE_MS,
                step=_STEP_MS,
                rust_timeout=_TIMEOUT_MS,
                yield_on_timeout=True,
                recursive=False,
            ):
                if not self._watching:  # the watcher runs: catch edits made while it started
                    self._watching = True
                    await self._reload(on_reload)
                elif changes:
                    await self._reload(on_reload)
        finally:
            self._watching = False

    async def _reload(self, on_reload: ReloadCallback | None) -> None:
        generation = self._generation
        try:
            report = await self.load()
            if on_reload is not None and self._generation != generation:
                result = on_reload(report)
                if inspect.isawaitable(result):
                    await result
        except Exception:  # keep watching: the next edit may fix it
            log.exception("persona reload in %s failed", self.directory)


def _differ(new: AgentProfile, old: AgentProfile) -> bool:
    return new.version != old.version or new.source != old.source


def _is_persona_file(change: watchfiles.Change, path: str) -> bool:
    name = Path(path).name
    return Path(name).suffix in PERSONA_SUFFIXES and not name.startswith(".")


def _scan(
    directory: Path, known: Mapping[Path, _FileResult], renderer: TemplateRenderer | None
) -> _Scan:
    """Read the directory; files whose bytes did not change reuse their previous result."""
    try:
        paths = persona_files(directory)
    except OSError as exc:
        reason = f"cannot read the persona directory: {exc.strerror or exc}"
        return _Scan({}, PersonaError(directory, None, None, reason))
    files: dict[Path, _FileResult] = {}
    with contextlib.ExitStack() as stack:
        if renderer is None:
            renderer = stack.enter_context(TemplateRenderer())
        for path in paths:
            result = _scan_file(path, known.get(path), renderer)
            if result is not None:
                files[path] = result
    return _Scan(files)


def _scan_file(
    path: Path, previous: _FileResult | None, renderer: TemplateRenderer
) -> _FileResult | None:
    """The result for one file (its previous one if its bytes did not change), None if gone."""
    try:
        data = read_persona(path)
    except FileNotFoundError:  # removed since the listing
        return None
    except OSError as exc:
        error = PersonaError(path, None, None, f"cannot read: {exc.strerror or exc}")
        return _FileResult("", None, (error,))
    except PersonaLoadError as exc:
        return _FileResult("", None, tuple(exc.errors))
    digest = hashlib.sha256(data).hexdigest()
    if previous is not None and previous.digest == digest:
        return previous
    try:
        return _FileResult(digest, parse_profile(data, path, renderer), ())
    except PersonaLoadError as exc:
        return _FileResult(digest, None, tuple(exc.errors))
