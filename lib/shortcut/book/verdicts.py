"""Verdicts on the paper's claims and the status table of the intro page.

A figure's protocol ends with :func:`record_verdict`, which stores the paper's claim, our verdict and
the scale in ``<results_dir>/verdicts/<chapter>.json``; the intro page collects them with
:func:`load_verdicts` and shows them with :func:`status_report`.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping

from .profiles import STAGE_ENV, Params, _fmt, _show, find_root, page_source, toc_chapters, toc_pages

#: The verdicts a figure or theorem can get.
VERDICTS = ("reproduced", "partly", "not reproduced", "inconclusive", "not tested")

_VERDICT_COLOURS = {
    "reproduced": "#1a7f37",
    "partly": "#9a6700",
    "not reproduced": "#cf222e",
    "inconclusive": "#8250df",
    "not tested": "#57606a",
}


def format_scale(scale: Any) -> str:
    """A scale given as a mapping (``{"runs": 3, "depths": [2, 4]}``) or a string, as one line."""
    if isinstance(scale, Mapping):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in scale.items())
    return _fmt(scale)


def _write_json_atomic(path: Path, data: Any) -> None:
    from ..experiments.records import write_text_atomic

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


#: This process's run: a chapter's verdict file holds the verdicts of one execution (one kernel).
_RUN = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


def record_verdict(P: Any, figure: str, claim: str, verdict: str, scale: Any, detail: str = "") -> Verdict:
    """Record (or update) the verdict on ``figure`` of chapter ``P.chapter`` in
    ``P.results_dir/verdicts/<chapter>.json`` (written atomically) and return it for display.

    The file holds the verdicts of one execution of the chapter: the first verdict a new process
    (kernel) records replaces the file, so a figure the chapter no longer produces disappears;
    later ones in the same process are added (or replace the same figure's).

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
    data: dict = {"chapter": chapter, "profile": profile, "run": _RUN, "verdicts": {}}
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            old = json.load(fh)
        if isinstance(old, dict) and old.get("run") == _RUN and isinstance(old.get("verdicts"), dict):
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
