"""Run records: one small JSON file per run, written atomically, found again by the run's key.

Format (``schema`` 1)::

    {"schema": 1, "key": {...what identifies the run...}, "data": {...results...},
     "meta": {"library": version, "written": ISO time, ...}}

The file name is ``<slug>-<hash>.json`` where the hash is over the canonical JSON of ``key``, so the
same run always lands in the same file. Non-finite floats (diverged runs) are stored as ``null``
inside lists of numbers and read back as NaN. A write goes to a temporary file in the same folder
and is renamed into place (``os.replace``), so a run interrupted mid-write leaves either the old
record or none, never half of one; a sweep re-run skips every key that already has a record.

A record that cannot be read (truncated, not JSON, not a schema-1 record, or holding another run's
key) is never fatal: :func:`set_aside` renames it to ``<name>.corrupt`` (kept for a look, never
deleted), logs a warning naming it, and the run counts as not done, so the next sweep recomputes it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

from .. import __version__

SCHEMA = 1
CORRUPT_SUFFIX = ".corrupt"

log = logging.getLogger(__name__)


class RecordError(ValueError):
    """A run record that cannot be used: damaged, foreign, or another run's."""


def _canonical(key: dict) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)


def record_path(root: str | os.PathLike, key: dict) -> Path:
    """Where the record of ``key`` lives under ``root``."""
    digest = hashlib.sha1(_canonical(key).encode()).hexdigest()[:12]
    slug = "-".join(f"{v}" for v in key.values() if isinstance(v, (str, int, float)) and not isinstance(v, bool))
    slug = re.sub(r"[^A-Za-z0-9_.=+-]+", "_", slug)[:60].strip("_") or "run"
    return Path(root) / f"{slug}-{digest}.json"


def _encode(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy / torch scalars and arrays
        return _encode(obj.tolist())
    return obj


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list) and obj and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in obj):
        return [math.nan if v is None else v for v in obj]
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


@dataclass(frozen=True)
class Record:
    key: dict
    data: dict
    meta: dict
    path: Path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync it and rename it onto ``path``.

    Readers see the old file or the new one, never half of one; on an error the temporary file is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path) as fh:
        fh.write(text)


def write_record(root: str | os.PathLike, key: dict, data: dict, meta: dict | None = None) -> Path:
    """Write the record of run ``key`` atomically; returns its path."""
    path = record_path(root, key)
    doc = {
        "schema": SCHEMA,
        "key": _encode(key),
        "data": _encode(data),
        "meta": {"library": __version__, "written": _dt.datetime.now(_dt.timezone.utc).isoformat(), **_encode(meta or {})},
    }
    write_text_atomic(path, json.dumps(doc, allow_nan=False, indent=1))
    return path


def read_record(path: str | os.PathLike, key: dict | None = None) -> Record:
    """Read one record; a damaged or foreign file, or (with ``key``) the record of another run, raises
    :class:`RecordError` (a ValueError) naming it."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RecordError(f"run record {path} cannot be read: {err}") from err
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not {"key", "data"} <= doc.keys() \
            or not isinstance(doc["key"], dict) or not isinstance(doc["data"], dict):
        raise RecordError(f"run record {path} is not a schema-{SCHEMA} record (needs 'schema', 'key', 'data')")
    if key is not None and _canonical(doc["key"]) != _canonical(_encode(key)):
        raise RecordError(f"run record {path} holds the key {doc['key']} instead of {key}")
    return Record(key=doc["key"], data=_decode(doc["data"]), meta=doc.get("meta", {}), path=path)


def set_aside(path: str | os.PathLike, reason: object = "") -> Path | None:
    """Rename an unusable record to ``<name>.corrupt`` (``<name>.<i>.corrupt`` when that exists), never
    deleting it, and log a warning naming both; returns the new path (None if it was already gone)."""
    path = Path(path)
    target, i = path.with_name(path.name + CORRUPT_SUFFIX), 1
    while target.exists():
        target, i = path.with_name(f"{path.name}.{i}{CORRUPT_SUFFIX}"), i + 1
    try:
        os.replace(path, target)
    except FileNotFoundError:  # set aside by another reader meanwhile
        return None
    log.warning("%s; moved aside to %s, and the run will be recomputed", reason or f"run record {path} is unusable",
                target.name)
    return target


def usable_record(root: str | os.PathLike, key: dict) -> Record | None:
    """The record of run ``key`` under ``root``; None when there is none, or when the one there cannot
    be used (it is then set aside, see :func:`set_aside`)."""
    path = record_path(root, key)
    if not path.exists():
        return None
    try:
        return read_record(path, key)
    except RecordError as err:
        set_aside(path, err)
        return None


def has_record(root: str | os.PathLike, key: dict) -> bool:
    """Whether run ``key`` has a usable record under ``root`` (an unusable one is set aside)."""
    return usable_record(root, key) is not None


def load_records(root: str | os.PathLike, **match: Any) -> list[Record]:
    """Every record under ``root`` whose key contains ``match`` (e.g. ``model='2-shortcut'``), sorted by
    path; a record that cannot be read is set aside (see :func:`set_aside`) and left out."""
    return [r for r in _iter(root) if all(r.key.get(k) == v for k, v in match.items())]


def _iter(root: str | os.PathLike) -> Iterator[Record]:
    root = Path(root)
    if not root.exists():
        return
    for path in sorted(root.glob("*.json")):
        try:
            yield read_record(path)
        except RecordError as err:
            set_aside(path, err)
