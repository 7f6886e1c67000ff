"""Verdicts on the paper's claims and the status table of the intro page.

A figure's protocol ends with :func:`record_verdict`, which stores the paper's claim, our verdict and
the scale in ``<results_dir>/verdicts/<chapter>.json``; the intro page collects them with
:func:`load_verdicts` and shows them with :func:`status_report`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import html
import json
import os
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..figures.checks import Check, report_html, report_text
from ..figures.result import parse_detail
from .profiles import KEPT_VERDICTS, STAGE_ENV, Params, _fmt, _show, find_root, page_source, toc_chapters, toc_pages

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


# ---------------------------------------------------------------------------------------------------
# the paper's names, short claims and short scales (for the status table)
# ---------------------------------------------------------------------------------------------------

_PAPER_ITEM = re.compile(r"^\s*(?P<kind>Figure|Fig\.?|Theorem|Thm\.?)\s*(?P<number>\d+)\b(?P<rest>.*)$", re.S)


def paper_name(label: str) -> str:
    """``label`` with the paper's figure or theorem written out: "Fig 5" and "Fig. 5" become "Figure 5",
    "Thm 1" "Theorem 1"; anything else is returned as it is."""
    m = _PAPER_ITEM.match(label)
    if not m:
        return label.strip()
    kind = "Figure" if m["kind"].startswith("Fig") else "Theorem"
    return f"{kind} {m['number']}{m['rest']}".strip()


def is_paper_item(label: str) -> bool:
    """Whether ``label`` names one of the paper's figures or theorems ("Figure 7", "Theorem 2 (n = 2)")."""
    return _PAPER_ITEM.match(label) is not None


def display_label(label: str) -> str:
    """The name a verdict is shown under: the paper's ("Figure 7") or, for a figure of our own, its name
    marked "(ours)" so that it cannot be taken for one of the paper's."""
    name = paper_name(label)
    return name if is_paper_item(name) or "(ours)" in name else f"{name} (ours)"


def short_claim(claim: str, limit: int = 90) -> str:
    """The claim's first clause (up to the first ';'), cut at a word to at most ``limit`` characters."""
    text = " ".join(claim.split())
    first = re.split(r";\s|\.\s", text, maxsplit=1)[0].rstrip(".;: ")
    if len(first) <= limit:
        return first
    cut = first[: limit - 1].rsplit(" ", 1)[0].rstrip(",;: ")
    return cut + "…"


def _k(n: float) -> str:
    """5000 -> "5k", 1500 -> "1.5k", 200 -> "200"."""
    if n >= 1000:
        return f"{n / 1000:.1f}".rstrip("0").rstrip(".") + "k" if n < 10_000 else f"{round(n / 1000)}k"
    return f"{n:g}"


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _numbers(v)]
    if isinstance(value, str):
        return [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*(?:\.\d+)?(?:e-?\d+)?", value)]
    return []


def _data_noun(data: str) -> str:
    low = data.lower()
    if low.startswith("stand-in"):
        return "stand-in images"
    if "fashion" in low:
        return "Fashion-MNIST images"
    if "cifar" in low:
        return "CIFAR-10 images"
    if "mnist" in low:
        return "digits"
    return "samples"


def short_scale(scale: Any) -> str:
    """A scale in a few words for the status table: ``{"data": "MNIST, …", "samples": 5000, "depths": [2, …,
    32], "seeds": 3}`` -> "5k digits · D ≤ 32 · 3 seeds". Reads the samples, depths (or units), ε,
    epochs and seeds (or runs) of the mapping; leaves the rest to the full scale next to the figure."""
    if not isinstance(scale, Mapping):
        text = " ".join(str(scale).split())
        return text if len(text) <= 40 else text[:39].rsplit(" ", 1)[0] + "…"
    parts: list[str] = []
    data = str(scale.get("data", ""))
    noun = _data_noun(data)
    samples = next((scale[k] for k in ("samples", "train images", "n_samples") if k in scale), None)
    if samples is not None and _numbers(samples):
        parts.append("/".join(_k(n) for n in dict.fromkeys(_numbers(samples))) + " " + noun)
    elif data:
        parts.append(data.split(",")[0].strip())
    depths = next((scale[k] for k in ("depths", "depth") if k in scale), None)
    if depths is not None and _numbers(depths):
        ds = _numbers(depths)
        parts.append(f"D = {ds[0]:g}" if len(set(ds)) == 1 else f"D ≤ {max(ds):g}")
    else:
        units = [x for k in scale if "units" in str(k).lower() or str(k).endswith(" L") for x in _numbers(scale[k])]
        if units:
            parts.append(f"L ≤ {_k(max(units))}")
    eps = next((scale[k] for k in ("ε", "eps") if k in scale), None)
    if isinstance(eps, (list, tuple)) and len(_numbers(eps)) > 1:
        parts.append(f"ε {min(_numbers(eps)):g}…{max(_numbers(eps)):g}")
    if "epochs" in scale and _numbers(scale["epochs"]):
        es = _numbers(scale["epochs"])
        parts.append(f"{es[0]:g} epochs" if len(set(es)) == 1 else f"≤ {max(es):g} epochs")
    for key in ("seeds", "runs"):
        if key in scale and _numbers(scale[key]):
            parts.append(f"{_k(_numbers(scale[key])[0])} {key}")
            break
    return " · ".join(parts)


def not_tested_reason(detail: str, scale: Any = None) -> str:
    """Why a claim was not tested, in a few words (the verdict's detail has the whole reason)."""
    data = str(scale.get("data", "")) if isinstance(scale, Mapping) else ""
    if data.lower().startswith("stand-in") or "stand-in" in detail:
        return "ran on a stand-in, not the paper's data"
    return short_claim(detail, 60) if detail else "no reason recorded"


def _write_json_atomic(path: Path, data: Any) -> None:
    from ..experiments.records import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


class Verdict(dict):
    """One recorded verdict; shows itself as a box under the figure: the verdict and one sentence on what
    decided it, the table of its checks (superseded forms folded), the runs left out in one line, then the
    claim and the scale (``shortcut.figures.checks.report_html``; as text, ``report_text``)."""

    def parts(self) -> tuple[list[Check], list[str], str]:
        """(checks, runs left out, stand-in data): as recorded, or read back from the ``detail`` of a
        record that predates the checks' own fields (``shortcut.figures.result.parse_detail``); ([], [], "")
        when neither has them."""
        if self.get("checks") is not None:
            return ([Check.from_dict(c) for c in self["checks"]], list(self.get("excluded") or []),
                    str(self.get("standin") or ""))
        return parse_detail(str(self.get("detail", ""))) or ([], [], "")

    def __repr__(self) -> str:
        checks, excluded, standin = self.parts()
        body = report_text(checks, self["verdict"], excluded, standin, fallback=str(self.get("detail", "")))
        return (f"Verdict ({display_label(self['figure'])}): {self['verdict']} — {self['claim']} [scale: {self['scale']}]\n"
                + "\n".join("  " + line for line in body.splitlines()))

    def _repr_html_(self) -> str:
        e = html.escape
        colour = _VERDICT_COLOURS.get(self["verdict"], "#57606a")
        checks, excluded, standin = self.parts()
        body = report_html(checks, self["verdict"], excluded, standin, fallback=str(self.get("detail", "")))
        return (
            f'<div class="shortcut-verdict" style="border-left-color:{colour}">'
            f'<p class="shortcut-verdict-head"><strong>{e(display_label(self["figure"]))}</strong> — verdict: '
            f'<strong style="color:{colour}">{e(self["verdict"])}</strong></p>{body}'
            f'<p class="shortcut-verdict-meta"><em>Claim:</em> {e(self["claim"])}<br>'
            f'<em>Scale:</em> {e(self["scale"])} (profile <code>{e(self.get("profile", ""))}</code>)</p></div>'
        )


#: This process's run: a chapter's verdict file holds the verdicts of one execution (one kernel).
_RUN = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


@functools.lru_cache(maxsize=None)
def code_version(root: str) -> str:
    """The commit the checks ran at: ``git rev-parse HEAD`` of the book at ``root``, marked
    ``+uncommitted`` when ``lib/`` or ``book/`` differ from it (a held-out run must name the commit
    that fixed its criteria); "" outside a git checkout."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=30)
        return done.stdout.strip() if done.returncode == 0 else ""
    try:
        head = git("rev-parse", "HEAD")
        changed = head and git("status", "--porcelain", "--", "lib", "book")
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{head}+uncommitted" if changed else head


def record_verdict(P: Any, figure: str, claim: str, verdict: str, scale: Any, detail: str = "", key: str = "",
                   short: str = "", checks: Iterable[Check] | None = None, excluded: Iterable[str] = (),
                   standin: str = "") -> Verdict:
    """Record (or update) the verdict on ``figure`` of chapter ``P.chapter`` in
    ``P.results_dir/verdicts/<chapter>.json`` (written atomically) and return it for display.

    The file holds the verdicts of one execution of the chapter: the first verdict a new process
    (kernel) records replaces the file, so a figure the chapter no longer produces disappears;
    later ones in the same process are added (or replace the same figure's).

    ``verdict`` is one of :data:`VERDICTS`; ``scale`` a string or a mapping such as
    ``{"samples": 1000, "depths": [2, 4, 8], "runs": 3}``; ``detail`` says what the numbers were;
    ``key`` is the name the figure was glued under on the page (``publish(P, result, "fig7")``), by
    which the status table finds the figure to link to; ``short`` the claim in a few words (default:
    its first clause); ``checks`` (``shortcut.figures.checks.Check``), ``excluded`` (the groups of runs
    left out) and ``standin`` are stored one by one for the verdict's box, beside ``detail``'s prose.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict={verdict!r} is not a verdict; valid verdicts: {', '.join(repr(v) for v in VERDICTS)}")
    for name, value in (("figure", figure), ("claim", claim)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    chapter = P.chapter
    profile = getattr(P, "profile", "")
    path = Path(P.results_dir) / "verdicts" / f"{chapter}.json"
    try:
        commit = code_version(str(getattr(P, "root", None) or find_root()))
    except ValueError:  # not inside a book
        commit = ""
    data: dict = {"chapter": chapter, "profile": profile, "run": _RUN, "commit": commit, "verdicts": {}}
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
        "key": str(key),
        "short_claim": (short or short_claim(claim)).strip(),
        "recorded": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if checks is not None:
        entry.update(checks=[c.to_dict() for c in checks], excluded=[str(x) for x in excluded], standin=str(standin))
    data["verdicts"][figure] = entry
    _write_json_atomic(path, data)
    return Verdict(chapter=chapter, figure=figure, profile=profile, **entry)


def load_verdicts(results_dir: str | os.PathLike, order: Iterable[str] | None = None) -> list[Verdict]:
    """All verdicts under ``results_dir/verdicts/``: one :class:`Verdict` (a dict with chapter, figure,
    claim, short_claim, verdict, scale, scale_raw, detail, key, profile, recorded) per figure, chapters in ``order`` (default: the
    toc's order when a book root is found, else alphabetical), figures in the order first recorded."""
    return _load_folder(Path(results_dir) / "verdicts", order)


def _load_folder(folder: Path, order: Iterable[str] | None) -> list[Verdict]:
    """The verdicts of every ``<chapter>.json`` in ``folder`` (see :func:`load_verdicts`)."""
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
                    key=entry.get("key", ""),
                    short_claim=entry.get("short_claim") or short_claim(entry.get("claim", "")),
                    scale_raw=entry.get("scale_raw", entry.get("scale", "")),
                    commit=data.get("commit", ""),
                    checks=entry.get("checks"),
                )
            )
    return out


#: The status table's column title of each replication whose verdicts are kept (book/replications/<profile>/).
REPLICATION_TITLES = {"fashion": "Fashion-MNIST (held out)"}


def load_replications(root: Path) -> dict[str, list[Verdict]]:
    """The kept verdicts of each held-out replication, ``{profile: verdicts}``, from
    ``book/replications/<profile>/`` (``python -m shortcut.book.kept --verdicts``), profiles by name."""
    folder = root / KEPT_VERDICTS
    if not folder.is_dir():
        return {}
    order = [Path(p).name for p in toc_pages(root)]
    return {sub.name: _load_folder(sub, order) for sub in sorted(folder.iterdir()) if sub.is_dir()}


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


# ---------------------------------------------------------------------------------------------------
# the status table
# ---------------------------------------------------------------------------------------------------

_DIRECTIVE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<kind>glue:figure|figure|prf:[a-z]+)\}[ \t]*(?P<arg>[^\n]*)\n"
    r"(?P<opts>(?:[ \t]*:[\w-]+:[^\n]*\n)*)", re.M)
_OPTION = re.compile(r"^[ \t]*:(?P<name>[\w-]+):[ \t]*(?P<value>[^\n]*)$", re.M)


def page_anchors(text: str, page: str) -> dict[str, str]:
    """The anchors a page's markdown ``text`` defines for the status table, as the build qualifies them
    (``shortcut.book.labels``: ``fig-7`` on page ``mnist`` becomes ``mnist-fig-7``):
    ``"glue:<key>"`` -> the label of ``{glue:figure} <key>``, ``"image:<path>"`` -> that of
    ``{figure} <path>``, ``"theorem:<n>"`` -> that of a ``prf:theorem`` whose title starts with n."""
    out: dict[str, str] = {}
    for m in _DIRECTIVE.finditer(text):
        opts = {o["name"]: o["value"].strip() for o in _OPTION.finditer(m["opts"])}
        label = opts.get("name") or opts.get("label")
        if not label:
            continue
        label = label if label.startswith(page + "-") else f"{page}-{label}"
        arg = m["arg"].strip()
        if m["kind"] == "glue:figure":
            out.setdefault(f"glue:{arg}", label)
        elif m["kind"] == "figure":
            out.setdefault(f"image:{arg}", label)
        elif m["kind"] == "prf:theorem":
            number = re.match(r"(?:Theorem\s+)?(\d+)\b", arg)
            if number:
                out.setdefault(f"theorem:{number[1]}", label)
    return out


def html_id(label: str) -> str:
    """The HTML id Sphinx gives a label (docutils' ``make_id``: lower case, ``_`` and other signs -> ``-``)."""
    try:
        from docutils.nodes import make_id
    except ImportError:  # the book extra is not installed: docutils' rule for the labels the book uses
        return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    return make_id(label)


def _badge(verdict: str) -> str:
    colour = _VERDICT_COLOURS.get(verdict, "#57606a")
    return f'<span class="shortcut-badge" style="background:{colour}">{html.escape(verdict)}</span>'


class StatusReport:
    """The reproduction-status table of the intro page: one row per verdict — the paper's figure or
    theorem (linked to the figure on its page), the claim in one line (the whole claim as a tooltip),
    the verdict, the scale in a few words (the whole scale as a tooltip) and, where a run at the
    paper's scale was kept (``shortcut.book.kept``), that run's verdict."""

    def __init__(self, profile: str, description: str, rows: list[Verdict], chapters: list[tuple[str, str, str]],
                 results_dir: Path, anchors: Mapping[str, Mapping[str, str]] | None = None,
                 kept: list[Mapping] | None = None, replications: Mapping[str, list[Mapping]] | None = None):
        self.profile, self.description, self.rows, self.results_dir = profile, description, rows, results_dir
        # held-out replications (book/replications/<profile>/): a column each, the profile's own rows left out
        self.replications = {k: list(v) for k, v in (replications or {}).items() if k != profile}
        self.chapters = chapters  # (name, title, html link) of the chapters that hold figures
        self.anchors = {k: dict(v) for k, v in (anchors or {}).items()}  # chapter -> page_anchors()
        self.kept = list(kept or [])
        have = {r["chapter"] for r in rows} | {k["chapter"] for k in self.kept}
        self.without = [c for c in chapters if c[0] not in have]

    def _link(self, chapter: str, anchor: str | None) -> str:
        """The page (and anchor) of ``chapter`` as a link from the intro, or "" when it is not in the site."""
        link = {name: link for name, _, link in self.chapters}.get(chapter, "")
        return f"{link}#{html_id(anchor)}" if link and anchor else link

    def _anchor(self, row: Mapping) -> str | None:
        anchors = self.anchors.get(row["chapter"], {})
        found = anchors.get(f"glue:{row.get('key', '')}") if row.get("key") else None
        if found is None:
            m = _PAPER_ITEM.match(paper_name(row["figure"]))
            if m and m["kind"] == "Theorem":
                found = anchors.get(f"theorem:{m['number']}")
        return found

    def table(self) -> list[dict[str, Any]]:
        """The rows: a dict per verdict (``item``, ``ours``, ``link``, ``short_claim``, ``claim``,
        ``verdict``, ``reason``, ``scale``, ``scale_full``, ``kept``: the kept run's facts or None,
        ``replications``: ``{profile: verdict or None}`` of each held-out replication), then a row per
        kept run that has no verdict at this profile."""
        kept = {(k["chapter"], paper_name((k.get("verdict") or {}).get("figure", k["figure"]))): k for k in self.kept}
        used: set = set()
        out = []
        for r in self.rows:
            name = paper_name(r["figure"])
            k = kept.get((r["chapter"], name))
            if k is not None:
                used.add((r["chapter"], name))
            out.append(self._row(r, k))
        for key, k in kept.items():
            if key not in used:
                v = dict(k.get("verdict") or {})
                row = {"chapter": k["chapter"], "figure": v.get("figure", k["figure"]), "claim": v.get("claim", ""),
                       "verdict": "", "scale": "", "scale_raw": "", "detail": "", "key": ""}
                out.append(self._row(row, k))
        return out

    def _row(self, r: Mapping, kept: Mapping | None) -> dict[str, Any]:
        name = paper_name(r["figure"])
        scale_raw = r.get("scale_raw", r.get("scale", ""))
        kept_row = None
        if kept is not None:
            v = kept.get("verdict") or {}
            image = f"figures/{kept['chapter']}/{Path(kept.get('file', '')).name}"
            anchor = self.anchors.get(kept["chapter"], {}).get(f"image:{image}")
            kept_row = {"verdict": v.get("verdict", "none recorded"), "profile": kept.get("profile", ""),
                        "date": str(kept.get("computed", ""))[:10], "link": self._link(kept["chapter"], anchor),
                        "scale": short_scale(v.get("scale_raw", v.get("scale", ""))) if v else "",
                        "summary": _kept_summary(kept)}
        return {
            "chapter": r["chapter"], "item": display_label(name), "ours": not is_paper_item(name),
            "link": self._link(r["chapter"], self._anchor(r)),
            "short_claim": r.get("short_claim") or short_claim(r.get("claim", "")), "claim": r.get("claim", ""),
            "verdict": r.get("verdict", ""), "detail": r.get("detail", ""),
            "reason": not_tested_reason(r.get("detail", ""), scale_raw) if r.get("verdict") == "not tested" else "",
            "scale": short_scale(scale_raw) if r.get("verdict") else "", "scale_full": r.get("scale", ""),
            "kept": kept_row,
            "replications": {profile: self._replicated(r["chapter"], name, verdicts)
                             for profile, verdicts in self.replications.items()},
        }

    def compare(self, profile: str) -> dict[str, Any]:
        """How the held-out replication ``profile`` compares with this build, figure by figure: ``n``, the
        figures with a verdict in both; ``agree``, those with the same verdict; ``differ``, a
        ``(figure, verdict here, verdict there)`` per other one; ``checks_differ``, a ``(figure, check,
        outcome here, outcome there)`` per check whose outcome differs (``checks_compared`` checks of this
        build compared); ``not_replicated``, ``(chapter, figure)``
        of this build that the replication has no verdict on; ``commits``, the commits the replication's runs were made at."""
        rows = [row for row in self.table() if row["verdict"]]
        both = [(row, row["replications"].get(profile)) for row in rows if row["replications"].get(profile)]
        differ = [(row["item"], row["verdict"], there["verdict"]) for row, there in both if there["verdict"] != row["verdict"]]

        def outcomes(verdicts) -> dict:
            return {(v["chapter"], paper_name(v["figure"])): {c["name"]: c["outcome"] for c in v.get("checks") or []}
                    for v in verdicts}

        here, there = outcomes(self.rows), outcomes(self.replications.get(profile, []))
        checks_differ, compared = [], 0
        for key, a in here.items():
            b = there.get(key)
            if b is None:
                continue
            compared += len(a)
            for check in [*a, *(c for c in b if c not in a)]:
                if a.get(check) != b.get(check):
                    checks_differ.append((display_label(key[1]), check, a.get(check), b.get(check)))
        return {"n": len(both), "agree": len(both) - len(differ), "differ": differ, "checks_differ": checks_differ,
                "checks_compared": compared,
                "not_replicated": [(row["chapter"], row["item"]) for row in rows if not row["replications"].get(profile)],
                "commits": sorted({v.get("commit", "")[:7] for v in self.replications.get(profile, []) if v.get("commit")})}

    def compared_text(self, profile: str) -> dict[str, str]:
        """:meth:`compare` in words, for the prose (glued as ``<profile>_<key>``): ``n``, ``agree``,
        ``commits``, and ``differ``: a sentence naming each figure whose verdicts differ (or saying none does)."""
        c = self.compare(profile)
        title = REPLICATION_TITLES.get(profile, profile).split(" (")[0]
        if profile == self.profile:
            differ = f"(This page was built at profile {profile!r}: its table's verdicts are the replication's own.)"
        elif not c["n"]:
            differ = f"No figure has a verdict on both yet (nothing kept in {KEPT_VERDICTS}/{profile}/)."
        elif c["differ"]:
            differ = "They differ on " + "; ".join(f"{item} ({here} on MNIST, {there} on {title})"
                                                    for item, here, there in c["differ"]) + "."
        else:
            differ = "None differs."
        if c["checks_differ"]:
            differ += (" Check by check, the outcomes differ on " + "; ".join(
                f"{item}: “{check}” ({a or 'absent'} on MNIST, {b or 'absent'} on {title})"
                for item, check, a, b in c["checks_differ"]) + ".")
        elif c["checks_compared"]:
            differ += (f" Check by check, too: each of the {c['checks_compared']} checks has the same outcome on both, "
                       "every comparison on the same side of its threshold.")
        if c["not_replicated"]:
            titles = {name: t for name, t, _ in self.chapters}
            by_chapter: dict[str, list[str]] = {}
            for chapter, item in c["not_replicated"]:
                by_chapter.setdefault(titles.get(chapter, chapter), []).append(item)
            differ += f" Not run on {title}: " + "; ".join(f"{', '.join(items)} (page {where!r})"
                                                         for where, items in by_chapter.items()) + "."
        return {"n": str(c["n"]), "agree": str(c["agree"]), "commits": ", ".join(c["commits"]) or "none", "differ": differ}

    @staticmethod
    def _replicated(chapter: str, name: str, verdicts: list[Mapping]) -> dict[str, str] | None:
        """The replication's verdict on the same figure of the same chapter, or None if it has none."""
        for v in verdicts:
            if v["chapter"] == chapter and paper_name(v["figure"]) == name:
                return {"verdict": v.get("verdict", ""), "scale": short_scale(v.get("scale_raw", v.get("scale", ""))),
                        "detail": v.get("detail", ""), "commit": v.get("commit", ""), "recorded": v.get("recorded", "")}
        return None

    def __repr__(self) -> str:
        lines = [f"Built with profile {self.profile!r}: {self.description}"]
        if not self.rows and not self.kept:
            lines.append("No verdicts have been recorded yet at this profile.")
        for row in self.table():
            kept = row["kept"]
            at_paper = f" | paper's scale: {kept['verdict']} ({kept['profile']}, {kept['date']})" if kept else ""
            reason = f" ({row['reason']})" if row["reason"] else ""
            others = "".join(f" | {REPLICATION_TITLES.get(p, p)}: {v['verdict'] if v else '—'}"
                             for p, v in row["replications"].items())
            lines.append(f"{row['item']} | {row['short_claim']} | {row['verdict'] or '—'}{reason} | {row['scale']}{at_paper}{others}")
        if self.without:
            lines.append("Chapters without a recorded verdict: " + ", ".join(c[1] for c in self.without))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        titles = {name: title for name, title, _ in self.chapters}
        parts = [
            f'<p class="shortcut-profile">This page was built with profile <code>{e(self.profile)}</code>: '
            f"{e(self.description)}</p>"
        ]
        if not self.rows and not self.kept:
            parts.append(
                '<p class="shortcut-noverdicts"><strong>No verdicts have been recorded yet</strong> at this '
                "profile: no chapter has run to its verdicts.</p>"
            )
        else:
            body = []
            for row in self.table():
                where = e(titles.get(row["chapter"], row["chapter"]), quote=True)
                item = (f'<a href="{e(row["link"], quote=True)}" title="{where}">{e(row["item"])}</a>'
                        if row["link"] else f'<span title="{where}">{e(row["item"])}</span>')
                claim = f'<span class="shortcut-claim" title="{e(row["claim"], quote=True)}">{e(row["short_claim"])}</span>'
                if row["verdict"]:
                    verdict = _badge(row["verdict"])
                    if row["reason"]:
                        verdict += f'<span class="shortcut-sub" title="{e(row["detail"], quote=True)}">{e(row["reason"])}</span>'
                else:
                    verdict = '<span class="shortcut-sub">not run at this profile</span>'
                if row["scale"]:
                    claim += (f'<span class="shortcut-sub shortcut-scale" title="{e(row["scale_full"], quote=True)}">'
                              f'{e(row["scale"])}</span>')
                kept = row["kept"]
                if kept:
                    when = f'{e(kept["profile"])}, {e(kept["date"])}'
                    when = f'<a href="{e(kept["link"], quote=True)}">{when}</a>' if kept["link"] else when
                    facts = kept["summary"] + (f"; scale: {kept['scale']}" if kept["scale"] else "")
                    paper = f'{_badge(kept["verdict"])}<span class="shortcut-sub" title="{e(facts, quote=True)}">{when}</span>'
                else:
                    paper = '<span class="shortcut-sub">—</span>'
                held_out = "".join(f'<td class="shortcut-replication">{_replication_cell(v)}</td>'
                                   for v in row["replications"].values())
                body.append(f'<tr class="{"shortcut-ours" if row["ours"] else "shortcut-paper"}">'
                            f'<td class="shortcut-item">{item}</td><td class="shortcut-what">{claim}</td>'
                            f'<td class="shortcut-verdict">{verdict}</td><td class="shortcut-kept">{paper}</td>{held_out}</tr>')
            parts.append(
                '<table class="table shortcut-status"><thead><tr><th>figure</th><th>the claim · the scale it ran at</th>'
                f"<th>verdict</th><th>the paper's scale</th>"
                + "".join(f"<th>{e(REPLICATION_TITLES.get(p, p))}</th>" for p in self.replications)
                + "</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table>"
            )
        if self.without:
            links = ", ".join(f'<a href="{e(link)}">{e(title)}</a>' if link else f"{e(title)} (not in this build)"
                              for _, title, link in self.without)
            parts.append(f"<p>Chapters without a recorded verdict at this profile: {links}.</p>")
        return "\n".join(parts)


def _replication_cell(v: Mapping | None) -> str:
    """A replication's verdict as a badge, its scale and the commit its criteria ran at as a tooltip."""
    if not v:
        return '<span class="shortcut-sub">—</span>'
    facts = f"scale: {v['scale']}" + (f"; criteria of commit {v['commit'][:12]}" if v.get("commit") else "")
    return f'{_badge(v["verdict"])}<span class="shortcut-sub" title="{html.escape(v["detail"], quote=True)}">{html.escape(facts)}</span>'


def _kept_summary(kept: Mapping) -> str:
    """Where and when a kept run was computed, in one line (``shortcut.book.kept.Kept.summary``)."""
    summary = getattr(kept, "summary", None)
    return summary if isinstance(summary, str) else f"profile {kept.get('profile', '')}, computed {kept.get('computed', '')}"


def status_report(P: Params, show: bool = True) -> StatusReport:
    """Collect the verdicts under ``P.results_dir`` and the kept runs of ``book/figures/`` for the intro
    page (and show them)."""
    from .kept import kept_figures

    root = P.root
    pages = toc_pages(root)
    here = Path(pages[0]).parent if pages else Path("book")
    chapters, anchors = [], {}
    for page in pages[1:]:
        name = Path(page).name
        try:
            source, kind = page_source(page, root)
        except ValueError:
            continue
        if kind != "notebook":
            continue
        link = os.path.relpath(page, here).replace(os.sep, "/") + ".html"
        chapters.append((name, _page_title(root, page), link))
        anchors[name] = page_anchors(Path(source).read_text(encoding="utf-8"), name)
    # In a build, link only the chapters that made it into the site (the staging tree's notebooks).
    stage = os.environ.get(STAGE_ENV)
    if stage:
        chapters = [(n, t, link if (Path(stage) / here / link).with_suffix(".ipynb").is_file() else "")
                    for n, t, link in chapters]
    rows = load_verdicts(P.results_dir, order=[Path(p).name for p in pages])
    report = StatusReport(P.profile, P.description, rows, chapters, Path(P.results_dir), anchors, kept_figures(root),
                          load_replications(root))
    if show:
        _show(report)
    return report
