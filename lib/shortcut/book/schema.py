"""What a chapter's parameters may be, checked before anything runs.

``book/profiles/schema.yaml`` has one section per chapter, mirroring the profiles' sections (and a
``common:`` one), with an entry per parameter: its type and the values allowed (the file's header
lists the rules). :func:`check` tests one chapter's resolved values — the profile's, with the
overrides — against it, every value at once: it raises :class:`ParameterError` (a ValueError) naming
the chapter, each bad parameter, its value and what is allowed, and returns a warning for each value
that is set but ignored (``cifar10.data_dir`` with the stand-in data set). ``configure()`` calls it in
every chapter, ``python -m shortcut.book.build`` for every chapter it is asked to run, before any
kernel starts (exit status 2).
"""

from __future__ import annotations

import math
import numbers
import os
import re
from pathlib import Path
from typing import Any, Mapping

from .profiles import COMMON_PARAMETERS, SCHEMA_FILE, chapter_defaults, find_root, profiles_dir, read_yaml

TYPES = ("int", "float", "str", "bool", "path", "device", "list")
ITEM_TYPES = ("int", "float", "str")
RULES = {"type", "of", "min", "max", "above", "choices", "pattern", "pattern_help", "nullable", "null_means", "empty",
         "one_of", "multiple_of", "multiple_of_shortcuts", "at_least", "ignored_unless", "hessian_width", "doc"}
DEVICES = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|mps")
_SHORTCUT = re.compile(r"([1-9][0-9]*)-shortcut")
# Parameters configure() itself handles (the profile's name and the results folder): not in the schema.
_BUILD_PARAMETERS = tuple(p for p in COMMON_PARAMETERS if p != "device")


#: Set (to anything but "" or "0") by ``python -m shortcut.book.build --force-size``: a depth whose
#: exact Hessian would not fit in memory is let through (the chapter's kernels inherit it).
FORCE_SIZE_ENV = "SHORTCUT_FORCE_SIZE"


def machine_memory() -> int:
    """This machine's physical memory in bytes (0 if it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def hessian_bytes(depth: int, width: int) -> int:
    """Memory of an exact Hessian of a width-``width``, depth-``depth`` net and its eigendecomposition:
    P = depth·width² parameters, 2·P² float64."""
    return 2 * (depth * width * width) ** 2 * 8


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"


def _size_problem(depth: int, width: int) -> str | None:
    """Why the exact Hessian at ``depth`` cannot fit in this machine's memory, or None."""
    need, have = hessian_bytes(depth, width), machine_memory()
    if not have or need <= have or os.environ.get(FORCE_SIZE_ENV, "") not in ("", "0"):
        return None
    return (f"too large for this machine: its exact Hessian has P = {depth * width * width:,} parameters and needs "
            f"about {_bytes(need)} (2·P² float64), this machine has {_bytes(have)}; "
            "python -m shortcut.book.build --force-size to try anyway")


class ParameterError(ValueError):
    """One or more parameter values are not allowed (the message has a line per value)."""


class IgnoredParameterWarning(UserWarning):
    """A parameter is set to a value that the chapter will not use."""


# ---------------------------------------------------------------------------------------------------
# the schema file
# ---------------------------------------------------------------------------------------------------


def schema_path(root: Path | None = None) -> Path:
    return profiles_dir(root) / SCHEMA_FILE


def load_schema(root: Path | None = None) -> dict[str, dict[str, dict]]:
    """``{section: {parameter: entry}}`` from ``book/profiles/schema.yaml``, every entry checked."""
    path = schema_path(root or find_root())
    data = read_yaml(path, "the parameter schema")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the schema must be a mapping with one section per chapter")
    schema: dict[str, dict[str, dict]] = {}
    for section, entries in data.items():
        entries = {} if entries is None else entries
        if not isinstance(entries, dict):
            raise ValueError(f"{path}: section {section!r} must be a mapping of parameter: entry")
        for name, entry in entries.items():
            _check_entry(entry, f"{path}: {section}.{name}")
        schema[str(section)] = dict(entries)
    return schema


def _check_entry(entry: Any, where: str) -> None:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: an entry must be a mapping such as {{type: int, min: 1}}")
    unknown = set(entry) - RULES
    if unknown:
        raise ValueError(f"{where}: unknown rule(s) {', '.join(sorted(map(str, unknown)))}; the rules: {', '.join(sorted(RULES))}")
    if "one_of" in entry:
        if not isinstance(entry["one_of"], list) or not entry["one_of"]:
            raise ValueError(f"{where}: one_of must be a non-empty list of entries")
        for i, alt in enumerate(entry["one_of"]):
            _check_entry(alt, f"{where}.one_of[{i}]")
        return
    if entry.get("type") not in TYPES:
        raise ValueError(f"{where}: type must be one of {', '.join(TYPES)}, not {entry.get('type')!r}")
    if entry["type"] == "list" and entry.get("of") not in ITEM_TYPES:
        raise ValueError(f"{where}: a list needs 'of', one of {', '.join(ITEM_TYPES)}")


def chapter_entries(schema: Mapping[str, dict], chapter: str) -> dict[str, dict]:
    """The entries of ``chapter``: the ``common:`` ones, with the chapter's own winning."""
    if chapter not in schema:
        raise ValueError(
            f"chapter {chapter!r} has no section in the parameter schema {SCHEMA_FILE} (book/profiles/); "
            f"add a '{chapter}:' section with an entry per parameter"
        )
    return {**schema.get("common", {}), **schema[chapter]}


# ---------------------------------------------------------------------------------------------------
# checking values
# ---------------------------------------------------------------------------------------------------


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


_RULE_WORDS = (("min", ">= {}"), ("above", "> {}"), ("max", "<= {}"), ("multiple_of", "a multiple of {}"),
               ("multiple_of_shortcuts", "a multiple of n for every n-shortcut in {}"), ("at_least", ">= {}"),
               ("hessian_width", "small enough for the exact Hessian of its width-{} net to fit in memory"))


def _allowed(entry: dict, item: bool = False) -> str:
    """What ``entry`` allows, in words."""
    if "one_of" in entry:
        return " or ".join(_allowed(alt) for alt in entry["one_of"])
    kind = entry["of"] if entry["type"] == "list" and not item else entry["type"]
    words = {"int": "an integer", "float": "a number", "str": "a non-empty string", "bool": "true or false",
             "path": "a folder path", "device": f"a device ({DEVICES})"}[kind]
    rules = [text.format(_num(entry[rule])) for rule, text in _RULE_WORDS if rule in entry]
    if "choices" in entry:
        words = "one of " + ", ".join(repr(c) for c in entry["choices"])
        if "pattern" in entry:
            words += f" or {entry.get('pattern_help') or 'a match of ' + repr(entry['pattern'])}"
    elif "pattern" in entry:
        words = entry.get("pattern_help") or f"a string matching {entry['pattern']!r}"
    text = words + (" " + ", ".join(rules) if rules else "")
    if entry["type"] == "list" and not item:
        text = f"{'a' if entry.get('empty') else 'a non-empty'} list of distinct items, each {text}"
    if entry.get("nullable") and not item:
        text += f", or null ({entry['null_means']})" if entry.get("null_means") else ", or null"
    return text


def _type_problem(kind: str, value: Any) -> str | None:
    """Why ``value`` is not of ``kind``, or None."""
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return "not an integer"
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return "not a number"
        if not math.isfinite(value):
            return "not a finite number"
    elif kind == "str":
        if not isinstance(value, str):
            return "not a string"
        if not value.strip():
            return "empty"
    elif kind == "bool":
        if not isinstance(value, bool):
            return "not true or false"
    elif kind == "path":
        if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
            return "not a path"
    elif kind == "device":
        return _device_problem(value)
    return None


def _device_problem(value: Any) -> str | None:
    if type(value).__name__ == "device" and type(value).__module__.startswith("torch"):
        return None  # already a torch.device
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        return "not a device"
    if value.startswith(("cuda", "mps")):
        import torch

        if value.startswith("cuda") and not torch.cuda.is_available():
            return "CUDA is not available on this machine"
        if value.startswith("cuda:") and int(value[5:]) >= torch.cuda.device_count():
            return f"this machine has {torch.cuda.device_count()} CUDA device(s)"
        if value == "mps" and not torch.backends.mps.is_available():
            return "MPS is not available on this machine"
    return None


def _shortcut_ns(models: Any) -> set[int]:
    if not isinstance(models, (list, tuple)):
        return set()
    return {int(m.group(1)) for m in (_SHORTCUT.fullmatch(x) for x in models if isinstance(x, str)) if m}


def _scalar_problem(entry: dict, kind: str, value: Any, values: Mapping[str, Any]) -> str | None:
    """Why one value (a parameter's, or one item of a list) breaks ``entry``'s rules, or None."""
    why = _type_problem(kind, value)
    if why:
        return why
    if "choices" in entry and value not in entry["choices"]:
        if not ("pattern" in entry and isinstance(value, str) and re.fullmatch(entry["pattern"], value)):
            return "not one of the choices"
    elif "pattern" in entry and "choices" not in entry and not re.fullmatch(entry["pattern"], str(value)):
        return "does not match"
    if "min" in entry and value < entry["min"]:
        return f"below {_num(entry['min'])}"
    if "above" in entry and value <= entry["above"]:
        return f"not above {_num(entry['above'])}"
    if "max" in entry and value > entry["max"]:
        return f"above {_num(entry['max'])}"
    if "multiple_of" in entry and value % entry["multiple_of"]:
        return f"not a multiple of {entry['multiple_of']}"
    if "multiple_of_shortcuts" in entry:
        other = entry["multiple_of_shortcuts"]
        bad = sorted(n for n in _shortcut_ns(values.get(other)) if value % n)
        if bad:
            return f"not a multiple of {bad[0]}, which {other} needs for its {bad[0]}-shortcut net"
    if "at_least" in entry:
        other = values.get(entry["at_least"])
        if isinstance(other, numbers.Real) and not isinstance(other, bool) and value < other:
            return f"below {entry['at_least']}={_num(other)}"
    if "hessian_width" in entry:
        return _size_problem(value, entry["hessian_width"])
    return None


def _problem(entry: dict, value: Any, values: Mapping[str, Any]) -> str | None:
    """Why ``value`` breaks ``entry``, or None when it is allowed."""
    if "one_of" in entry:
        whys = [_problem(alt, value, values) for alt in entry["one_of"]]
        return None if any(w is None for w in whys) else "fits none of the forms"
    if value is None:
        return None if entry.get("nullable") else "null is not allowed"
    if entry["type"] != "list":
        return _scalar_problem(entry, entry["type"], value, values)
    if not isinstance(value, (list, tuple)):
        return f"a {type(value).__name__}, not a list"
    if not value and not entry.get("empty"):
        return "an empty list"
    for item in value:
        why = _scalar_problem(entry, entry["of"], item, values)
        if why:
            return f"its item {item!r} is {why}"
    seen: list = []
    for item in value:
        if item in seen:
            return f"{item!r} is in it twice"
        seen.append(item)
    return None


def _ignored(entry: dict, value: Any, values: Mapping[str, Any]) -> str | None:
    """Why a set ``value`` will not be used, or None."""
    if value is None or "ignored_unless" not in entry:
        return None
    for other, wanted in entry["ignored_unless"].items():
        wanted = wanted if isinstance(wanted, list) else [wanted]
        if values.get(other) not in wanted:
            return f"it is used only when {other} is {' or '.join(repr(w) for w in wanted)} ({other} is {values.get(other)!r})"
    return None


def check(chapter: str, values: Mapping[str, Any], schema: Mapping[str, dict] | None = None,
          root: Path | None = None) -> list[str]:
    """Check ``values`` (a chapter's resolved parameters) against the chapter's schema.

    Raises :class:`ParameterError` listing every value that is not allowed (chapter, parameter,
    value, what is allowed); returns one warning per value that is set but ignored.
    """
    schema = load_schema(root) if schema is None else schema
    entries = chapter_entries(schema, chapter)
    errors, warnings = [], []
    for name, value in values.items():
        if name in _BUILD_PARAMETERS:
            continue
        entry = entries.get(name)
        if entry is None:
            errors.append(f"chapter {chapter!r}: parameter {name!r} has no entry in the parameter schema "
                          f"(book/profiles/{SCHEMA_FILE}); add one saying which values it takes")
            continue
        why = _problem(entry, value, values)
        if why:
            doc = f" — {entry['doc']}" if entry.get("doc") else ""
            errors.append(f"chapter {chapter!r}: {name}={value!r} is not allowed ({why}); "
                          f"allowed: {_allowed(entry)}{doc}")
            continue
        why = _ignored(entry, value, values)
        if why:
            warnings.append(f"chapter {chapter!r}: {name}={value!r} is ignored: {why}")
    if errors:
        raise ParameterError("\n".join(errors))
    return warnings


def check_chapters(profile_data: dict, chapters: list[str], overrides: Mapping[str, Mapping[str, Any]],
                   root: Path | None = None) -> list[str]:
    """Check every chapter in ``chapters`` at ``profile_data`` (a loaded profile) with its
    ``overrides``; one ParameterError for all the bad values of all of them, else the warnings."""
    schema = load_schema(root)
    errors, warnings = [], []
    for chapter in chapters:
        values = {**chapter_defaults(profile_data, chapter, root), **overrides.get(chapter, {})}
        try:
            warnings += check(chapter, values, schema)
        except ParameterError as err:
            errors.append(str(err))
    if errors:
        raise ParameterError("\n".join(errors))
    return warnings
