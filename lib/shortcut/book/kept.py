"""Figures kept in the repository: the result of a long run shown on pages built at other profiles.

A run at the paper's scale takes hours, so the book's default build cannot redo it; instead the page
shows the figure that run produced, with when, where and at which parameters it was computed:

1. the chapter saves the figure with :func:`save_figure` — ``<results_dir>/figures/<chapter>/<name>.png``
   (stamped with the profile, the date and the machine) and ``<name>.json`` beside it (those, the
   parameters that differ from the profile, and the figure's verdict);
2. ``python -m shortcut.book.kept --profile paper mnist/fig7`` (``make keep``) copies both into the
   repository as ``book/figures/<chapter>/<name>-<profile>.{png,json}``;
3. the page shows the image with a MyST ``{figure}`` directive and the facts with :func:`load_kept`;
   the intro's status table shows the kept run's verdict next to the profile's (:func:`kept_figures`).
   A chapter's build hash covers ``book/figures/<chapter>/``, so keeping a new figure re-runs it.

A held-out replication (a profile such as ``fashion``: the same criteria on other data) keeps its
verdicts instead: ``python -m shortcut.book.kept --profile fashion --verdicts`` (``make keep-verdicts``)
copies ``<results_dir>/verdicts/*.json`` into ``book/replications/<profile>/`` (:func:`keep_verdicts`),
and the status table shows them as a column of their own.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import html
import json
import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Any, Mapping

import torch

from .profiles import KEPT_FIGURES as FIGURES, KEPT_VERDICTS, _fmt, chapter_defaults, find_root, toc_pages
from .verdicts import Verdict, _page_title, _write_json_atomic
from ..experiments.records import atomic_write

_SKIP = ("profile", "results_dir")  # always passed by the build; not a change of scale


def machine(device: str | torch.device = "cpu") -> str:
    """The machine in words: the GPU's name for a CUDA device, else the CPU's model and core count."""
    device = torch.device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as fh:
                name = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
        name = f"{os.cpu_count()}-core CPU ({name})"
    return f"{name}, {platform.system()}, torch {torch.__version__}"


def changed_parameters(P: Any) -> dict[str, Any]:
    """The parameters of ``P`` (a ``shortcut.book.Params``) set on the command line or by hand, not
    taken from the profile."""
    return {k: v for k, v in P.as_dict().items() if P.sources.get(k) == "given" and k not in _SKIP}


def save_figure(P: Any, fig, name: str, verdict: Mapping | None = None) -> Path:
    """Save ``fig`` as ``<P.results_dir>/figures/<P.chapter>/<name>.png`` with a stamp line (profile,
    date, machine) and the facts as ``<name>.json`` beside it; both written atomically. Returns the PNG."""
    folder = Path(P.results_dir) / "figures" / P.chapter
    when = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    meta = {
        "chapter": P.chapter,
        "figure": name,
        "profile": P.profile,
        "computed": when.isoformat(),
        "machine": machine(P.as_dict().get("device", "cpu")),
        "changed_parameters": {k: _fmt(v) for k, v in changed_parameters(P).items()},
        "parameters": {k: _fmt(v) for k, v in P.as_dict().items() if k not in _SKIP},
        "verdict": dict(verdict) if verdict is not None else None,
    }
    stamp = fig.text(0.99, 1.0, f"profile {P.profile} · {when:%Y-%m-%d %H:%M} UTC · {meta['machine']}",
                     ha="right", va="bottom", fontsize=7, color="#555555")
    png = folder / f"{name}.png"
    try:
        with atomic_write(png, "wb") as fh:
            fig.savefig(fh, format="png", bbox_inches="tight")
    finally:
        stamp.remove()
    _write_json_atomic(png.with_suffix(".json"), meta)
    return png


def keep(results_dir: str | os.PathLike, chapter: str, name: str, profile: str, root: Path | None = None) -> Path:
    """Copy a saved figure (PNG and JSON) into ``book/figures/<chapter>/<name>-<profile>.*``."""
    root = root or find_root()
    src = Path(results_dir) / "figures" / chapter / f"{name}.png"
    if not src.is_file() or not src.with_suffix(".json").is_file():
        saved = sorted(p.relative_to(Path(results_dir) / "figures").with_suffix("").as_posix()
                       for p in (Path(results_dir) / "figures").glob("*/*.png"))
        raise FileNotFoundError(f"no figure {chapter}/{name} saved under {results_dir}; run the chapter at that "
                                f"profile first. Saved there: {', '.join(saved) or 'none'}")
    dst = root / FIGURES / chapter / f"{name}-{profile}.png"
    dst.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".png", ".json"):
        shutil.copyfile(src.with_suffix(suffix), dst.with_suffix(suffix))
    return dst


def keep_verdicts(results_dir: str | os.PathLike, profile: str, root: Path | None = None,
                  chapters: list[str] | None = None) -> list[Path]:
    """Copy the verdicts a held-out replication recorded at ``profile`` (``<results_dir>/verdicts/<chapter>.json``,
    every chapter or ``chapters``) into ``book/replications/<profile>/<chapter>.json``, which the intro's
    status table shows as a column beside the book's own verdicts.

    A replication tests criteria fixed before it ran, so each file must name the commit its checks ran
    at (``commit``, written by ``record_verdict``), and that commit must have been clean: a file whose
    checks ran at uncommitted code is refused (ValueError)."""
    root = root or find_root()
    folder = Path(results_dir) / "verdicts"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if chapters is not None:
        missing = sorted(set(chapters) - {f.stem for f in files})
        if missing:
            raise FileNotFoundError(f"no verdicts of {', '.join(missing)} under {folder}; run those chapters at "
                                    f"profile {profile} first")
        files = [f for f in files if f.stem in chapters]
    if not files:
        raise FileNotFoundError(f"no verdicts under {folder}; run the chapters at profile {profile} first")
    kept = []
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        commit = str(data.get("commit", ""))
        if data.get("profile") != profile:
            raise ValueError(f"{path}: recorded at profile {data.get('profile')!r}, not {profile!r}")
        if not commit or commit.endswith("+uncommitted"):
            raise ValueError(f"{path}: its checks ran at {'uncommitted code' if commit else 'an unknown commit'} "
                             f"({commit or 'no commit recorded'}); a replication keeps only verdicts whose criteria "
                             "were committed before it ran: commit, then run the chapter again")
        data["kept"] = {"computed": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
                        "machine": machine("cpu")}
        dst = root / KEPT_VERDICTS / profile / path.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(dst, data)
        kept.append(dst)
    return kept


class Kept(dict):
    """The facts of a kept figure; shows itself as a box (where, when, at what scale, with what verdict)."""

    @property
    def summary(self) -> str:
        changed = self.get("changed_parameters") or {}
        extra = f"; changed from the profile: {', '.join(f'{k}={v}' for k, v in changed.items())}" if changed else ""
        when = self["computed"][:16].replace("T", " ")  # ISO 8601 in UTC, to the minute
        return f"profile {self['profile']}, computed {when} UTC on {self['machine']}{extra}"

    def facts(self, root: Path | None = None) -> dict[str, str]:
        """What a page quotes about the kept run, as text: its ``verdict``, the ``summary`` (profile, when,
        where), the ``scale`` its verdict was reached at, the ``changes`` from its profile, each with the
        profile's own value (e.g. the depths a run that did not finish left out), and, where there are
        changes, how to ``rerun`` it at the profile's own parameters."""
        v = self.get("verdict") or {}
        try:
            profile = chapter_defaults(self["profile"], self["chapter"], root or find_root())
        except (FileNotFoundError, ValueError):  # a profile or section since renamed: the values alone
            profile = {}
        changes = [f"{k} = {value}" + (f" (the {self['profile']} profile: {_fmt(profile[k])})" if k in profile else "")
                   for k, value in (self.get("changed_parameters") or {}).items()]
        rerun = (f"Its records are kept per job, so running the {self['chapter']} chapter again at the "
                 f"{self['profile']} profile's own parameters computes only what this run left out, and keeping the "
                 f"figure again (make keep) replaces this one.") if changes else ""  # plain text: it is glued
        return {"verdict": v.get("verdict", "none recorded"), "summary": self.summary, "scale": v.get("scale", ""),
                "changes": "; ".join(changes) or f"none: the {self['profile']} profile's own parameters",
                "rerun": rerun}

    def __repr__(self) -> str:
        v = self.get("verdict") or {}
        return f"Kept figure {self['chapter']}/{self['figure']}: {self.summary}" + (
            f"; verdict: {v.get('verdict')}" if v else "")

    def _repr_html_(self) -> str:
        v = self.get("verdict")
        box = Verdict(**v)._repr_html_() if v else ""
        return (f'<div class="shortcut-kept"><em>Kept figure</em> <code>{html.escape(self["file"])}</code>: '
                f"{html.escape(self.summary)}.{box}</div>")


def load_kept(chapter: str, name: str, root: Path | None = None) -> Kept:
    """The facts of ``book/figures/<chapter>/<name>.json`` (``name`` as kept, e.g. ``fig7-paper``)."""
    root = root or find_root()
    path = root / FIGURES / chapter / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no kept figure {path}; keep one with `python -m shortcut.book.kept --profile <profile> "
                                f"{chapter}/<figure>` after running the chapter at that profile")
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return Kept(**data, file=(FIGURES / chapter / f"{name}.png").as_posix())


class KeptTable(list):
    """Every kept figure's facts; the intro's status table (``shortcut.book.verdicts.status_report``)
    shows each kept run's verdict in the row of the figure it reproduces."""

    def __repr__(self) -> str:
        return "\n".join(repr(k) for k in self) or "No figures are kept."


def kept_figures(root: Path | None = None) -> KeptTable:
    """Every figure kept under ``book/figures/`` (chapter by chapter, then by name), each with its
    chapter's title and, when the chapter is a page of the book, a link to it from a page in ``book/``."""
    root = root or find_root()
    pages = {Path(p).name: p for p in toc_pages(root)}
    table = KeptTable()
    for path in sorted((root / FIGURES).glob("*/*.json")):
        k = load_kept(path.parent.name, path.stem, root)
        page = pages.get(k["chapter"])
        if page:
            k.update(title=_page_title(root, page), link=f"{Path(page).name}.html")
        table.append(k)
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m shortcut.book.kept", description=(
        "Copy a figure a chapter saved at some profile into book/figures/<chapter>/<figure>-<profile>.{png,json}; "
        "with --verdicts, copy the verdicts of a held-out replication into book/replications/<profile>/."))
    ap.add_argument("figure", nargs="?", help="chapter/figure, e.g. mnist/fig7 (without --verdicts)")
    ap.add_argument("--profile", required=True, help="the profile the chapter ran at")
    ap.add_argument("--results-dir", type=Path, help="default: <root>/_build/results/<profile>")
    ap.add_argument("--verdicts", nargs="*", metavar="CHAPTER",
                    help="keep the verdicts of these chapters (none named: every chapter that recorded one)")
    args = ap.parse_args(argv)
    root = find_root()
    results = args.results_dir or root / "_build" / "results" / args.profile
    if args.verdicts is not None:
        if args.figure:
            ap.error("give either a figure or --verdicts, not both")
        try:
            kept = keep_verdicts(results, args.profile, root, args.verdicts or None)
        except (FileNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print("kept " + ", ".join(str(p.relative_to(root)) for p in kept))
        return 0
    if not args.figure:
        ap.error("name a figure (chapter/figure, e.g. mnist/fig7) or give --verdicts")
    chapter, sep, name = args.figure.partition("/")
    if not sep or not chapter or not name:
        ap.error(f"figure must be chapter/figure such as mnist/fig7, got {args.figure!r}")
    try:
        dst = keep(results, chapter, name, args.profile, root)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"kept {dst.relative_to(root)} and {dst.with_suffix('.json').relative_to(root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
