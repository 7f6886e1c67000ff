"""Build the book: execute every chapter with papermill at one profile, then one jupyter-book build.

    python -m shortcut.book.build --profile default [--chapters NAME ...] [-p chapter.param=value ...]
                                  [--force] [--strict] [--build-dir DIR] [--results-dir DIR] [--list]

1. Each notebook page of ``_toc.yml`` (a Jupytext MyST ``book/<name>.md``) is converted to
   ``<build>/<profile>/notebooks/<name>.ipynb`` and executed by papermill (kernel ``python3``, working
   directory ``book/``, parameters ``profile``, ``results_dir`` and the ``-p`` overrides) into
   ``<build>/<profile>/running/``; when it has run to the end it moves into the staging tree
   ``<build>/<profile>/site-src/`` that mirrors the repository (``_config.yml``, ``_toc.yml``,
   ``references.bib``, ``book/*.ipynb`` and every other file under ``book/``). A chapter that fails
   or is interrupted leaves its notebook in ``<build>/<profile>/failed/`` instead, so no later site
   build picks up half a chapter. The toc's root page (the intro, which shows the verdicts of the
   others) runs last. Before a chapter runs, its verdict file is deleted: its verdicts are replaced,
   not merged.
2. A chapter runs again only when its source, any file under ``lib/shortcut/``, its kept figures
   (``book/figures/<chapter>/``), its section of the profile (with ``common:`` and the description)
   or its overrides changed (a hash is kept next to the executed notebook, with the hash of each of
   those parts, so the build says which changed); ``--force`` runs them all. The root page runs
   again whenever any chapter ran, or when the recorded verdicts or kept figures changed.
3. One ``jupyter-book build`` of the staging tree (no execution, warnings are errors: ``-W -n
   --keep-going``), copied to ``<build>/html`` for the default profile, ``<build>/<profile>/html``
   otherwise. Before it, each page's labels are qualified with its name and references to pages
   not in this site become plain text (``shortcut.book.labels``).

``--results-dir`` without ``--build-dir`` builds into ``<results-dir>/_build``: a results folder
other than the book's never writes the book's site. A build folder remembers the results folder it
was built from and refuses another one (exit status 2).

Exit status: 0 built; 1 a chapter or the site build failed; 2 a bad command line (unknown profile,
chapter or parameter, malformed override, a build folder of another results folder), found before
anything runs; 130 interrupted (Ctrl-C): one line says what was kept and how to resume.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..science import timing
from . import labels, time_profile
from . import profiles as book
from .lock import results_lock
from .schema import FORCE_SIZE_ENV
from .verdicts import _page_title

HASH_SUFFIX = ".sha256"
HASH_VERSION = "shortcut.build/2"
RESULTS_MARK = "results-dir"  # <build>/<profile>/results-dir: the results folder this build folder shows
ROOT_FILES = ("_config.yml", "_toc.yml", "references.bib")
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", "_build"}
_OVERRIDE = re.compile(r"^(?P<chapter>[A-Za-z0-9_\-]+)\.(?P<param>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$", re.S)


class UsageError(Exception):
    """A bad command line: reported before anything runs, exit status 2."""


class ChapterFailed(Exception):
    """A chapter raised while it ran."""


@dataclass
class Page:
    page: str  # toc path without suffix, e.g. "book/intro"
    source: Path
    kind: str  # "notebook" | "markdown"

    @property
    def name(self) -> str:
        return Path(self.page).name


@dataclass
class Plan:
    root: Path
    profile: str
    profile_data: dict
    build_dir: Path
    results_dir: Path
    pages: list[Page]
    selected: list[str]
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    force: bool = False
    strict: bool = False
    profile_time: bool = False
    jobs: int = 1  # chapters executed side by side (--jobs)
    times: list[dict] = field(default_factory=list)  # --profile-time: a row per executed chapter (shortcut.book.time_profile)
    executed: list[str] = field(default_factory=list)  # chapters run to the end by this build, in order
    started: float = field(default_factory=time.time)

    @property
    def notebooks(self) -> list[Page]:
        return [p for p in self.pages if p.kind == "notebook"]

    @property
    def profile_dir(self) -> Path:
        return self.build_dir / self.profile

    @property
    def stage(self) -> Path:
        return self.profile_dir / "site-src"

    @property
    def converted(self) -> Path:
        return self.profile_dir / "notebooks"

    @property
    def site(self) -> Path:
        return self.build_dir / "html" if self.profile == "default" else self.profile_dir / "html"

    @property
    def running(self) -> Path:
        return self.profile_dir / "running"

    @property
    def failed(self) -> Path:
        return self.profile_dir / "failed"


# ---------------------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------------------


def default_jobs() -> int:
    """Chapters side by side by default: one per core (``SHORTCUT_JOBS`` overrides)."""
    text = os.environ.get("SHORTCUT_JOBS", "")
    return int(text) if text.isdigit() and int(text) > 0 else max(1, os.cpu_count() or 1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m shortcut.book.build",
        description="Execute the book's chapters with papermill at one profile, then build the site with jupyter-book.",
    )
    ap.add_argument("--profile", default="default", help="a file in book/profiles/ (default: %(default)s)")
    ap.add_argument("--chapters", nargs="+", metavar="NAME", help="run only these chapters (the intro follows them)")
    ap.add_argument(
        "-p", "--param", action="append", default=[], metavar="CHAPTER.PARAM=VALUE",
        help="override one parameter of one chapter; VALUE is read as YAML (3, 1e-3, [2, 4, 8], cpu)",
    )
    ap.add_argument("--force", action="store_true",
                    help="re-run every chapter, even those up to date (but not one that a build this one waited for "
                         "ran after this build started)")
    ap.add_argument("--force-size", action="store_true",
                    help="run a depth whose exact Hessian the parameter check finds too large for this machine's memory")
    ap.add_argument(
        "--strict", action="store_true",
        help="also fail when a chapter's notebook is missing or stale, and check the built site's links",
    )
    ap.add_argument("--build-dir", type=Path,
                    help="where builds go (default: <root>/_build; <results-dir>/_build when --results-dir is given)")
    ap.add_argument("--results-dir", type=Path, help="where chapters write results and verdicts (default: <build-dir>/results/<profile>)")
    ap.add_argument("--no-site", action="store_true", help="execute the chapters but do not build the site")
    ap.add_argument("--jobs", type=int, default=None, metavar="N",
                    help="execute up to N chapters side by side, the cores shared out among their kernels "
                         f"(default: one per core, here {default_jobs()}; 1: one after another)")
    ap.add_argument("--profile-time", action="store_true",
                    help="print where each executed chapter's time went (kernel start-up, set-up, GD, Hessians, "
                         "eigendecompositions, CIFAR steps, the rest) and the site build's; kept in <build>/<profile>/time-profile.json")
    ap.add_argument("--list", action="store_true", help="list the profiles, the chapters and their parameters, and stop")
    return ap.parse_args(argv)


def parse_override(text: str) -> tuple[str, str, Any]:
    m = _OVERRIDE.match(text)
    if not m:
        raise UsageError(f"-p {text!r} is not of the form CHAPTER.PARAM=VALUE (e.g. -p theorems.depths=[1,2,4])")
    try:
        value = book.read_value(m["value"])
    except yaml.YAMLError as err:
        raise UsageError(f"-p {text!r}: the value is not valid YAML ({err})") from err
    return m["chapter"], m["param"], value


def make_plan(args: argparse.Namespace) -> Plan:
    try:
        root = book.find_root()
    except ValueError as err:
        raise UsageError(str(err)) from err
    profiles = book.profile_names(root)
    if args.profile not in profiles:
        raise UsageError(f"--profile {args.profile!r} is not a profile; valid profiles: {', '.join(profiles)} (files in {book.profiles_dir(root)})")
    try:
        data = book.load_profile(args.profile, root)
        pages = [Page(p, *book.page_source(p, root)) for p in book.toc_pages(root)]
    except ValueError as err:
        raise UsageError(str(err)) from err
    if not pages:
        raise UsageError(f"{root / '_toc.yml'} lists no pages")
    names = [p.name for p in pages]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UsageError(f"_toc.yml lists pages with the same name twice: {', '.join(dup)}")
    notebooks = [p.name for p in pages if p.kind == "notebook"]
    missing = [n for n in notebooks if n not in data["chapters"]]
    if missing:
        raise UsageError(
            f"profile {args.profile!r} ({data['path']}) has no section for chapter(s) {', '.join(missing)}; "
            f"add one to every file in {book.profiles_dir(root)}"
        )
    selected = list(dict.fromkeys(args.chapters or notebooks))
    unknown = [c for c in selected if c not in notebooks]
    if unknown:
        raise UsageError(f"unknown chapter(s) {', '.join(unknown)}; the chapters in _toc.yml: {', '.join(notebooks)}")

    overrides: dict[str, dict[str, Any]] = {}
    for text in args.param:
        chapter, param, value = parse_override(text)
        if chapter not in notebooks:
            raise UsageError(f"-p {text!r}: unknown chapter {chapter!r}; the chapters in _toc.yml: {', '.join(notebooks)}")
        if param in ("profile", "results_dir"):
            raise UsageError(f"-p {text!r}: {param} is set for the whole build; use --{param.replace('_', '-')}")
        valid = list(book.chapter_defaults(data, chapter, root))
        if param not in valid:
            raise UsageError(
                f"-p {text!r}: {param!r} is not a parameter of chapter {chapter!r} in profile {args.profile!r}; "
                f"valid parameters: {', '.join(valid) or '(none)'}"
            )
        overrides.setdefault(chapter, {})[param] = value

    from .schema import check_chapters  # every value of every chapter to run, against book/profiles/schema.yaml

    try:
        for message in check_chapters(data, selected, overrides, root):
            print(f"shortcut.build: warning: {message}", file=sys.stderr)
    except ValueError as err:
        raise UsageError(str(err)) from err

    build_dir, results_dir = build_and_results_dirs(root, args.profile, args.build_dir, args.results_dir)
    jobs = default_jobs() if args.jobs is None else args.jobs
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: the number of chapters executed side by side must be at least 1")
    plan = Plan(root, args.profile, data, build_dir, results_dir, pages, selected, overrides, args.force, args.strict,
                args.profile_time, jobs=jobs)
    check_results_dir(plan)
    return plan


def build_and_results_dirs(root: Path, profile: str, build_dir: Path | None, results_dir: Path | None) -> tuple[Path, Path]:
    """The build and results folders. The book's results folder is ``<root>/_build/results/<profile>``;
    a build of another results folder (``--results-dir`` without ``--build-dir``) goes to
    ``<results-dir>/_build``, so it never overwrites the book's site."""
    default_build = (root / "_build").resolve()
    results = results_dir.expanduser().resolve() if results_dir is not None else None
    if build_dir is not None:
        build = build_dir.expanduser().resolve()
    elif results is None or results == default_build / "results" / profile:
        build = default_build
    else:
        build = results / "_build"
    return build, results if results is not None else build / "results" / profile


def check_results_dir(plan: Plan) -> None:
    """A build folder shows one results folder: refuse to build it from another one."""
    mark = plan.profile_dir / RESULTS_MARK
    if mark.is_file():
        before = mark.read_text(encoding="utf-8").strip()
        if before and Path(before) != plan.results_dir:
            raise UsageError(
                f"the build folder {plan.profile_dir} holds the site of results folder {before}, not of "
                f"{plan.results_dir}; give this results folder its own --build-dir (or leave --build-dir out: "
                f"it then defaults to {plan.results_dir / '_build'}), or delete {plan.profile_dir}"
            )


def list_book(plan: Plan) -> None:
    print(f"root: {plan.root}")
    print(f"profiles: {', '.join(book.profile_names(plan.root))}")
    print(f"profile {plan.profile!r}: {plan.profile_data['description']}")
    for page in plan.pages:
        if page.kind != "notebook":
            print(f"  {page.name:<16} (markdown page)")
            continue
        params = book.chapter_defaults(plan.profile_data, page.name, plan.root)
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "(no parameters of its own)"
        print(f"  {page.name:<16} {shown}")


# ---------------------------------------------------------------------------------------------------
# staging and hashing
# ---------------------------------------------------------------------------------------------------


def _digest(*chunks: tuple[str, bytes]) -> str:
    h = hashlib.sha256()
    for label, data in chunks:
        h.update(label.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def library_files(root: Path) -> list[Path]:
    lib = root / "lib" / "shortcut"
    return sorted(
        p for p in lib.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )


def kept_files(root: Path, chapter: str | None) -> list[Path]:
    """The figures kept for ``chapter`` (``book/figures/<chapter>/``, see ``shortcut.book.kept``): its page
    reads them. ``chapter=None``: every chapter's, and the kept verdicts of the replications
    (``book/replications/``): the root page shows them all."""
    folders = [root / book.KEPT_FIGURES / (chapter or "")] + ([root / book.KEPT_VERDICTS] if chapter is None else [])
    return sorted(p for folder in folders if folder.is_dir() for p in folder.rglob("*") if p.is_file())


def profile_section(data: dict, chapter: str) -> bytes:
    """What a chapter reads of a profile: the description, ``common:`` and its own section."""
    section = {"description": data["description"], "common": data["common"],
               "chapter": data["chapters"].get(chapter, {})}
    return json.dumps(section, sort_keys=True, default=str).encode()


#: What a chapter's hash covers, in words (the staleness report names the parts that changed).
PARTS = {
    "source": "its source", "library": "the library (lib/shortcut/)", "kept": "its kept figures",
    "profile": "its profile section", "overrides": "its -p overrides", "results_dir": "the results folder",
    "verdicts": "the recorded verdicts", "environment": "the installed versions (requirements/lock.txt, pyproject.toml)",
}

#: The files that say which versions a chapter runs with: after ``make lock LOCK_ARGS=--upgrade`` every
#: chapter is stale, since a new numpy or torch may change its numbers.
ENVIRONMENT_FILES = ("requirements/lock.txt", "pyproject.toml")


def environment_files(root: Path) -> list[Path]:
    return [root / name for name in ENVIRONMENT_FILES if (root / name).is_file()]


def fingerprint_parts(plan: Plan, page: Page, extra: list[Path] = ()) -> dict[str, str]:
    """The hash of each input of ``page``: its source, the library, the lock and pyproject.toml, its
    kept figures (every kept figure for the root page), its profile section, its overrides, the results
    folder, and ``extra`` files (the verdicts, for the root page)."""
    root_page = page is plan.pages[0]
    files = lambda paths, tag: [(tag + p.relative_to(plan.root).as_posix(), p.read_bytes()) for p in paths]  # noqa: E731
    parts = {
        "source": _digest(("source", page.source.read_bytes())),
        "library": _digest(*files(library_files(plan.root), "lib:")),
        "environment": _digest(*files(environment_files(plan.root), "env:")),
        "kept": _digest(*files(kept_files(plan.root, None if root_page else page.name), "kept:")),
        "profile": _digest(("profile", profile_section(plan.profile_data, page.name))),
        "overrides": _digest(("overrides", json.dumps(plan.overrides.get(page.name, {}), sort_keys=True, default=str).encode())),
        "results_dir": _digest(("results_dir", str(plan.results_dir).encode())),
    }
    if extra:
        parts["verdicts"] = _digest(*[("extra:" + p.name, p.read_bytes()) for p in extra])
    return parts


def fingerprint(plan: Plan, page: Page, extra: list[Path] = ()) -> str:
    parts = fingerprint_parts(plan, page, extra)
    return _digest(("version", HASH_VERSION.encode()), *[(k, v.encode()) for k, v in sorted(parts.items())])


def executed_path(plan: Plan, page: Page) -> Path:
    return plan.stage / f"{page.page}.ipynb"


def hash_path(plan: Plan, page: Page) -> Path:
    out = executed_path(plan, page)
    return out.with_name(out.name + HASH_SUFFIX)


def failed_path(plan: Plan, page: Page) -> Path:
    return plan.failed / f"{page.page}.ipynb"


def write_hash(plan: Plan, page: Page, extra: list[Path] = ()) -> None:
    parts = fingerprint_parts(plan, page, extra)
    record = {"digest": fingerprint(plan, page, extra), "version": HASH_VERSION, "parts": parts}
    hash_path(plan, page).write_text(json.dumps(record, indent=1) + "\n")


def read_hash(plan: Plan, page: Page) -> dict:
    try:
        record = json.loads(hash_path(plan, page).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def is_current(plan: Plan, page: Page, digest: str) -> bool:
    return executed_path(plan, page).is_file() and read_hash(plan, page).get("digest") == digest


def what_changed(plan: Plan, page: Page, extra: list[Path] = ()) -> str:
    """Which inputs of an executed chapter changed since it ran, in words."""
    before = read_hash(plan, page).get("parts")
    if not isinstance(before, dict):
        return "it was executed by another version of the build, which kept no hash of its inputs"
    now = fingerprint_parts(plan, page, extra)
    changed = [PARTS.get(k, k) for k in now if before.get(k) != now[k]]
    return (", ".join(changed) or "the build's hash format") + " changed"


def stage_static(plan: Plan) -> None:
    """Copy the root files and every non-notebook file under book/ into the staging tree, and remove
    staged files that no longer have a source (executed notebooks of toc chapters are kept)."""
    stage = plan.stage
    stage.mkdir(parents=True, exist_ok=True)
    for name in ROOT_FILES:
        src = plan.root / name
        if src.is_file():
            shutil.copy2(src, stage / name)
    keep = set()
    for page in plan.notebooks:
        out = executed_path(plan, page)
        keep |= {out, out.with_name(out.name + HASH_SUFFIX)}
    wanted: dict[Path, Path] = {}
    src_book = plan.root / "book"
    notebook_sources = {p.source.resolve() for p in plan.notebooks}
    for dirpath, dirnames, filenames in os.walk(src_book):
        rel = Path(dirpath).relative_to(plan.root)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
        if rel == Path("book"):
            dirnames[:] = [d for d in dirnames if d != "profiles"]  # read by configure(), not a page
        for fn in filenames:
            src = Path(dirpath) / fn
            if fn.startswith(".") or src.resolve() in notebook_sources or src.suffix in (".pyc",):
                continue
            if src.suffix == ".md" and book.page_source(str(src.relative_to(plan.root).with_suffix("")), plan.root)[1] == "notebook":
                continue  # a notebook not in the toc: only_build_toc_files would skip it anyway
            wanted[stage / rel / fn] = src
    staged_book = stage / "book"
    if staged_book.is_dir():
        for p in sorted(staged_book.rglob("*"), reverse=True):
            if p.is_file() and p not in keep and p not in wanted:
                p.unlink()
            elif p.is_dir() and not any(p.iterdir()):
                p.rmdir()
    for dst, src in wanted.items():
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists() or dst.stat().st_mtime_ns != src.stat().st_mtime_ns or dst.stat().st_size != src.stat().st_size:
            shutil.copy2(src, dst)


def write_stage_toc(plan: Plan, leave_out: set[str]) -> None:
    """The staged _toc.yml: the source's, less the pages in ``leave_out`` (chapters not run to the end)
    and any page the plan does not know (added to _toc.yml while this build ran)."""
    with open(plan.root / "_toc.yml", encoding="utf-8") as fh:
        toc = yaml.safe_load(fh)
    leave_out = set(leave_out)
    known = {p.page for p in plan.pages}

    def prune(entries: list) -> list:
        out = []
        for entry in entries or []:
            if isinstance(entry, dict):
                f = entry.get("file")
                page = os.path.splitext(str(f))[0] if f is not None else None
                if page is not None and (page in leave_out or page not in known):
                    continue
                entry = dict(entry)
                for key in ("parts", "chapters", "sections"):
                    if key in entry:
                        entry[key] = prune(entry[key])
                        if not entry[key]:
                            del entry[key]
            out.append(entry)
        return out

    for key in ("parts", "chapters", "sections"):
        if key in toc:
            toc[key] = prune(toc[key])
    with open(plan.stage / "_toc.yml", "w", encoding="utf-8") as fh:
        fh.write("# Written by shortcut.build from the repository's _toc.yml.\n")
        yaml.safe_dump(toc, fh, sort_keys=False)


# ---------------------------------------------------------------------------------------------------
# execution
# ---------------------------------------------------------------------------------------------------


def convert(plan: Plan, page: Page) -> Path:
    """Jupytext .md -> .ipynb under <build>/<profile>/notebooks/ (the source tree is left alone)."""
    import jupytext
    import nbformat

    dst = plan.converted / f"{page.page}.ipynb"
    dst.parent.mkdir(parents=True, exist_ok=True)
    if page.source.suffix == ".ipynb":
        shutil.copy2(page.source, dst)
        return dst
    nb = jupytext.read(page.source)
    nb.metadata.setdefault("kernelspec", {"display_name": "Python 3", "language": "python", "name": "python3"})
    nbformat.write(nb, dst)
    return dst


class _ChapterPrefix(logging.Filter):
    """Papermill's lines of a chapter run side by side with others start with the chapter's name (its thread's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        thread = threading.current_thread()
        record.chapter = "" if thread is threading.main_thread() else f"[{thread.name}] "
        return True


def _papermill_logging() -> None:
    logger = logging.getLogger("papermill")
    if not any(getattr(h, "_shortcut", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("    %(chapter)s%(message)s"))
        handler.addFilter(_ChapterPrefix())
        handler._shortcut = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _asyncio_log_to(path: Path) -> None:
    """Send asyncio's own log to the chapter's log file, not the terminal. After a Ctrl-C, nbclient
    abandons the task that waits on the cell; when the kernel then dies, that task's DeadKernelError
    is logged as "Task exception was never retrieved" with a traceback, at garbage collection, after
    the build's one-line summary. It belongs beside the kernel's dying words."""
    logger = logging.getLogger("asyncio")
    handler = next((h for h in logger.handlers if isinstance(h, _PerChapterFile)), None)
    if handler is None:
        handler = _PerChapterFile()
        handler.setFormatter(logging.Formatter("build (asyncio): %(message)s"))
        logger.addHandler(handler)
    handler.paths[threading.current_thread().name] = path
    logger.propagate = False


class _PerChapterFile(logging.Handler):
    """Appends a record to the log file of the chapter whose thread logs it (the last chapter's when
    another thread does, e.g. at garbage collection)."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: dict[str, Path] = {}

    def emit(self, record: logging.LogRecord) -> None:
        path = self.paths.get(threading.current_thread().name) or next(reversed(self.paths.values()), None)
        if path is None:
            return
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(self.format(record) + "\n")
        except OSError:
            self.handleError(record)


def _kernel_manager(log: Any, env: dict[str, str] | None = None) -> type:
    """A kernel manager whose kernel writes its own stderr (start-up warnings, the kernel's dying
    words) to the open file ``log`` rather than to the build's terminal, and whose environment is the
    build's with ``env`` on top (per chapter: chapters run side by side share this process's own)."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
            cmd, kw = await super()._async_pre_start_kernel(**kw)
            kw["stderr"] = log
            if env:
                kw["env"] = {**(kw.get("env") or os.environ), **env}
            return cmd, kw

    return LoggedKernelManager


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (a chapter's kernel, and the workers it waited for)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def execute(plan: Plan, page: Page, threads: dict[str, str] | None = None) -> float:
    """Run one chapter into ``<build>/<profile>/running/``; returns its wall time. On success the
    notebook moves into the staging tree (hash first); on failure or interruption it moves to
    ``<build>/<profile>/failed/`` and ChapterFailed (or KeyboardInterrupt) says where. ``threads``:
    the kernel's thread settings (environment variables) when chapters run side by side."""
    import nbformat
    import papermill as pm

    src = convert(plan, page)
    out, running, failed = executed_path(plan, page), plan.running / f"{page.page}.ipynb", failed_path(plan, page)
    # What an earlier run left is out of date from now on: the page, its hash, its verdicts, a failed try.
    for stale in (hash_path(plan, page), out, failed, running, plan.results_dir / "verdicts" / f"{page.name}.json"):
        stale.unlink(missing_ok=True)
    running.parent.mkdir(parents=True, exist_ok=True)
    params = {"profile": plan.profile, **notebook_results_dir(plan), **plan.overrides.get(page.name, {})}
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
    print(f"==> {page.name}: executing {page.source.relative_to(plan.root)} ({shown})", flush=True)
    _papermill_logging()
    log_path = plan.profile_dir / "logs" / f"{page.name}.kernel.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")
    _asyncio_log_to(log_path)
    ledger = plan.profile_dir / "time-ledgers" / page.name  # --profile-time: the processes' ledgers (shortcut.science.timing)
    shutil.rmtree(ledger, ignore_errors=True)
    env = dict(threads or {})
    if plan.profile_time:
        env[timing.ENV] = str(ledger)
    t0, cpu0 = time.time(), _children_cpu()
    try:
        with open(log_path, "ab") as log:  # appends, as asyncio's handler does: neither overwrites the other
            pm.execute_notebook(
                str(src), str(running), parameters=params, kernel_name="python3", cwd=str(page.source.parent),
                log_output=True, progress_bar=sys.stderr.isatty(), request_save_on_cell_execute=True,
                kernel_manager_class=_kernel_manager(log, env),
            )
    except BaseException as err:
        if running.is_file():
            failed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(running, failed)
        where = f"{failed if failed.is_file() else 'none was written'}; the kernel's own log: {log_path}"
        if isinstance(err, KeyboardInterrupt):
            raise
        if isinstance(err, pm.PapermillExecutionError):
            tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(err.traceback or []))
            raise ChapterFailed(f"chapter {page.name!r} failed (cell [{err.exec_count}]): {err.ename}: {err.evalue}\n"
                                f"{tb}\n"
                                f"  the executed notebook, with the error and its traceback (left out of the site): "
                                f"{where}") from err
        # kernel died, timeout, missing kernel ...
        raise ChapterFailed(f"chapter {page.name!r} failed: {type(err).__name__}: {err}\n"
                            f"  the (partly) executed notebook (left out of the site): {where}") from err
    wall = time.time() - t0
    nb = nbformat.read(running, as_version=4)
    if plan.profile_time:
        # side by side, this process's finished children are several chapters': the CPU is counted for all of them
        cpu = None if threads is not None else _children_cpu() - cpu0
        plan.times.append(time_profile.chapter_row(page.name, nb, t0, wall, ledger, os.getpid(), cpu))
    for_readers(plan, nb)
    nbformat.write(nb, running)
    return wall


def notebook_results_dir(plan: Plan) -> dict[str, str]:
    """The ``results_dir`` papermill hands the notebook, which stays in the executed notebook the site
    offers for download: nothing for the checkout's own results folder (the chapter's ``None`` gives
    ``<root>/_build/results/<profile>``, in whatever checkout the notebook runs), a path relative to
    the root for another folder inside the checkout (``configure`` reads it so); an absolute path only
    for a folder outside it, which a copy of the notebook could not name otherwise."""
    root = plan.root.resolve()
    if plan.results_dir == root / "_build" / "results" / plan.profile:
        return {}
    try:
        return {"results_dir": plan.results_dir.relative_to(root).as_posix()}
    except ValueError:
        return {"results_dir": str(plan.results_dir)}


READER_NOTE = ("# Parameters this page was built with (papermill's). To run this notebook in a checkout of the\n"
               "# repository, keep it in book/; profile = \"ci\" is the smallest run, and a parameter left out\n"
               "# (None in the cell above) comes from book/profiles/<profile>.yaml.\n")


def for_readers(plan: Plan, nb: Any) -> None:
    """The executed notebook, as the site offers it for download: papermill's injected-parameters cell
    hidden on the page (the chapter's parameter table shows the resolved values, with where each came
    from) and saying how to re-run the notebook; papermill's record of its input and output files
    relative to the root, as ``results_dir`` is (:func:`notebook_results_dir`)."""
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" not in tags:
            continue
        if "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
        if not cell.source.startswith(READER_NOTE):
            cell.source = READER_NOTE + re.sub(r"^# Parameters\n", "", cell.source)
    record = nb.metadata.get("papermill", {})
    root = plan.root.resolve()
    for key in ("input_path", "output_path"):
        try:
            record[key] = Path(record[key]).resolve().relative_to(root).as_posix()
        except (KeyError, TypeError, ValueError):
            pass


def verdict_files(plan: Plan) -> list[Path]:
    folder = plan.results_dir / "verdicts"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def run_chapters(plan: Plan) -> tuple[list[str], list[str]]:
    """Execute what needs executing — the chapters up to ``plan.jobs`` at a time, then the root page,
    which shows their verdicts; returns (executed, left out of the site)."""
    os.environ.setdefault("TQDM_MININTERVAL", "20")  # progress bars in the kernels: a line every 20 s, not a page of them
    os.environ[book.ROOT_ENV] = str(plan.root)  # the kernels find the book even from a foreign cwd
    os.environ[book.STAGE_ENV] = str(plan.stage)  # the intro links only the chapters in the site
    plan.results_dir.mkdir(parents=True, exist_ok=True)
    notebooks = plan.notebooks
    root_page = plan.pages[0] if plan.pages[0].kind == "notebook" else None
    stale: list[str] = []
    todo = [p for p in notebooks if p is not root_page and _wanted(plan, p, False, stale)]
    run_side_by_side(plan, todo)
    if root_page is not None and _wanted(plan, root_page, True, stale):
        _finish(plan, root_page, execute(plan, root_page), is_root=True)
    missing = [p.name for p in notebooks if not executed_path(plan, p).is_file()]
    if plan.strict and (stale or missing):
        raise ChapterFailed(
            f"--strict: chapter(s) {', '.join(sorted(set(stale) | set(missing)))} are missing or stale at profile "
            f"{plan.profile!r}; build without --chapters (or with --force)"
        )
    return plan.executed, missing


def _wanted(plan: Plan, page: Page, is_root: bool, stale: list[str]) -> bool:
    """Whether ``page`` is to be executed now; says why not when it is not (a stale or missing page
    joins ``stale``). The root page runs whenever a chapter ran or the verdicts it shows changed."""
    extra = verdict_files(plan) if is_root else []
    current = is_current(plan, page, fingerprint(plan, page, extra))
    wanted = page.name in plan.selected or (is_root and bool(plan.executed)) or (is_root and not current)
    if not wanted:
        if not executed_path(plan, page).is_file():
            stale.append(page.name)
            if failed_path(plan, page).is_file():
                print(f"==> {page.name}: its last run at profile {plan.profile!r} failed or was interrupted "
                      f"({failed_path(plan, page)}); left out of the site")
            else:
                print(f"==> {page.name}: never executed at profile {plan.profile!r}; left out of the site")
        elif not current:
            stale.append(page.name)
            print(f"==> {page.name}: NOT re-executed although {what_changed(plan, page, extra)} "
                  "(not in --chapters); the site shows its last run")
        return False
    if current and (not plan.force or ran_since_start(plan, page)) and not (is_root and plan.executed):
        print(f"==> {page.name}: up to date ({executed_path(plan, page).relative_to(plan.build_dir)})")
        return False
    return True


def _finish(plan: Plan, page: Page, seconds: float, is_root: bool = False) -> None:
    """Hash what a chapter saw (the root page: the verdicts as they are now), then move it into the site."""
    running = plan.running / f"{page.page}.ipynb"
    out = executed_path(plan, page)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_hash(plan, page, verdict_files(plan) if is_root else [])
    os.replace(running, out)
    plan.executed.append(page.name)
    print(f"==> {page.name}: done in {seconds:.1f} s -> {out}", flush=True)


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def kernel_threads(jobs: int, cores: int | None = None) -> dict[str, str]:
    """The thread settings of each of ``jobs`` kernels side by side: the cores shared out (at least one
    each), so that the kernels' BLAS / OpenMP threads do not outnumber the cores — oversubscribed,
    their threads spin waiting on each other. A setting of the build's own environment is kept."""
    n = max(1, (cores or os.cpu_count() or 1) // max(1, jobs))
    return {var: str(n) for var in THREAD_VARS if var not in os.environ}


def has_pool(plan: Plan, page: Page) -> bool:
    """Whether ``page`` runs its jobs in a pool of processes of its own (``executor`` other than
    ``inline`` at this profile, with the build's overrides): its workers take the cores, so it runs alone."""
    values = {**book.chapter_defaults(plan.profile_data, page.name, plan.root), **plan.overrides.get(page.name, {})}
    return values.get("executor", "inline") not in (None, "inline")


def run_side_by_side(plan: Plan, pages: list[Page]) -> None:
    """Execute ``pages``: the chapters that compute in their own kernel up to ``plan.jobs`` at a time
    (each in a thread of this process that drives its kernel; the kernel logs are per chapter, and
    papermill's lines are prefixed with the chapter), then those with a pool of processes of their own
    (:func:`has_pool`) one after another — side by side, pool workers that outnumber the cores took 2 to
    3 times the CPU time for the same jobs (issue 24). A failed chapter stops new ones from starting;
    those already running finish, are kept, and then the failure is raised."""
    alone = [p for p in pages if has_pool(plan, p)]
    together = [p for p in pages if p not in alone]
    _together(plan, together)
    for page in alone:
        _finish(plan, page, execute(plan, page))


def _together(plan: Plan, pages: list[Page]) -> None:
    jobs = min(plan.jobs, len(pages))
    if jobs <= 1:
        for page in pages:
            _finish(plan, page, execute(plan, page))
        return
    threads = kernel_threads(jobs)
    print(f"==> {len(pages)} chapters, {jobs} at a time ({', '.join(f'{k}={v}' for k, v in threads.items()) or 'threads as set'} "
          "per kernel); papermill's lines start with the chapter's name", flush=True)
    done: queue.Queue = queue.Queue()

    def work(page: Page) -> None:
        try:
            done.put((page, execute(plan, page, threads), None))
        except BaseException as err:  # noqa: BLE001 - handed to the main thread, which raises it
            done.put((page, 0.0, err))

    pending, running, failure = list(pages), set(), None
    t0, cpu0 = time.time(), _children_cpu()
    while pending or running:
        while pending and len(running) < jobs and failure is None:
            page = pending.pop(0)
            running.add(page.name)
            threading.Thread(target=work, args=(page,), name=page.name, daemon=True).start()
        if not running:
            break
        try:
            page, seconds, err = done.get(timeout=0.5)
        except queue.Empty:
            continue
        running.discard(page.name)
        if err is None:
            _finish(plan, page, seconds)
        elif failure is None:
            failure = err
            if running:
                print(f"==> {page.name} failed; waiting for {', '.join(sorted(running))} to finish (kept), "
                      f"starting no other chapter", flush=True)
    if plan.profile_time:
        plan.times.append({"chapter": f"(the {len(pages)} chapters above, {jobs} at a time)", "wall": time.time() - t0,
                           "cpu": _children_cpu() - cpu0})
    if failure is not None:
        raise failure


# ---------------------------------------------------------------------------------------------------
# the site
# ---------------------------------------------------------------------------------------------------


def jupyter_book_command() -> list[str]:
    exe = Path(sys.executable).with_name("jupyter-book")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "jupyter_book.cli.main"]


_ORIGINAL = "shortcut_source"  # a staged markdown cell's source before qualify_labels rewrote it


def qualify_labels(plan: Plan, left_out: list[str]) -> list[str]:
    """Rewrite the markdown of every staged page (see ``shortcut.book.labels``): its own labels get
    its name as a prefix, references to pages left out of this site become plain text. A notebook
    keeps each cell's original source in its metadata, so the next site build starts from it.
    Returns hints for references that name another page's label without its page."""
    import nbformat

    names = [p.name for p in plan.pages]
    present = [n for n in names if n not in left_out]
    titles = {p.name: _page_title(plan.root, p.page) for p in plan.pages}
    texts: dict[str, list[str]] = {}  # page -> its markdown (the source's, for notebooks: every markdown cell)
    staged: dict[str, tuple[Path, Any]] = {}
    for page in plan.pages:
        if page.name in left_out:
            continue
        path = plan.stage / (f"{page.page}.ipynb" if page.kind == "notebook" else page.source.relative_to(plan.root))
        if page.kind == "notebook":
            if not path.is_file():
                continue
            nb = nbformat.read(path, as_version=4)
            cells = [c for c in nb.cells if c.cell_type == "markdown"]
            texts[page.name] = [c.metadata.get(_ORIGINAL, c.source) for c in cells]
            staged[page.name] = (path, nb)
        else:
            texts[page.name] = [page.source.read_text(encoding="utf-8")]
            staged[page.name] = (path, None)
    defined = {name: set().union(*map(labels.defined_labels, t)) for name, t in texts.items()}
    hints: list[str] = []
    for page in plan.pages:
        if page.name not in staged:
            continue
        path, nb = staged[page.name]
        here = Path(page.page).parent.as_posix()
        new = [labels.qualify(t, page.name, defined[page.name], names, present, titles, here) for t in texts[page.name]]
        for t in texts[page.name]:
            hints += [f"{page.source.relative_to(plan.root)}: {h}" for h in labels.unresolved(
                t, defined[page.name], names, lambda x: sorted(n for n, d in defined.items() if x in d and n != page.name))]
        if nb is None:
            path.write_text(new[0], encoding="utf-8")
            continue
        cells = [c for c in nb.cells if c.cell_type == "markdown"]
        changed = False
        for cell, original, text in zip(cells, texts[page.name], new):
            if cell.source != text:
                cell.source, changed = text, True
            if text != original and cell.metadata.get(_ORIGINAL) != original:
                cell.metadata[_ORIGINAL], changed = original, True
            elif text == original and _ORIGINAL in cell.metadata:
                del cell.metadata[_ORIGINAL]
                changed = True
        if changed:
            nbformat.write(nb, path)
    return hints


def build_site(plan: Plan, left_out: list[str]) -> Path:
    write_stage_toc(plan, {p.page for p in plan.notebooks if p.name in left_out})
    hints = qualify_labels(plan, left_out)
    out = plan.stage / "_build"
    if out.exists():
        shutil.rmtree(out)
    cmd = [*jupyter_book_command(), "build", str(plan.stage), "--builder", "html", "-W", "-n", "--keep-going", "--all"]
    print("==> site: " + " ".join(cmd), flush=True)
    problems: list[str] = []
    with subprocess.Popen(cmd, cwd=plan.stage, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          bufsize=1) as proc:
        try:
            for line in proc.stdout:
                sys.stdout.write(line)
                plain = _ANSI.sub("", line).strip()
                if re.search(r"\b(WARNING|ERROR|CRITICAL|SEVERE)\b", plain):
                    problems.append(plain)
            proc.wait()
        except BaseException:  # Ctrl-C: do not leave jupyter-book running
            proc.kill()
            raise
    html = out / "html"
    if proc.returncode != 0 or not (html / "index.html").is_file():
        where = "\n".join("  " + locate_problem(plan, p) for p in problems)
        hint = "".join(f"\n  hint: {h}" for h in hints)
        raise ChapterFailed(
            f"jupyter-book build failed (exit {proc.returncode}); warnings are errors:\n{where}{hint}\n"
            f"  the staged sources are in {plan.stage}"
        )
    site = plan.site
    if site.exists():
        shutil.rmtree(site)
    shutil.copytree(html, site)
    return site


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LOCATION = re.compile(r"^(?P<path>\S+?\.ipynb):(?P<line>\d+): (?P<rest>.*)$")


def locate_problem(plan: Plan, message: str) -> str:
    """Sphinx reports a notebook's line as (cell + 1) * 10000 + line; say which cell of which source."""
    m = _LOCATION.match(message)
    if not m:
        return message
    path, n = Path(m["path"]), int(m["line"])
    cell, line = n // 10000 - 1, n % 10000
    try:
        rel = path.resolve().relative_to(plan.stage.resolve()).with_suffix("")
        source = next(p.source for p in plan.pages if Path(p.page) == rel)
        import nbformat

        nb = nbformat.read(path, as_version=4)
        first = nb.cells[cell].source.strip().splitlines()[0][:60] if 0 <= cell < len(nb.cells) else ""
        src = source.relative_to(plan.root)
    except (ValueError, StopIteration, OSError, IndexError):
        return message
    return f"{src}, {nb.cells[cell].cell_type} cell {cell + 1} (starting {first!r}), line {line}: {m['rest']}"


def check_site(plan: Plan, site: Path) -> None:
    script = plan.root / "scripts" / "check_site.py"
    if not script.is_file():
        print(f"==> check: {script} not found; skipped")
        return
    proc = subprocess.run([sys.executable, str(script), str(site)])
    if proc.returncode != 0:
        raise ChapterFailed(f"the site check found problems in {site} (see above)")


def interrupted(plan: Plan) -> str:
    """What an interrupted build kept and how to resume, in one line."""
    left = sorted(plan.running.rglob("*.ipynb")) if plan.running.is_dir() else []
    for nb in left:  # a chapter stopped mid-run: its notebook goes where no site build looks
        dst = plan.failed / nb.relative_to(plan.running)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(nb, dst)
    failed = sorted(p for p in plan.failed.rglob("*.ipynb") if p.stat().st_mtime >= plan.started) if plan.failed.is_dir() else []
    records = [p for p in plan.results_dir.rglob("*.json") if p.is_file() and p.stat().st_mtime >= plan.started
               and not {"verdicts", "figures"} & set(p.relative_to(plan.results_dir).parts)] if plan.results_dir.is_dir() else []
    done = f"chapters run to the end: {', '.join(plan.executed)}" if plan.executed else "no chapter ran to the end"
    stopped = f"; the half-run notebook: {', '.join(map(str, failed))}" if failed else ""
    return (f"kept: {done}; {len(records)} run record(s) written under {plan.results_dir}{stopped}. "
            f"To resume, run the same command again: finished chapters and runs are not repeated.")


GRACE_S = 60  # after Ctrl-C, the time the build has to shut its kernel down cleanly before it stops anyway


def _stop_within_grace_after_ctrl_c(plan: Plan) -> None:
    """Make the first Ctrl-C raise KeyboardInterrupt, as Python does, and also start a timer: should the
    clean shutdown hang (nbclient's cleanup can wait on a kernel that no longer answers), the build says
    what it kept and exits 130 after :data:`GRACE_S` seconds anyway. The kernel runs in a session of its
    own (jupyter_client), so Ctrl-C reaches only this process; the kernel, which polls its parent, ends
    when the build does."""
    def stop() -> None:
        print(f"\nshortcut.build: interrupted; {interrupted(plan)}", file=sys.stderr, flush=True)
        os._exit(130)

    def on_sigint(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: Python's own
        timer = threading.Timer(GRACE_S, stop)
        timer.daemon = True
        timer.start()
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_sigint)


def report_times(plan: Plan) -> None:
    """``--profile-time``: the table of where the time went, printed and kept beside the build."""
    path = plan.profile_dir / "time-profile.json"
    time_profile.write(path, plan.times)
    print(f"==> where the time went (seconds; {path}):\n{time_profile.table(plan.times)}\n{time_profile.LEGEND}", flush=True)


def ran_since_start(plan: Plan, page: Page) -> bool:
    """Whether ``page`` was executed after this build started: by another build on the same results
    folder that this one waited for (:mod:`shortcut.book.lock`); ``--force`` does not run it again."""
    out = executed_path(plan, page)
    return out.is_file() and out.stat().st_mtime >= plan.started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.force_size:  # read by the parameter check here and in every chapter's kernel
        os.environ[FORCE_SIZE_ENV] = "1"
    try:
        plan = make_plan(args)
    except UsageError as err:
        print(f"shortcut.build: error: {err}", file=sys.stderr)
        return 2
    if args.list:
        list_book(plan)
        return 0
    t0 = plan.started
    _stop_within_grace_after_ctrl_c(plan)
    print(f"==> profile {plan.profile!r}: {plan.profile_data['description']}")
    print(f"==> results: {plan.results_dir}")
    hold = contextlib.ExitStack()  # one build at a time on a results folder (shortcut.book.lock)
    try:
        hold.enter_context(results_lock(plan.results_dir))
        plan.profile_dir.mkdir(parents=True, exist_ok=True)
        (plan.profile_dir / RESULTS_MARK).write_text(f"{plan.results_dir}\n", encoding="utf-8")
        stage_static(plan)
        executed, left_out = run_chapters(plan)
        if args.no_site:
            print(f"==> executed: {', '.join(executed) or 'nothing'}; site not built (--no-site)")
            return 0
        t_site, cpu_site = time.time(), _children_cpu()
        site = build_site(plan, left_out)
        if plan.profile_time:
            plan.times.append({"chapter": "(the site build)", "wall": time.time() - t_site, "cpu": _children_cpu() - cpu_site})
        if plan.strict:
            check_site(plan, site)
    except ChapterFailed as err:
        print(f"shortcut.build: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nshortcut.build: interrupted; {interrupted(plan)}", file=sys.stderr, flush=True)
        return 130
    finally:
        hold.close()
        if plan.profile_time:
            report_times(plan)
    print(f"==> executed: {', '.join(executed) or 'nothing (all up to date)'}; {time.time() - t0:.0f} s in all")
    if left_out:
        print(f"==> left out of the site (not run to the end at this profile): {', '.join(left_out)}")
    print(f"==> the site: {site / 'index.html'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # before anything ran (the run itself reports what it kept)
        print("\nshortcut.build: interrupted before any chapter ran; nothing was changed", file=sys.stderr)
        sys.exit(130)
