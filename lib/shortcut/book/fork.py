"""Fork a chapter: ``python -m shortcut.book.fork <chapter> <new>`` (or ``make fork FROM=… TO=…``).

Copies ``book/<chapter>.md`` to ``book/<new>.md`` (its ``configure("<new>", …)`` call and its title
changed), copies the chapter's section as a ``<new>:`` section in every YAML file of
``book/profiles/`` that has one (the profiles and the parameter schema; comments kept, YAML anchors
of the copy dropped so that it refers to the original's), and adds ``- file: book/<new>`` to
``_toc.yml`` after the chapter. Nothing is written unless every edit checks out.

The copy gets its own labels (the build prefixes them with the page's name, see
:mod:`shortcut.book.labels`), results folder (``P.results_dir / P.chapter``), verdicts and row in
the status table. Figures kept in the repository (``book/figures/<chapter>/``) are not copied: the
copy shows the original's, as the original's.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from .profiles import find_root, page_source, profiles_dir, toc_pages

NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # no '-': a label's page prefix is everything before the first '-' that names a page


def _section_span(lines: list[str], key: str) -> tuple[int, int] | None:
    """(first, end) of the top-level block ``key:`` in a YAML file's lines; trailing blank lines and
    comments at column 0 belong to what follows."""
    head = re.compile(rf"^{re.escape(key)}\s*:(\s|$)")
    first = next((i for i, line in enumerate(lines) if head.match(line)), None)
    if first is None:
        return None
    end = first + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    while end > first + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#") and lines[end - 1][0] not in " \t"):
        end -= 1
    return first, end


def copy_section(text: str, chapter: str, new: str) -> str | None:
    """``text`` (a YAML file) with the block ``<chapter>:`` copied as ``<new>:`` right after it, or
    None when it has no such block. Raises ValueError when the copy does not read back equal."""
    lines = text.splitlines(keepends=True)
    span = _section_span(lines, chapter)
    if span is None:
        return None
    first, end = span
    block = lines[first:end]
    copy = [re.sub(rf"^{re.escape(chapter)}(\s*:)", lambda m: new + m[1], block[0], count=1)]
    copy += block[1:]
    copy = [re.sub(r"(?<=\s)&[\w.-]+[ \t]+", "", line) for line in copy]  # anchors: the original keeps them
    if not copy[-1].endswith("\n"):
        copy[-1] += "\n"
    gap = ["\n"] if end < len(lines) and not lines[end].strip() else []
    tail = lines[end:]
    if end == len(lines) and not block[-1].endswith("\n"):
        block[-1] += "\n"
    result = "".join(lines[:first] + block + gap + copy + tail)
    data = yaml.safe_load(result)
    if not isinstance(data, dict) or data.get(new) != data.get(chapter):
        raise ValueError(f"the copy of section {chapter!r} does not read back as equal to it")
    return result


def fork(chapter: str, new: str, root: Path | None = None) -> list[tuple[Path, str]]:
    """Fork ``chapter`` as ``new`` in the book at ``root``; returns [(file, what was done)]."""
    root = root or find_root()
    pages = toc_pages(root)
    names = {Path(p).name: p for p in pages}
    if chapter not in names or page_source(names[chapter], root)[1] != "notebook":
        chapters = [n for n, p in names.items() if page_source(p, root)[1] == "notebook"]
        raise ValueError(f"{chapter!r} is not a chapter of _toc.yml; its chapters: {', '.join(chapters)}")
    if not NAME.match(new):
        raise ValueError(f"{new!r} is not a chapter name: lower-case letters, digits and '_', starting with a letter")
    page = names[chapter]
    src, _ = page_source(page, root)
    dst = src.with_name(f"{new}{src.suffix}")
    if new in names or dst.exists():
        raise ValueError(f"{new!r} exists already ({dst.relative_to(root)} or in _toc.yml); pick another name")
    if src.suffix != ".md":
        raise ValueError(f"{src.relative_to(root)} is not a MyST notebook (.md); copy it by hand")

    edits: list[tuple[Path, str, str]] = []  # (file, new text, what)
    text = src.read_text(encoding="utf-8")
    call = re.compile(rf"""configure\(\s*(["']){re.escape(chapter)}\1""")
    if not call.search(text):
        raise ValueError(f"{src.relative_to(root)} has no configure({chapter!r}, globals()) call to rename")
    text = call.sub(lambda m: f"configure({m[1]}{new}{m[1]}", text)
    body = text.index("\n---", 3) + 4 if text.startswith("---") else 0  # after the front matter
    text = text[:body] + re.sub(r"^# (.+?)\s*$", lambda m: f"# {m[1]} ({new})", text[body:], count=1, flags=re.M)
    edits.append((dst, text, f"a copy of {src.relative_to(root)}: configure({new!r}), title '… ({new})'"))

    for path in sorted(profiles_dir(root).glob("*.yaml")):
        try:
            copied = copy_section(path.read_text(encoding="utf-8"), chapter, new)
        except ValueError as err:
            raise ValueError(f"{path.relative_to(root)}: {err}; copy the section by hand") from err
        if copied is not None:
            edits.append((path, copied, f"section {new}: (a copy of {chapter}:)"))

    toc = root / "_toc.yml"
    lines = toc.read_text(encoding="utf-8").splitlines(keepends=True)
    entry = re.compile(rf"^(\s*-?\s*file:\s*){re.escape(page)}(\.md)?(\s*)$")
    at = next((i for i, line in enumerate(lines) if entry.match(line)), None)
    if at is None:
        raise ValueError(f"_toc.yml has no line '- file: {page}' to add the fork after; add it by hand")
    lines.insert(at + 1, entry.match(lines[at])[1] + (Path(page).parent / new).as_posix() + "\n")
    edits.append((toc, "".join(lines), f"- file: {(Path(page).parent / new).as_posix()} (after {page})"))

    for path, content, _ in edits:
        path.write_text(content, encoding="utf-8")
    return [(path, what) for path, _, what in edits]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m shortcut.book.fork", description=(
        "Copy a chapter under a new name: its page, its section in every profile (and in the parameter "
        "schema), and its line in _toc.yml."))
    ap.add_argument("chapter", help="the chapter to copy, e.g. initial_point")
    ap.add_argument("new", help="the copy's name: lower-case letters, digits and '_'")
    args = ap.parse_args(argv)
    try:
        root = find_root()
        done = fork(args.chapter, args.new, root)
    except ValueError as err:
        print(f"shortcut.book.fork: error: {err}", file=sys.stderr)
        return 2
    print(f"forked chapter {args.chapter!r} as {args.new!r}:")
    for path, what in done:
        print(f"  {path.relative_to(root).as_posix():<28} {what}")
    print(f"Change what you want to try (book/{args.new}.md, its sections in book/profiles/), then build it alone:\n"
          f"  make chapter NAME={args.new} PROFILE=ci")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
