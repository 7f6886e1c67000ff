"""The book's machinery: profiles and chapter parameters, verdicts and the status table, the build
(``python -m shortcut.book.build``), kept figures. Nothing below this layer imports it."""

from .profiles import (COMMON_PARAMETERS, KEPT_FIGURES, KEPT_VERDICTS, ROOT_ENV, STAGE_ENV, Params, chapter_defaults, configure, find_root, load_profile, page_source,
                       profile_names, profiles_dir, read_value, toc_chapters, toc_pages)
from .publish import publish
from .verdicts import VERDICTS, format_scale, load_verdicts, record_verdict, status_report

__all__ = [
    "COMMON_PARAMETERS", "KEPT_FIGURES", "KEPT_VERDICTS", "ROOT_ENV", "STAGE_ENV", "VERDICTS", "Params", "chapter_defaults", "configure", "find_root", "format_scale",
    "load_profile", "load_verdicts", "page_source", "profile_names", "profiles_dir", "publish", "read_value", "record_verdict",
    "status_report", "toc_chapters", "toc_pages",
]
