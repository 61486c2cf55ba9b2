"""Escaping what reports print: Markdown text and code spans, and text that XML 1.0 can carry.

Everything a report prints may come from outside (a step's error, a command's output, a drill's
description), so it is escaped where it is written: a pipe must not split a table cell, a backtick
must not end a code span, ``<script>`` must stay text, and a control character must not make
junit.xml unreadable for a CI test reporter.
"""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # inline markup; HTML is turned into entities first
# XML 1.0 allows tab, newline, carriage return and everything from U+0020 on, except surrogates and U+FFFE/U+FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def md(text: object) -> str:
    """Plain Markdown text on one line (a table cell, a list item): markup and HTML escaped."""
    flat = _CONTROL.sub(" ", str(text))
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", flat)


def md_code(text: object) -> str:
    """A Markdown code span that holds any text (backticks inside, pipes in a table cell)."""
    flat = _CONTROL.sub(" ", str(text)).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat.strip() else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def xml_text(text: object) -> str:
    """``text`` with the characters XML 1.0 cannot carry replaced by U+FFFD."""
    return _XML_ILLEGAL.sub("\ufffd", str(text))
