"""Per-page labels: a chapter's figure, equation, theorem and target labels get its name as a prefix
when the build stages it, so a copied chapter gets labels of its own, and references to a page that
is not in the site become plain text.

The rule (applied to the markdown of every page of the site, by :func:`qualify`):

* every label a page DEFINES — ``:name:`` of a directive (figure, ``glue:figure``, table),
  ``:label:`` (``prf:*`` directives, ``math``), ``$$ … $$ (label)``, a target ``(label)=`` — becomes
  ``<page>-<label>`` (a label that already starts with ``<page>-`` stays as it is);
* a reference in the same page (``{numref}``, ``{ref}``, ``{eq}``, ``{prf:ref}``, bare or as
  ``text <label>``) to a label it defines is rewritten the same way;
* a reference to another page's label is written qualified, ``<page>-<label>`` (``{numref}`mnist-fig-7```);
  when that page is not in the site (a partial build), the reference becomes plain text: its own text
  if it has one, else ``<label> (page <title>, not in this build)``; a ``{doc}`` link to such a page
  becomes the page's title.

So sources keep short labels (``fig-4``), and the site has ``initial_point-fig-4``.
"""

from __future__ import annotations

import posixpath
import re
from typing import Callable, Iterable, Mapping

#: Roles whose target is a label (``{eq}`` a math label, ``{prf:ref}`` a proof label).
LABEL_ROLES = ("numref", "ref", "eq", "prf:ref")

_DEF_OPTION = re.compile(r"^(?P<lead>[ \t]*:(?:name|label):[ \t]+)(?P<label>\S+)(?P<tail>[ \t]*)$", re.M)
_DEF_MATH = re.compile(r"(?P<lead>\$\$[ \t]*\()(?P<label>[^()\s]+)(?P<tail>\)[ \t]*)$", re.M)
_DEF_TARGET = re.compile(r"^(?P<lead>\()(?P<label>[^()\s]+)(?P<tail>\)=[ \t]*)$", re.M)
_ROLE = re.compile(r"\{(?P<role>numref|ref|eq|prf:ref|doc)\}`(?P<body>[^`]+)`")
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
_NUMREF_SLOTS = re.compile(r"%s|\{number\}|\{name\}")


def defined_labels(text: str) -> set[str]:
    """The labels ``text`` (one page's markdown) defines."""
    return {m["label"] for rx in (_DEF_OPTION, _DEF_MATH, _DEF_TARGET) for m in rx.finditer(text)}


def owner(label: str, pages: Iterable[str]) -> str | None:
    """The page a qualified ``<page>-<rest>`` label names (the longest page name that fits), else None."""
    fits = [p for p in pages if label.startswith(p + "-") and len(label) > len(p) + 1]
    return max(fits, key=len) if fits else None


def qualify(text: str, page: str, defined: set[str], pages: Iterable[str], present: Iterable[str],
            titles: Mapping[str, str] | None = None, here: str = "book") -> str:
    """``text``, the markdown of toc page ``page`` (its name, e.g. ``"mnist"``), with its own labels
    qualified and references to pages not ``present`` in the site made plain text.

    ``defined``: the labels the whole page defines (:func:`defined_labels` over all its cells);
    ``pages``: the names of every page of the book; ``present``: those in this site; ``titles``: page
    name -> title (for plain text); ``here``: the page's folder, for ``{doc}`` paths.
    """
    pages, present, titles = set(pages), set(present), dict(titles or {})
    prefix = page + "-"

    def own(label: str) -> str:
        return label if label.startswith(prefix) else prefix + label

    def definition(m: re.Match) -> str:
        return m["lead"] + own(m["label"]) + m["tail"]

    for rx in (_DEF_OPTION, _DEF_MATH, _DEF_TARGET):
        text = rx.sub(definition, text)

    def role(m: re.Match) -> str:
        kind, body = m["role"], m["body"]
        explicit = _EXPLICIT.match(body)
        shown, target = (explicit["text"], explicit["target"].strip()) if explicit else (None, body.strip())
        if kind == "doc":
            doc = posixpath.normpath(posixpath.join(here, target)).lstrip("/")
            other = posixpath.basename(doc)
            if posixpath.dirname(doc) == here and other in pages and other not in present:
                return shown or titles.get(other, other)
            return m[0]
        if target in defined:
            new = own(target)
        else:
            other = owner(target, pages)
            if other is None or other in present or other == page:
                return m[0]
            if shown:
                return _NUMREF_SLOTS.sub("", shown).strip() or shown
            return f"{target[len(other) + 1:]} (page {titles.get(other, other)}, not in this build)"
        return "{%s}`%s`" % (kind, f"{shown} <{new}>" if explicit else new)

    return _ROLE.sub(role, text)


def unresolved(text: str, defined: set[str], pages: Iterable[str],
               defined_elsewhere: Callable[[str], list[str]]) -> list[str]:
    """Hints for references in ``text`` to a short label that the page does not define but other
    pages do (``defined_elsewhere(label)`` -> their names): such a reference must be qualified."""
    hints = []
    for m in _ROLE.finditer(text):
        if m["role"] == "doc":
            continue
        explicit = _EXPLICIT.match(m["body"])
        target = (explicit["target"] if explicit else m["body"]).strip()
        if target in defined or owner(target, pages) is not None:
            continue
        where = defined_elsewhere(target)
        if where:
            hints.append(f"{m[0]} names a label of page {', '.join(where)}: write it "
                         f"{m[0].replace(target, where[0] + '-' + target)}")
    return hints
