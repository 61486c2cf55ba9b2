"""Free text a person or a file gives (names, retrospective items, notes, links): no control characters.

An ESC in a participant's name rewrites the terminal that prints it; a NUL ends a C string in whatever reads
the store next; a bidirectional override makes a row read differently from what it holds. They are refused
at the edge (bad input, exit 2), in the import format, the record commands and GameDay plans and answers.
"""

from __future__ import annotations

import re

# C0 (tab and newline included: every field is one line), DEL, C1, and the bidirectional controls.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(value: str) -> str:
    """``value`` unchanged, or ValueError naming the first control character and where it is."""
    found = CONTROL.search(value)
    if found is not None:
        raise ValueError(f"contains the control character U+{ord(found.group()):04X} at position {found.start()}; "
                         "free text must be printable")
    return value
