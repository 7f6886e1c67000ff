"""A Sphinx extension (``_config.yml``: ``sphinx: extra_extensions``): the reader's buttons name the
repository's source of a page, not the notebook the build staged.

The build (``shortcut.book.build``) stages each chapter as its executed notebook,
``site-src/book/<chapter>.ipynb``, so sphinx-book-theme would send "Suggest edit" (and "Show
source") to ``book/<chapter>.ipynb`` in the repository, and the Binder / JupyterHub launch buttons
would open it there — a file that is never committed. This extension rewrites those links, after the
theme has made them, to the file the page comes from: ``book/<chapter>.md`` (a Jupytext notebook,
which Binder opens as a notebook, see ``.binder/``). The download buttons keep the executed
notebook (``_sources/book/<chapter>.ipynb``).

A page's source is ``<root>/<page>.md`` or ``<root>/<page>.ipynb`` of the book's root
(``$SHORTCUT_BOOK_ROOT``, which the build sets); without it, the staged notebook's Jupytext metadata
says which extension the text notebook had.
"""

from __future__ import annotations

import json
import os
import posixpath
from pathlib import Path
from typing import Any, Callable

from .profiles import ROOT_ENV

#: The theme's labels of the buttons that name the page's file in the repository.
SOURCE_BUTTONS = ("source-edit-button", "source-file-button")
LAUNCH_GROUP = "launch-buttons"


def repository_source(pagename: str, staged: Path, root: str | os.PathLike | None) -> str | None:
    """The page's source file, relative to the book's root (``book/theorems.md``), when the page was
    staged as a notebook; None when the staged file is the source itself (a markdown page)."""
    if staged.suffix != ".ipynb":
        return None
    if root:
        for suffix in (".md", ".ipynb"):
            if (Path(root) / f"{pagename}{suffix}").is_file():
                return f"{pagename}{suffix}"
    try:
        meta = json.loads(staged.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return None
    ext = ((meta.get("jupytext") or {}).get("text_representation") or {}).get("extension")
    return f"{pagename}{ext}" if isinstance(ext, str) and ext.startswith(".") else None


def repository_path(path_to_book: str, source: str) -> str:
    """``source`` as a path from the repository's root: ``path_to_book`` (``.``, ``""`` or a folder) joined
    with it, with no ``./`` left in it."""
    return posixpath.normpath(posixpath.join(path_to_book.strip("/") or ".", source))


def retarget(url: str, path_to_book: str, staged_file: str, repo_path: str) -> str:
    """``url`` with its last ``<path_to_book>/<page>.ipynb`` (as the theme writes it: ``path_to_book: .``
    gives ``./book/theorems.ipynb``) replaced by ``repo_path``."""
    doc_path = path_to_book.strip("/")
    tail = (f"{doc_path}/" if doc_path else "") + staged_file
    i = url.rfind(tail)
    if i < 0:
        return url
    return url[:i] + repo_path + url[i + len(tail):]


def _buttons(buttons: list[dict]) -> list[dict]:
    out = []
    for b in buttons:
        out.append(b)
        out += _buttons(b.get("buttons", []))
    return out


def fix_links(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """``html-page-context``, after the theme's handlers: point the edit / source / launch links at the
    page's source in the repository."""
    try:
        staged = Path(app.env.doc2path(pagename))
    except Exception:  # a page without a source document (search, genindex)
        return
    source = repository_source(pagename, staged, os.environ.get(ROOT_ENV))
    if source is None:
        return
    path_to_book = str((app.config.html_theme_options or {}).get("path_to_docs", "") or "")
    repo_path = repository_path(path_to_book, source)
    suffix = context.get("page_source_suffix") or staged.suffix
    staged_file = f"{pagename}{suffix}"

    original: Callable | None = context.get("get_edit_provider_and_url")
    if callable(original) and not getattr(original, "_shortcut", False):
        def get_edit_provider_and_url() -> tuple[str, str]:
            provider, url = original()
            return provider, retarget(url, path_to_book, staged_file, repo_path)

        get_edit_provider_and_url._shortcut = True  # type: ignore[attr-defined]
        context["get_edit_provider_and_url"] = get_edit_provider_and_url

    for group in context.get("header_buttons", []):
        for button in _buttons([group]):
            url = button.get("url")
            if not isinstance(url, str):
                continue
            if button.get("label") in SOURCE_BUTTONS or group.get("label") == LAUNCH_GROUP:
                # the launch buttons name the page the way the theme found it: .ipynb (the staged file)
                button["url"] = retarget(url, path_to_book, f"{pagename}.ipynb", repo_path)


def setup(app: Any) -> dict:
    app.connect("html-page-context", fix_links, priority=900)  # after sphinx-book-theme's (501)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
