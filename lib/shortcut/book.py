"""The book's side of the library: chapter parameters from profiles, and the computed verdicts.

Every chapter of the book is a MyST-markdown notebook whose first code cell (tagged ``parameters``)
lists its parameters, most of them ``None``, and whose second cell is::

    from shortcut.book import configure; P = configure("<chapter>", globals())

:func:`configure` fills every ``None`` from the chapter's section of ``book/profiles/<profile>.yaml``,
keeps the values given explicitly (by papermill's ``-p``, or by editing the cell), and fails fast on a
profile, chapter or parameter it does not know. It shows the resolved parameters as a table: that table
on the page is the scale the chapter ran at.

Figures end with :func:`record_verdict`, which stores the paper's claim, our verdict and the scale in
``<results_dir>/verdicts/<chapter>.json``; the intro page collects them with :func:`load_verdicts` and
shows them with :func:`status_report`.
"""

from __future__ import annotations

import datetime as _dt
import html
import inspect
import json
import os
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

__all__ = [
    "COMMON_PARAMETERS",
    "VERDICTS",
    "Params",
    "configure",
    "find_root",
    "load_profile",
    "profile_names",
    "chapter_defaults",
    "toc_pages",
    "toc_chapters",
    "page_source",
    "record_verdict",
    "load_verdicts",
    "status_report",
]

#: Parameters every chapter has, handled by :func:`configure` itself (``device`` may also be set per
#: profile under ``common:`` or per chapter section).
COMMON_PARAMETERS = ("profile", "results_dir", "device")

#: The verdicts a figure or theorem can get.
VERDICTS = ("reproduced", "partly", "not reproduced", "not tested")

ROOT_MARKER = "_toc.yml"
ROOT_ENV = "SHORTCUT_BOOK_ROOT"
STAGE_ENV = "SHORTCUT_BOOK_STAGE"  # set by shortcut.build: the staging tree the site is built from
PROFILES_SUBDIR = Path("book") / "profiles"
KEPT_FIGURES = Path("book") / "figures"  # figures of long runs kept in the repository (shortcut.kept)
RESERVED_PROFILE_KEYS = ("description", "common")

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
    """The profiles there are: the ``*.yaml`` files in ``book/profiles/``, sorted."""
    folder = profiles_dir(root)
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def profile_path(profile: str, root: Path | None = None) -> Path:
    root = root or find_root()
    names = profile_names(root)
    if not isinstance(profile, str) or profile not in names:
        raise ValueError(
            f"profile={profile!r} is not a profile; valid profiles: {', '.join(names) or '(none)'} "
            f"(the files in {profiles_dir(root)})"
        )
    return profiles_dir(root) / f"{profile}.yaml"


def load_profile(profile: str, root: Path | None = None) -> dict:
    """Read and check ``book/profiles/<profile>.yaml``.

    Returns ``{"description": str, "common": {...}, "chapters": {chapter: {param: value}}}``.
    """
    path = profile_path(profile, root)
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
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
    with open(root / ROOT_MARKER, encoding="utf-8") as fh:
        toc = yaml.safe_load(fh) or {}
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
    without a section in the profile, or a name in ``namespace`` that is not a parameter.
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
        from .device import pick_device

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


# ---------------------------------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------------------------------

_VERDICT_COLOURS = {
    "reproduced": "#1a7f37",
    "partly": "#9a6700",
    "not reproduced": "#cf222e",
    "not tested": "#57606a",
}


def format_scale(scale: Any) -> str:
    """A scale given as a mapping (``{"runs": 3, "depths": [2, 4]}``) or a string, as one line."""
    if isinstance(scale, Mapping):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in scale.items())
    return _fmt(scale)


def _write_json_atomic(path: Path, data: Any) -> None:
    from .records import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


class Verdict(dict):
    """One recorded verdict; shows itself as a line under the figure."""

    def __repr__(self) -> str:
        return f"Verdict ({self['figure']}): {self['verdict']} — {self['claim']} [scale: {self['scale']}]"

    def _repr_html_(self) -> str:
        colour = _VERDICT_COLOURS.get(self["verdict"], "#57606a")
        detail = f"<br>{html.escape(self['detail'])}" if self.get("detail") else ""
        return (
            f'<div class="shortcut-verdict" style="border-left:4px solid {colour};padding:0.3em 0.8em;margin:0.5em 0">'
            f'<strong>{html.escape(self["figure"])}</strong> — verdict: '
            f'<strong style="color:{colour}">{html.escape(self["verdict"])}</strong><br>'
            f'<em>Claim:</em> {html.escape(self["claim"])}<br>'
            f'<em>Scale:</em> {html.escape(self["scale"])} (profile <code>{html.escape(self.get("profile", ""))}</code>)'
            f"{detail}</div>"
        )


def record_verdict(P: Any, figure: str, claim: str, verdict: str, scale: Any, detail: str = "") -> Verdict:
    """Record (or update) the verdict on ``figure`` of chapter ``P.chapter`` in
    ``P.results_dir/verdicts/<chapter>.json`` (written atomically) and return it for display.

    ``verdict`` is one of :data:`VERDICTS`; ``scale`` a string or a mapping such as
    ``{"samples": 1000, "depths": [2, 4, 8], "runs": 3}``; ``detail`` says what the numbers were.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict={verdict!r} is not a verdict; valid verdicts: {', '.join(repr(v) for v in VERDICTS)}")
    for name, value in (("figure", figure), ("claim", claim)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    chapter = P.chapter
    profile = getattr(P, "profile", "")
    path = Path(P.results_dir) / "verdicts" / f"{chapter}.json"
    data: dict = {"chapter": chapter, "profile": profile, "verdicts": {}}
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            old = json.load(fh)
        if isinstance(old, dict) and isinstance(old.get("verdicts"), dict):
            data["verdicts"] = old["verdicts"]
    entry = {
        "claim": claim.strip(),
        "verdict": verdict,
        "scale": format_scale(scale),
        "scale_raw": scale if isinstance(scale, (str, Mapping)) else _fmt(scale),
        "detail": str(detail),
        "recorded": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    data["verdicts"][figure] = entry
    _write_json_atomic(path, data)
    return Verdict(chapter=chapter, figure=figure, profile=profile, **entry)


def load_verdicts(results_dir: str | os.PathLike, order: Iterable[str] | None = None) -> list[Verdict]:
    """All verdicts under ``results_dir/verdicts/``: one :class:`Verdict` (a dict with chapter, figure,
    claim, verdict, scale, detail, profile, recorded) per figure, chapters in ``order`` (default: the
    toc's order when a book root is found, else alphabetical), figures in the order first recorded."""
    folder = Path(results_dir) / "verdicts"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if order is None:
        try:
            order = toc_chapters()
        except ValueError:
            order = []
    rank = {name: i for i, name in enumerate(order)}
    files.sort(key=lambda p: (rank.get(p.stem, len(rank)), p.stem))
    out: list[Verdict] = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            entries = data["verdicts"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{path}: not a verdict file ({err})") from err
        for figure, entry in entries.items():
            out.append(
                Verdict(
                    chapter=data.get("chapter", path.stem),
                    figure=figure,
                    profile=data.get("profile", ""),
                    claim=entry.get("claim", ""),
                    verdict=entry.get("verdict", ""),
                    scale=entry.get("scale", ""),
                    detail=entry.get("detail", ""),
                    recorded=entry.get("recorded", ""),
                )
            )
    return out


def _page_title(root: Path, page: str) -> str:
    """The first ``# `` heading of a toc page (``.md``), else its name."""
    path = root / f"{page}.md"
    if path.is_file():
        in_front = False
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if i == 0 and line.strip() == "---":
                in_front = True
                continue
            if in_front:
                in_front = line.strip() != "---"
                continue
            if line.startswith("# "):
                return line[2:].strip()
    return Path(page).name


class StatusReport:
    """The reproduction-status table of the intro page."""

    def __init__(self, profile: str, description: str, rows: list[Verdict], chapters: list[tuple[str, str, str]],
                 results_dir: Path):
        self.profile, self.description, self.rows, self.results_dir = profile, description, rows, results_dir
        self.chapters = chapters  # (name, title, html link) of the chapters that hold figures
        have = {r["chapter"] for r in rows}
        self.without = [c for c in chapters if c[0] not in have]

    def __repr__(self) -> str:
        lines = [f"Built with profile {self.profile!r}: {self.description}"]
        if not self.rows:
            lines.append("No verdicts have been recorded yet at this profile.")
        for r in self.rows:
            lines.append(f"{r['chapter']} | {r['figure']} | {r['claim']} | {r['verdict']} | {r['scale']}")
        if self.without:
            lines.append("Chapters without a recorded verdict: " + ", ".join(c[1] for c in self.without))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        titles = {name: (title, link) for name, title, link in self.chapters}
        parts = [
            f'<p class="shortcut-profile">This page was built with profile <code>{e(self.profile)}</code>: '
            f"{e(self.description)}</p>"
        ]
        if not self.rows:
            parts.append(
                '<p class="shortcut-noverdicts"><strong>No verdicts have been recorded yet</strong> at this '
                "profile: no chapter has run to its verdicts.</p>"
            )
        else:
            body = []
            for r in self.rows:
                title, link = titles.get(r["chapter"], (r["chapter"], ""))
                chap = f'<a href="{e(link)}">{e(title)}</a>' if link else e(title)
                colour = _VERDICT_COLOURS.get(r["verdict"], "#57606a")
                body.append(
                    f"<tr><td>{chap}</td><td>{e(r['figure'])}</td><td>{e(r['claim'])}</td>"
                    f'<td><strong style="color:{colour}">{e(r["verdict"])}</strong></td><td>{e(r["scale"])}</td></tr>'
                )
            parts.append(
                '<table class="table shortcut-status"><thead><tr><th>chapter</th><th>figure / theorem</th>'
                "<th>the paper's claim</th><th>verdict</th><th>scale</th></tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table>"
            )
        if self.without:
            links = ", ".join(f'<a href="{e(link)}">{e(title)}</a>' if link else f"{e(title)} (not in this build)"
                              for _, title, link in self.without)
            parts.append(f"<p>Chapters without a recorded verdict at this profile: {links}.</p>")
        return "\n".join(parts)


def status_report(P: Params, show: bool = True) -> StatusReport:
    """Collect the verdicts under ``P.results_dir`` for the intro page (and show them)."""
    root = P.root
    pages = toc_pages(root)
    here = Path(pages[0]).parent if pages else Path("book")
    chapters = []
    for page in pages[1:]:
        name = Path(page).name
        try:
            if page_source(page, root)[1] != "notebook":
                continue
        except ValueError:
            continue
        link = os.path.relpath(page, here).replace(os.sep, "/") + ".html"
        chapters.append((name, _page_title(root, page), link))
    # In a build, link only the chapters that made it into the site (the staging tree's notebooks).
    stage = os.environ.get(STAGE_ENV)
    if stage:
        chapters = [(n, t, link if (Path(stage) / here / link).with_suffix(".ipynb").is_file() else "")
                    for n, t, link in chapters]
    rows = load_verdicts(P.results_dir, order=[Path(p).name for p in pages])
    report = StatusReport(P.profile, P.description, rows, chapters, Path(P.results_dir))
    if show:
        _show(report)
    return report
