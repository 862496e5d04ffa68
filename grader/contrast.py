"""Questions that contrast two things ("What is the difference between types and tokens?", "What is a lemma? And a
word form?"), references that list two named things with what each is, and answers that swap them.

A card that asks for a difference usually highlights what each side is; an answer
that gives each description to the other side shares every word with the
reference and is wrong. Each highlighted term belongs to the side the
reference names in its clause; in an answer, a term found only in clauses that
name the other side (and not its own) is given to the wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .normalize import Token, content_tokens, stem

# "the difference(s) between X and Y", "compare X and Y", "compare X vs Y": up to the end of the sentence or a
# parenthesis. "compare and swap" is a name, not a comparison; "compare and contrast X and Y" is one.
_DIFFERENCE = re.compile(
    r"\b(?:differences?\s+between|compare(?:\s+and\s+contrast)?(?!\s+and\b))\s+(?:the\s+)?"
    r"(?P<x>[^?.!;()]+?)\s+(?:and|vs\.?|versus)\s+(?P<y>[^?.!;()]+?)\s*(?:[?.!;(]|$)",
    re.IGNORECASE,
)
# A question of two sentences that each ask what one thing is: "What is sampling? What is image quantisation?", "What
# is a lemma? And a word form?". A subject that refers back ("its privileges", "a complete one"), asks for a kind ("the
# main issue", "a simple implementation") or is more than a name ("the domain of the loss", "are we estimating") makes
# no side.
_WHAT_IS = re.compile(r"^(?:what\s+(?:is|are)\s+|and\s+)(?:(?:an?|the)\s+)?(?P<x>[^?.!;(),]+?)\s*$", re.IGNORECASE)
_NO_SIDE = re.compile(
    r"\b(?:its?|their|they|we|you|this|these|that|those|one|main|possible|some|few|simple|basic|typical|common|general|\d+"
    r"|of|in|on|for|with|behind|about|between|from|by|to|how|why|what|which|when|where)\b",
    re.IGNORECASE,
)

# A name of up to three words, then a colon ("Microservices:", "coarse grain :").
_NAMED_BEFORE_A_COLON = re.compile(r"\w+(?:[ \t-]+\w+){0,2}[ \t]*:(?!\S)")

# What ends a clause: punctuation, or a word that joins two statements ("types are X while tokens are Y"). Not a
# colon: "types: the distinct words" names what it describes.
_CLAUSE_BREAK = re.compile(r"[.,;!?()\n]|\b(?:and|but|while|whilst|whereas|unlike|however|vs|versus)\b", re.IGNORECASE)

Sides = tuple[frozenset[str], frozenset[str]]


def contrasted_sides(question: str) -> Sides | None:
    """The stems that name each side of what a question contrasts ("difference between X and Y", "compare X vs Y",
    "What is X? And Y?"), or None.

    In "the difference between X and Y" a noun the two share may be written
    once, after the second ("soft and hard forks", "intrinsic and extrinsic
    metrics"): it names neither. Two questions each name their own ("What is
    sampling? What is image quantisation?"). Sides that differ by a negation
    alone ("privileged and non privileged") are left alone.
    """
    found = _DIFFERENCE.search(question)
    if found is not None:
        x_words, y_words = content_tokens(found["x"]), content_tokens(found["y"])
        if len(x_words) == 1 and len(y_words) > 1:
            y_words = y_words[:1]
    else:
        sentences = [q.strip() for q in question.split("?") if q.strip()]
        asked = [m["x"] for m in map(_WHAT_IS.match, sentences) if m and not _NO_SIDE.search(m["x"])]
        if len(sentences) != 2 or len(asked) != 2:
            return None
        x_words, y_words = (content_tokens(text) for text in asked)
    return _distinct_sides(x_words, y_words)


def _distinct_sides(x_words: list[Token], y_words: list[Token]) -> Sides | None:
    """Each side's stems the other lacks (and its words written solid), or None where either has none or they differ
    by a negation."""
    x, y = [t.stem for t in x_words], [t.stem for t in y_words]
    own, other = frozenset(x) - set(y), frozenset(y) - set(x)
    own, other = _with_solid_compound(own, x_words), _with_solid_compound(other, y_words)
    if not own or not other or "not" in own | other:
        return None
    return own, other


# A list item (or line) that opens with a highlighted name and a colon, dash or equals sign, then describes it:
# "- ==safety==: ==nothing bad ever happens==".
_NAMED_ITEM = re.compile(r"^[ \t>]*(?:(?:[-*+]|\d+[.)])[ \t]+)?==(?P<name>[^=\n]+)==[ \t]*[:=\-\u2013\u2014]+(?P<rest>[^\n]*)$", re.MULTILINE)
# Words a name has at most: a longer highlight before a colon is itself a description.
NAME_WORDS = 3


def listed_sides(answer: str) -> Sides | None:
    """The stems that name each side where a reference lists exactly two highlighted names, each with a highlighted
    description ("- ==safety==: ==nothing bad ever happens==", "- ==liveness==: ==something good eventually happens=="),
    or None: the two are contrasted as much as a question's "difference between" does. Names apart only by a negation
    are left alone, as in ``contrasted_sides``."""
    items = [m for m in _NAMED_ITEM.finditer(answer) if "==" in m["rest"]]
    if len(items) != 2:
        return None
    x_words, y_words = (content_tokens(m["name"]) for m in items)
    if not 0 < len(x_words) <= NAME_WORDS or not 0 < len(y_words) <= NAME_WORDS:
        return None
    return _distinct_sides(x_words, y_words)


def _with_solid_compound(side: frozenset[str], words: list[Token]) -> frozenset[str]:
    """A side of two or more words is also named by them written as one ("wordform" for *word form*)."""
    if len(words) < 2 or not side:
        return side
    return side | {stem("".join(t.word for t in words))}


def clause_of_each(text: str, tokens: Sequence[Token], sides: frozenset[str] = frozenset()) -> list[int]:
    """For each of a text's content tokens, the number of the clause it stands in.

    A word of ``sides`` that names what follows a colon (``_NAMED_BEFORE_A_COLON``) begins one, as a stop would:
    an answer typed on one line ("static: converts it all first dynamic: translates a few") says two things there."""
    out: list[int] = []
    clause, prev_end = 0, 0
    for i, tok in enumerate(tokens):
        if _CLAUSE_BREAK.search(text, prev_end, tok.start) or (
            i and tok.stem in sides and tokens[i - 1].stem not in sides and _NAMED_BEFORE_A_COLON.match(text, tok.start)
        ):
            clause += 1
        out.append(clause)
        prev_end = tok.end
    return out


def term_side(reference: str, term_text: str, sides: Sides) -> int | None:
    """Which side (0 or 1) a highlighted term describes: the one its clause of the reference names, if only one does;
    else the one its own words name. Its clause is read first: a lemma is a *set of lexical forms with similar word
    sense*, whose words name the word form as well."""
    own = {t.stem for t in content_tokens(term_text)}
    at = reference.find(term_text)
    if at >= 0:
        breaks = [m.end() for m in _CLAUSE_BREAK.finditer(reference, 0, at)]
        start = breaks[-1] if breaks else 0
        after = _CLAUSE_BREAK.search(reference, at + len(term_text))
        around = reference[start:at] + " " + reference[at + len(term_text) : after.start() if after else len(reference)]
        side = _only_side({t.stem for t in content_tokens(around)}, sides)
        if side is not None:
            return side
        heading = _heading_before(reference, at)
        if heading is not None and (side := _only_side({t.stem for t in content_tokens(heading)}, sides)) is not None:
            return side
    return _only_side(own, sides)


# A line that heads what follows it: a name and a colon, alone on its line ("SOA:", "**Microservices**:").
_HEADING = re.compile(r"^[ \t>#*_]*(?P<name>[^:\n]{1,60}?)[*_ \t]*:[ \t]*$", re.MULTILINE)


def _heading_before(reference: str, at: int) -> str | None:
    """The name of the last heading line before ``at``, if any: a list under "SOA:" describes SOA, whatever its
    items' clauses name."""
    last = None
    for m in _HEADING.finditer(reference, 0, reference.rfind("\n", 0, at) + 1):  # whole lines before the term's own
        last = m["name"]
    return last


def _only_side(named: set[str], sides: Sides) -> int | None:
    hits = [bool(side & named) for side in sides]
    return hits.index(True) if hits.count(True) == 1 else None
