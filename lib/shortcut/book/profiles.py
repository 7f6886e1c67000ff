"""Chapter parameters from profiles: the scale a chapter runs at.

Every chapter of the book is a MyST-markdown notebook whose first code cell (tagged ``parameters``)
lists its parameters, most of them ``None``, and whose second cell is::

    from shortcut.book import configure; P = configure("<chapter>", globals())

:func:`configure` fills every ``None`` from the chapter's section of ``book/profiles/<profile>.yaml``,
keeps the values given explicitly (by papermill's ``-p``, or by editing the cell), and fails fast on a
profile, chapter or parameter it does not know. It shows the resolved parameters as a table: that table
on the page is the scale the chapter ran at.
"""

from __future__ import annotations

import datetime as _dt
import html
import inspect
import json
import os
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

#: Parameters every chapter has, handled by :func:`configure` itself (``device`` may also be set per
#: profile under ``common:`` or per chapter section).
COMMON_PARAMETERS = ("profile", "results_dir", "device")

ROOT_MARKER = "_toc.yml"
ROOT_ENV = "SHORTCUT_BOOK_ROOT"
STAGE_ENV = "SHORTCUT_BOOK_STAGE"  # set by shortcut.build: the staging tree the site is built from
PROFILES_SUBDIR = Path("book") / "profiles"
KEPT_FIGURES = Path("book") / "figures"  # figures of long runs kept in the repository (shortcut.kept)
KEPT_VERDICTS = Path("book") / "replications"  # verdicts of held-out replications kept in the repository (shortcut.book.kept)
RESERVED_PROFILE_KEYS = ("description", "common")
SCHEMA_FILE = "schema.yaml"  # book/profiles/schema.yaml: which values each parameter takes (shortcut.book.schema); not a profile

# Names an IPython namespace holds that are not parameters.
_IGNORED_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


# ---------------------------------------------------------------------------------------------------
# Where things are
# ---------------------------------------------------------------------------------------------------


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The book's root: ``$SHORTCUT_BOOK_ROOT`` if set, else the first folder holding ``_toc.yml``
    walking up from ``start`` (default: the current directory)."""
    env = os.environ.get(ROOT_ENV)
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / ROOT_MARKER).is_file():
            raise ValueError(f"{ROOT_ENV}={env!r} does not hold {ROOT_MARKER}; unset it or point it at the book's root")
        return root
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ROOT_MARKER).is_file():
            return folder
    raise ValueError(
        f"no {ROOT_MARKER} found in {here} or any folder above it; run from inside the book's repository "
        f"or set {ROOT_ENV} to its root"
    )


def profiles_dir(root: Path | None = None) -> Path:
    return (root or find_root()) / PROFILES_SUBDIR


def profile_names(root: Path | None = None) -> list[str]:
    """The profiles there are: the ``*.yaml`` files in ``book/profiles/`` but the schema, sorted."""
    folder = profiles_dir(root)
    return sorted(p.stem for p in folder.glob("*.yaml") if p.name != SCHEMA_FILE) if folder.is_dir() else []


def profile_path(profile: str, root: Path | None = None) -> Path:
    root = root or find_root()
    names = profile_names(root)
    if not isinstance(profile, str) or profile not in names:
        raise ValueError(
            f"profile={profile!r} is not a profile; valid profiles: {', '.join(names) or '(none)'} "
            f"(the files in {profiles_dir(root)})"
        )
    return profiles_dir(root) / f"{profile}.yaml"


def read_yaml(path: Path, what: str) -> Any:
    """The YAML file ``path`` (``what`` names it in errors); a file that cannot be read or parsed is a
    ValueError naming the file, the line and the problem, not a parser traceback."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except OSError as err:
        raise ValueError(f"{what} {path} cannot be read: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f", line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ValueError(f"{what} {path} is not valid YAML{at}: {problem}") from err


def load_profile(profile: str, root: Path | None = None) -> dict:
    """Read and check ``book/profiles/<profile>.yaml``.

    Returns ``{"description": str, "common": {...}, "chapters": {chapter: {param: value}}}``.
    """
    path = profile_path(profile, root)
    data = read_yaml(path, "the profile")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a profile must be a mapping with 'description' and one section per chapter")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ValueError(f"{path}: the profile needs a top-level 'description:' (a sentence saying what scale it is)")
    common = data.get("common") or {}
    if not isinstance(common, dict):
        raise ValueError(f"{path}: 'common:' must be a mapping of parameter: value")
    chapters: dict[str, dict] = {}
    for key, section in data.items():
        if key in RESERVED_PROFILE_KEYS:
            continue
        section = {} if section is None else section
        if not isinstance(section, dict):
            raise ValueError(f"{path}: section {key!r} must be a mapping of parameter: value (use {{}} for none)")
        for name in section:
            if name in ("profile", "results_dir"):
                raise ValueError(f"{path}: section {key!r} may not set {name!r}; it is chosen when the book is built")
        chapters[str(key)] = dict(section)
    for name in common:
        if name in ("profile", "results_dir"):
            raise ValueError(f"{path}: 'common:' may not set {name!r}; it is chosen when the book is built")
    return {"description": description.strip(), "common": dict(common), "chapters": chapters, "path": path}


def chapter_defaults(profile: str | dict, chapter: str, root: Path | None = None) -> dict:
    """The parameters of ``chapter`` in ``profile`` with their profile values (common ones included,
    a chapter's own value winning). ``profile`` and ``results_dir`` are not included."""
    data = load_profile(profile, root) if isinstance(profile, str) else profile
    chapters = data["chapters"]
    if chapter not in chapters:
        raise ValueError(
            f"chapter {chapter!r} has no section in profile {data['path'].stem!r} ({data['path']}); "
            f"its sections: {', '.join(sorted(chapters)) or '(none)'}. Add a '{chapter}:' section to every profile."
        )
    values = dict(data["common"])
    values.update(chapters[chapter])
    return values


def toc_pages(root: Path | None = None) -> list[str]:
    """Every page of ``_toc.yml`` in reading order, as paths without suffix relative to the root."""
    root = root or find_root()
    toc = read_yaml(root / ROOT_MARKER, "the table of contents") or {}
    pages: list[str] = []

    def walk(entries: Iterable) -> None:
        for entry in entries or ():
            if not isinstance(entry, dict):
                continue
            if "file" in entry:
                pages.append(str(entry["file"]))
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key))

    if "root" in toc:
        pages.append(str(toc["root"]))
    for key in ("parts", "chapters", "sections"):
        walk(toc.get(key))
    return [os.path.splitext(p)[0] if p.endswith((".md", ".ipynb")) else p for p in pages]


def page_source(page: str, root: Path | None = None) -> tuple[Path, str]:
    """The source file of toc page ``page`` and its kind: ``"notebook"`` (a Jupytext MyST notebook
    ``.md``, or an ``.ipynb``) or ``"markdown"`` (a plain MyST page, copied as it is)."""
    root = root or find_root()
    md, nb = root / f"{page}.md", root / f"{page}.ipynb"
    if md.is_file():
        head = md.read_text(encoding="utf-8")[:4000]
        if head.startswith("---") and "jupytext:" in head.split("\n---", 1)[0]:
            return md, "notebook"
        return md, "markdown"
    if nb.is_file():
        return nb, "notebook"
    raise ValueError(f"_toc.yml lists {page!r} but neither {md} nor {nb} exists")


def toc_chapters(root: Path | None = None) -> list[str]:
    """Names (file stems) of the toc pages in reading order."""
    return [Path(p).name for p in toc_pages(root)]


# ---------------------------------------------------------------------------------------------------
# configure
# ---------------------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


@dataclass(frozen=True)
class Params:
    """The resolved parameters of one chapter; read them as attributes (``P.depths``) or items."""

    chapter: str
    profile: str
    description: str
    root: Path
    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails
        values = object.__getattribute__(self, "values")
        if name in values:
            return values[name]
        raise AttributeError(
            f"chapter {object.__getattribute__(self, 'chapter')!r} has no parameter {name!r}; "
            f"its parameters: {', '.join(values)}"
        )

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def as_dict(self) -> dict:
        return dict(self.values)

    def rows(self) -> list[tuple[str, str, str]]:
        def show(v: Any) -> str:
            if isinstance(v, Path):  # paths inside the book are shown relative to its root
                try:
                    return v.relative_to(self.root).as_posix()
                except ValueError:
                    return str(v)
            return _fmt(v)

        return [(k, show(v), self.sources.get(k, "")) for k, v in self.values.items()]

    def __repr__(self) -> str:
        rows = self.rows()
        width = max((len(r[0]) for r in rows), default=0)
        lines = [f"{self.chapter} — profile {self.profile!r}: {self.description}"]
        lines += [f"  {k:<{width}} = {v}   ({s})" for k, v, s in rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td><code>{html.escape(k)}</code></td><td><code>{html.escape(v)}</code></td>"
            f"<td>{html.escape(s)}</td></tr>"
            for k, v, s in self.rows()
        )
        return (
            '<table class="table shortcut-params">'
            '<caption style="caption-side:top;text-align:left">'
            f"Parameters of this page: profile <code>{html.escape(self.profile)}</code> — "
            f"{html.escape(self.description)}</caption>"
            "<thead><tr><th>parameter</th><th>value</th><th>from</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )


def _is_parameter(name: str, value: Any) -> bool:
    if name.startswith("_") or name in _IGNORED_NAMES:
        return False
    if isinstance(value, (types.ModuleType, Params)) or inspect.isclass(value) or inspect.isroutine(value):
        return False
    return True


def read_value(text: str) -> Any:
    """A parameter value written on a command line, read as YAML (``3``, ``[2, 4, 8]``, ``cpu``,
    ``null``), with numbers such as ``1e-3`` that YAML 1.1 leaves as strings read as floats."""
    value = yaml.safe_load(text) if text.strip() else None
    if isinstance(value, str):
        try:
            return float(value) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity") else value
        except ValueError:
            return value
    return value


def _coerce(value: Any, default: Any) -> Any:
    """papermill's ``-p`` hands lists and mappings over as strings; read those as YAML."""
    if isinstance(value, str) and default is not None and not isinstance(default, str):
        try:
            return read_value(value)
        except yaml.YAMLError as err:
            raise ValueError(f"cannot read {value!r} as a value like {default!r}: {err}") from err
    return value


def _show(obj: Any) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        print(repr(obj))
        return
    if get_ipython() is not None:
        display(obj)
    else:
        print(repr(obj))


def configure(chapter: str, namespace: dict, *, show: bool = True) -> Params:
    """Resolve the parameters of ``chapter`` in ``namespace`` (the notebook's ``globals()``).

    * ``namespace["profile"]`` names a file ``book/profiles/<profile>.yaml`` (default ``"default"``);
    * every parameter that is ``None`` is filled from the profile's ``common:`` and ``<chapter>:``
      sections; a value that is not ``None`` (set by papermill ``-p`` or by hand) is kept;
    * ``results_dir`` (``None``: ``<root>/_build/results/<profile>``; relative: to the root) becomes an
      absolute, existing :class:`~pathlib.Path`; ``device`` a ``torch.device`` (``'auto'``: CUDA when
      there is one);
    * the resolved values are written back into ``namespace`` and returned as :class:`Params`.

    Raises ValueError, naming the culprit and the valid choices, for an unknown profile, a chapter
    without a section in the profile, a name in ``namespace`` that is not a parameter, or a value the
    chapter's entry in ``book/profiles/schema.yaml`` does not allow (see :mod:`shortcut.book.schema`);
    warns (IgnoredParameterWarning) of a value that is set but will not be used.
    """
    root = find_root()
    profile = namespace.get("profile")
    profile = "default" if profile is None else profile
    data = load_profile(profile, root)
    defaults = chapter_defaults(data, chapter, root)
    valid = list(dict.fromkeys([*COMMON_PARAMETERS, *defaults]))

    given = {k: v for k, v in namespace.items() if _is_parameter(k, v)}
    unknown = [k for k in given if k not in valid]
    if unknown:
        raise ValueError(
            f"{', '.join(repr(k) for k in unknown)} {'is not a parameter' if len(unknown) == 1 else 'are not parameters'} "
            f"of chapter {chapter!r} in profile {profile!r} ({data['path']}); valid parameters: {', '.join(valid)}. "
            "(configure() must run right after the parameters cell; restart the kernel if other cells ran before it.)"
        )

    values: dict[str, Any] = {"profile": profile}
    sources: dict[str, str] = {"profile": "given" if namespace.get("profile") is not None else "default"}
    for name, default in defaults.items():
        value = given.get(name)
        if value is None:
            values[name], sources[name] = default, f"profile {profile}"
        else:
            values[name], sources[name] = _coerce(value, default), "given"

    # every value checked against book/profiles/schema.yaml before anything is made or run
    from .schema import IgnoredParameterWarning, check

    for message in check(chapter, values, root=root):
        warnings.warn(message, IgnoredParameterWarning, stacklevel=2)

    # results_dir
    raw = given.get("results_dir")
    if raw is None:
        results_dir = root / "_build" / "results" / profile
        sources["results_dir"] = "default"
    else:
        results_dir = Path(raw).expanduser()
        results_dir = results_dir if results_dir.is_absolute() else root / results_dir
        sources["results_dir"] = "given"
    results_dir = results_dir.resolve()
    results_dir.mkdir(parents=True, exist_ok=True)
    values["results_dir"] = results_dir

    # device: only for chapters that have one (declared in the notebook or in the profile)
    if "device" in given or "device" in defaults:
        from ..experiments.device import pick_device

        requested = values.get("device", "auto")
        values["device"] = pick_device("auto" if requested is None else requested)
        sources.setdefault("device", "default")
        if str(requested) != str(values["device"]):
            sources["device"] += f" ({requested!r})"

    ordered = {k: values[k] for k in dict.fromkeys(["profile", "results_dir", "device", *defaults]) if k in values}
    params = Params(
        chapter=chapter,
        profile=profile,
        description=data["description"],
        root=root,
        values=types.MappingProxyType(ordered),
        sources=types.MappingProxyType({k: sources.get(k, "") for k in ordered}),
    )
    namespace.update(ordered)
    if show:
        _show(params)
    return params
