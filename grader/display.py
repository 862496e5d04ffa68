"""Untrusted text made safe for the terminal: no escape sequences, no rich markup.

Decks, answers files, imported histories, datasets, LLM replies and what a
student types are written by others. Shown raw, an ANSI or OSC escape in them
can recolour the terminal, retitle the window or hide text, and a rich markup
tag (``[/x]``) can crash the renderer or delete words, and a bidirectional
override or isolate (U+202E RIGHT-TO-LEFT OVERRIDE) whose closing mark is cut
off with the rest of a long answer reverses the columns after it. Everything
from outside goes through ``clean`` before it is drawn; the
stored data and the files written keep the original characters.
"""

from __future__ import annotations

import re

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), DCS/SOS/PM/APC (ESC P/X/^/_ ... ESC \),
# their 8-bit forms (0x9b, 0x9d, ...), two-character escapes, any other C0/C1 control, and the bidirectional
# embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069; the marks U+200E and U+200F, which reach no
# further than the next letter, and Arabic or Hebrew letters stay).
# Each alternative scans forward without backtracking into itself, so the pattern is linear.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
_ONE_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Text without terminal escape sequences, control characters or bidirectional overrides (newlines and tabs stay)."""
    return _ESCAPES.sub("", text)


def clean_same_length(text: str) -> str:
    """Each control character replaced by U+FFFD, so character offsets into the text still hold.

    For a typed answer whose matched spans are highlighted by offset.
    """
    return _ONE_CONTROL.sub("\ufffd", text)


def clean_line(text: str) -> str:
    """``clean``, on one line: newlines and tabs become spaces (a title, an error message)."""
    return " ".join(clean(text).split()) if text.strip() else clean(text)
