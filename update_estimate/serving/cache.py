"""The model cache: manifest, forecast records, pickles, atomic replacement, lock and trust checks.

Stdlib only, because `estimate` reads it on its warm path. Layout:

    CACHE/current -> gen-...        symlink, swapped atomically by os.replace
    CACHE/gen-.../manifest.json     format and library versions, fingerprint, per-series summary
    CACHE/gen-.../records.json      the index: each host's records file and latest success, and
                                    the plugins each host's history holds
    CACHE/gen-.../hosts/*.json      one host's forecast records: what estimate needs, no model
                                    required (a fleet's estimate reads only the hosts it answers)
    CACHE/gen-.../models/*.pkl      joblib pickles, each listed with its sha256 in the manifest
    CACHE/train.lock                flock held by a running train

A reader resolves `current` once and reads only inside that generation, so it sees the old or the
new cache, never a mix. The previous generation is kept for readers still inside it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import json
import os
import shutil
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from update_estimate.errors import TrainLocked, UsageError
from update_estimate.record import (
    FORMAT_VERSION,
    RecordError,
    Records,
    SeriesRecord,
    from_json,
    series_to_json,
    to_json,
)

CURRENT = "current"
MANIFEST = "manifest.json"
RECORDS = "records.json"
HOSTS = "hosts"
LOCK = "train.lock"
PART = ".part"  # a host's records written as they come, joined into its file at publish


class CacheUnusable(Exception):
    """The cache cannot be read as this version writes it; callers fall back, never crash."""


@dataclass(frozen=True, eq=False)
class Generation:
    """One trained generation. Its index (`records.json`) is read on opening; the manifest,
    which lists every series and pickle, only when a model or the train asks for it."""

    path: Path
    index: dict[str, Any]

    @functools.cached_property
    def manifest(self) -> dict[str, Any]:
        manifest = _read_json(self.path / MANIFEST)
        if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
            raise CacheUnusable(f"{self.path / MANIFEST} is not a manifest of this format")
        return manifest

    def hosts(self) -> dict[str, str]:
        """Each host with records, with its latest successful run."""
        try:
            return {str(h): str(e["last_success"]) for h, e in self.index["hosts"].items()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise CacheUnusable(f"{self.path / RECORDS}: not a records index ({exc!r})") from None

    def records(self, hosts: Iterable[str] | None = None) -> Records:
        """These hosts' records (default: every host's), each host's file read only if asked."""
        index = self.index
        try:
            files = {str(h): str(e["file"]) for h, e in index["hosts"].items()}
            doc: dict[str, Any] = {
                "format_version": FORMAT_VERSION,
                "series": {},
                "history_plugins": index["history_plugins"],
                "run_days": {},
                "stretch": {},
            }
            for host in files if hosts is None else [h for h in hosts if h in files]:
                part = _read_json(self.path / HOSTS / Path(files[host]).name)
                doc["series"].update(part["series"])
                doc["run_days"][host] = part["run_days"]
                if part["stretch"]:
                    doc["stretch"][host] = part["stretch"]
            return from_json(doc)
        except (RecordError, KeyError, TypeError, AttributeError) as exc:
            raise CacheUnusable(f"{self.path}: records unreadable ({exc})") from None


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise CacheUnusable(f"{path} is missing") from None
    except (OSError, ValueError) as exc:
        raise CacheUnusable(f"{path} is unreadable or corrupt ({type(exc).__name__})") from None


def current(cache_dir: Path) -> Generation | None:
    """The generation `current` points at, or None when there is no cache at all."""
    link = cache_dir / CURRENT
    try:
        target = os.readlink(link)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CacheUnusable(f"{link} is not a cache link ({exc.strerror})") from None
    path = cache_dir / target
    index = _read_json(path / RECORDS)
    version = index.get("format_version") if isinstance(index, dict) else None
    if version != FORMAT_VERSION:
        raise CacheUnusable(
            f"cache format {version!r} is not {FORMAT_VERSION}, written by another version"
        )
    return Generation(path, index)


@contextlib.contextmanager
def lock(cache_dir: Path, timeout: float = 10.0) -> Iterator[None]:
    """Hold the train lock; wait up to `timeout` seconds for another train, then give up. A
    cache folder that cannot be one (a file, a place not writable) is the caller's to fix."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = open(cache_dir / LOCK, "a+")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        why = "a file, not a folder" if cache_dir.is_file() else exc.strerror
        raise UsageError(f"cannot keep models in --cache-dir {cache_dir}: {why}") from None
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise TrainLocked(
                        f"another train holds {cache_dir / LOCK}; waited {timeout:.0f} s"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        handle.close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Staging:
    """A generation being written beside the current one: each series' pickles and record as
    it finishes (so a fleet's models and records are never all held in memory), then each
    host's records file, the index, the manifest and the swap."""

    def __init__(self, cache_dir: Path) -> None:
        cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.cache_dir = cache_dir
        stamp = time.strftime("%Y%m%dT%H%M%S")
        self.name = f"gen-{stamp}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        self.path = cache_dir / f".{self.name}.tmp"
        (self.path / "models").mkdir(parents=True, mode=0o700)
        (self.path / HOSTS).mkdir(mode=0o700)
        self.files: dict[str, str] = {}
        self.latest: dict[str, str] = {}  # each host's latest successful run

    def add(self, pickles: dict[str, bytes], records: dict[str, SeriesRecord]) -> None:
        for file_name, data in pickles.items():
            (self.path / "models" / file_name).write_bytes(data)
            self.files[file_name] = sha256(data)
        for key, record in records.items():
            host = record.host
            self.latest[host] = max(self.latest.get(host, ""), record.last_success or "")
            with open(self._host_file(host, PART), "a", encoding="utf-8") as handle:
                handle.write(f"{_dumps(key)}:{_dumps(series_to_json(record))}\n")

    def publish(self, manifest: dict[str, Any], records: Records) -> Path:
        """Write records (the series added, and `records`' own) and manifest, then swap
        `current` to this generation in one rename. Days and stretches of a host without
        series are left out: nothing is answered for it."""
        self.add({}, records.series)
        self._write_records(records, manifest.get("history", {}))
        manifest = {**manifest, "format_version": FORMAT_VERSION, "pickles": self.files}
        with open(self.path / MANIFEST, "w", encoding="utf-8") as handle:
            handle.write(_dumps(manifest))
            handle.flush()
            os.fsync(handle.fileno())
        final = self.cache_dir / self.name
        os.rename(self.path, final)
        link = self.cache_dir / f".{CURRENT}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        os.symlink(self.name, link)
        current_link = self.cache_dir / CURRENT
        previous = os.readlink(current_link) if current_link.is_symlink() else None
        os.replace(link, current_link)
        _prune(self.cache_dir, keep={self.name, previous})
        return final

    def _host_file(self, host: str, suffix: str) -> Path:
        """A host's file, named by a hash: host names are free text."""
        return self.path / HOSTS / f"{sha256(host.encode())[:16]}{suffix}"

    def _write_records(self, records: Records, history: dict[str, Any]) -> None:
        """Each host's file, its series streamed from its part file, then the index."""
        whole = to_json(records._replace(series={}))
        index: dict[str, Any] = {}
        for host, latest in sorted(self.latest.items()):
            part, final = self._host_file(host, PART), self._host_file(host, ".json")
            days, stretch = whole["run_days"].get(host, {}), whole["stretch"].get(host, {})
            with open(final, "w", encoding="utf-8") as out, open(part, encoding="utf-8") as lines:
                out.write('{"series":{')
                for i, line in enumerate(lines):
                    out.write(("," if i else "") + line.rstrip("\n"))
                out.write(f'}},"run_days":{_dumps(days)},"stretch":{_dumps(stretch)}}}')
                out.flush()
                os.fsync(out.fileno())
            part.unlink()
            index[host] = {"file": f"{HOSTS}/{final.name}", "last_success": latest}
        doc = {k: whole[k] for k in ("format_version", "history_plugins")}
        doc |= {"history": history, "hosts": index}
        with open(self.path / RECORDS, "w", encoding="utf-8") as out:
            out.write(_dumps(doc))
            out.flush()
            os.fsync(out.fileno())


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), allow_nan=False)


@contextlib.contextmanager
def staging(cache_dir: Path) -> Iterator[Staging]:
    """A new generation; if the block fails, its half-written files are removed."""
    stage = Staging(cache_dir)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage.path, ignore_errors=True)
        raise


def _prune(cache_dir: Path, keep: set[str | None]) -> None:
    for entry in cache_dir.iterdir():
        if entry.name.startswith(("gen-", ".gen-")) and entry.name not in keep:
            if entry.name.startswith(".") and time.time() - entry.stat().st_mtime < 3600:
                continue  # another train may still be writing it
            shutil.rmtree(entry, ignore_errors=True)


def untrusted_reason(path: Path) -> str | None:
    """Why pickles under `path` must not be loaded, or None when they may be."""
    uid = os.getuid()
    for folder in (path.parent, path):
        try:
            info = folder.stat()
        except OSError as exc:
            return f"cannot stat {folder}: {exc.strerror}"
        if info.st_uid != uid:
            return f"{folder} is owned by uid {info.st_uid}, not {uid}"
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"{folder} is writable by group or others"
    return None
