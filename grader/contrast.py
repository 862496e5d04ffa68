"""Questions that contrast two things ("What is the difference between types and tokens?"), and answers that swap them.

A card that asks for a difference usually highlights what each side is; an answer
that gives each description to the other side shares every word with the
reference and is wrong. Each highlighted term belongs to the side the
reference names in its clause; in an answer, a term found only in clauses that
name the other side (and not its own) is given to the wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .normalize import Token, content_tokens

# "the difference(s) between X and Y", up to the end of the sentence or a parenthesis.
_DIFFERENCE = re.compile(r"\bdifferences?\s+between\s+(?P<x>[^?.!;()]+?)\s+and\s+(?P<y>[^?.!;()]+?)\s*(?:[?.!;(]|$)", re.IGNORECASE)
# What ends a clause: punctuation, or a word that joins two statements ("types are X while tokens are Y"). Not a
# colon: "types: the distinct words" names what it describes.
_CLAUSE_BREAK = re.compile(r"[.,;!?()\n]|\b(?:and|but|while|whilst|whereas|unlike|however|vs|versus)\b", re.IGNORECASE)

Sides = tuple[frozenset[str], frozenset[str]]


def contrasted_sides(question: str) -> Sides | None:
    """The stems that name each side of a question's "difference between X and Y", or None.

    A noun the two share may be written once, after the second ("soft and hard
    forks", "intrinsic and extrinsic metrics"): it names neither. Sides that
    differ by a negation alone ("privileged and non privileged") are left alone.
    """
    found = _DIFFERENCE.search(question)
    if found is None:
        return None
    x = [t.stem for t in content_tokens(found["x"])]
    y = [t.stem for t in content_tokens(found["y"])]
    if len(x) == 1 and len(y) > 1:
        y = y[:1]
    own, other = frozenset(x) - set(y), frozenset(y) - set(x)
    if not own or not other or "not" in own | other:
        return None
    return own, other


def clause_of_each(text: str, tokens: Sequence[Token]) -> list[int]:
    """For each of a text's content tokens, the number of the clause it stands in."""
    out = []
    clause, prev_end = 0, 0
    for tok in tokens:
        if _CLAUSE_BREAK.search(text, prev_end, tok.start):
            clause += 1
        out.append(clause)
        prev_end = tok.end
    return out


def term_side(reference: str, term_text: str, sides: Sides) -> int | None:
    """Which side (0 or 1) a highlighted term describes: the one its own words or its clause of the reference name,
    if only one does."""
    at = reference.find(term_text)
    if at < 0:
        named = {t.stem for t in content_tokens(term_text)}
    else:
        breaks = [m.end() for m in _CLAUSE_BREAK.finditer(reference, 0, at)]
        start = breaks[-1] if breaks else 0
        after = _CLAUSE_BREAK.search(reference, at + len(term_text))
        named = {t.stem for t in content_tokens(reference[start : after.start() if after else len(reference)])}
    hits = [bool(side & named) for side in sides]
    return hits.index(True) if hits.count(True) == 1 else None
