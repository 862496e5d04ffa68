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

from .normalize import Token, content_tokens, stem, term_words, tokenize

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
    alone ("causal and non-causal layers") are a word and its negation
    (``side_stems``). A side named only in stopwords ("things" and "stuff") is
    named by them.
    """
    found = _DIFFERENCE.search(question)
    if found is not None:
        x_words, y_words = _name_words(found["x"]), _name_words(found["y"])
        if len(x_words) == 1 and len(y_words) > 1:
            y_words = y_words[: 2 if y_words[0].stem == "not" else 1]
    else:
        sentences = [q.strip() for q in question.split("?") if q.strip()]
        asked = [m["x"] for m in map(_WHAT_IS.match, sentences) if m and not _NO_SIDE.search(m["x"])]
        if len(sentences) != 2 or len(asked) != 2:
            return None
        x_words, y_words = (_name_words(text) for text in asked)
    return _distinct_sides(x_words, y_words)


def _name_words(text: str) -> list[Token]:
    return term_words(tokenize(text))


def _distinct_sides(x_words: list[Token], y_words: list[Token]) -> Sides | None:
    """Each side's stems the other lacks (and its words written solid), or None where either has none. A negation
    names no side on its own: "non causal" names the side its negated word does (``side_stems``)."""
    x, y = side_stems(x_words), side_stems(y_words)
    own, other = frozenset(x) - set(y) - {"not"}, frozenset(y) - set(x) - {"not"}
    own, other = _with_solid_compound(own, x_words), _with_solid_compound(other, y_words)
    if not own or not other:
        return None
    return own, other


# What a negated word is read as where two sides differ by a negation: "non causal" is the side "¬causal", not "causal".
NEGATED = "\u00ac"


def side_stems(tokens: Sequence[Token], sides: frozenset[str] | None = None) -> list[str]:
    """Each token's stem as it names a side. Where the sides are a word and its negation (or ``sides`` is None, when
    they are being found), a word right after a negation is that word negated ("non causal", "not privileged"), so a
    clause about the one side does not name the other. Elsewhere a negated word names its side as it stands: in
    "trees work better when the relationship is non linear", "linear" is still the linear models' word."""
    if sides is not None and not any(s.startswith(NEGATED) for s in sides):
        return [t.stem for t in tokens]
    return [NEGATED + t.stem if i and tokens[i - 1].stem == "not" and t.stem != "not" else t.stem for i, t in enumerate(tokens)]


# A list item (or line) that opens with a highlighted name and a colon, dash or equals sign, then describes it:
# "- ==safety==: ==nothing bad ever happens==".
# The highlight may follow a word or two of the name ("- RoI ==pool==: we snap ...").
_NAMED_ITEM = re.compile(
    r"^[ \t>]*(?:(?:[-*+]|\d+[.)])[ \t]+)?(?P<name>(?:[^\W\d_][\w-]*[ \t]+){0,2}==[^=\n]+==)[ \t]*[:=\-\u2013\u2014]+(?P<rest>[^\n]*)$",
    re.MULTILINE,
)
# Words a name has at most: a longer highlight before a colon is itself a description.
NAME_WORDS = 3


def listed_sides(answer: str) -> Sides | None:
    """The stems that name each side where a reference lists exactly two highlighted names, each with a highlighted
    description ("- ==safety==: ==nothing bad ever happens==", "- ==liveness==: ==something good eventually happens=="),
    or None: the two are contrasted as much as a question's "difference between" does. The highlight may follow a word
    or two of its name ("- RoI ==pool==: ..."), and names apart only by a negation are read as in ``contrasted_sides``."""
    items = [m for m in _NAMED_ITEM.finditer(answer) if "==" in m["rest"]]
    if len(items) != 2:
        return None
    x_words, y_words = (content_tokens(m["name"].replace("==", " ")) for m in items)
    if not 0 < len(x_words) <= NAME_WORDS or not 0 < len(y_words) <= NAME_WORDS:
        return None
    return _distinct_sides(x_words, y_words)


def described_sides(answer: str) -> tuple[Sides, tuple[str, str]] | None:
    """Where a reference lists exactly two highlighted names, each with a description it leaves unhighlighted
    ("- ==perspective==: natural but mathematically complex", "- ==orthographic==: object size independent of the
    distance"): the stems that name each side, and the two descriptions as written. None otherwise, and where a
    description is highlighted (``listed_sides`` reads those)."""
    items = list(_NAMED_ITEM.finditer(answer))
    if len(items) != 2 or any("==" in m["rest"] for m in items):
        return None
    x_words, y_words = (content_tokens(m["name"].replace("==", " ")) for m in items)
    if not 0 < len(x_words) <= NAME_WORDS or not 0 < len(y_words) <= NAME_WORDS:
        return None
    sides = _distinct_sides(x_words, y_words)
    return None if sides is None else (sides, (items[0]["rest"], items[1]["rest"]))


def _with_solid_compound(side: frozenset[str], words: list[Token]) -> frozenset[str]:
    """A side of two or more words is also named by them written as one ("wordform" for *word form*); a negation is
    no word of it."""
    words = [t for t in words if t.stem != "not"]
    if len(words) < 2 or not side:
        return side
    return side | {stem("".join(t.word for t in words))}


def clause_of_each(text: str, tokens: Sequence[Token], sides: frozenset[str] = frozenset()) -> list[int]:
    """For each of a text's content tokens, the number of the clause it stands in.

    A word of ``sides`` that names what follows a colon (``_NAMED_BEFORE_A_COLON``) begins one, as a stop would:
    an answer typed on one line ("static: converts it all first dynamic: translates a few") says two things there. A
    parenthesis that opens right after a side's name goes on with its clause (``_OPENS_PARENTHESIS``)."""
    out: list[int] = []
    clause, prev_end = 0, 0
    named = side_stems(tokens, sides) if sides else []
    for i, tok in enumerate(tokens):
        if (
            _CLAUSE_BREAK.search(text, prev_end, tok.start) and not (i and sides and named[i - 1] in sides and _OPENS_PARENTHESIS.fullmatch(text, prev_end, tok.start))
        ) or (i and sides and _names_before_a_colon(text, tokens, named, i, sides)):
            clause += 1
        out.append(clause)
        prev_end = tok.end
    return out


# A parenthesis right after a side's name says what that side is: "RoI align (bilinear sampling at regular points)".
_OPENS_PARENTHESIS = re.compile(r"\s*\(\s*")


def _names_before_a_colon(text: str, tokens: Sequence[Token], named: list[str], i: int, sides: frozenset[str]) -> bool:
    """Whether a side's name begins at token ``i`` ("dynamic", or the "non" of "non causal"), after a word that names
    no side, and a colon follows it."""
    if tokens[i].stem == "not" and i + 1 < len(tokens):
        name = named[i + 1]
    elif named[i].startswith(NEGATED):  # its name began at the negation
        return False
    else:
        name = named[i]
    return name in sides and named[i - 1] not in sides and _NAMED_BEFORE_A_COLON.match(text, tokens[i].start) is not None


def term_side(reference: str, term_text: str, sides: Sides) -> int | None:
    """Which side (0 or 1) a highlighted term describes: the one its clause of the reference names, if only one does;
    else the one its own words name. Its clause is read first: a lemma is a *set of lexical forms with similar word
    sense*, whose words name the word form as well."""
    at = reference.find(term_text)
    if at >= 0:
        breaks = [m.end() for m in _CLAUSE_BREAK.finditer(reference, 0, at)]
        start = breaks[-1] if breaks else 0
        after = _CLAUSE_BREAK.search(reference, at + len(term_text))
        around = reference[start:at] + " " + reference[at + len(term_text) : after.start() if after else len(reference)]
        for names in (around, _item_name(reference, at), _heading_before(reference, at)):
            if names is not None and (side := _only_side(_named_in(names, sides), sides)) is not None:
                return side
    return _only_side(_named_in(term_text, sides), sides)


def _named_in(text: str, sides: Sides) -> set[str]:
    return set(side_stems(content_tokens(text), sides[0] | sides[1]))


# A line that opens by naming what it describes, then a colon: "- RoI align: instead of snapping, we use ...".
_ITEM_NAME = re.compile(r"[ \t>]*(?:(?:[-*+]|\d+[.)])[ \t]+)?(?P<name>\w[\w-]*(?:[ \t]+\w[\w-]*){0,2})[ \t]*:")


def _item_name(reference: str, at: int) -> str | None:
    """The name the line holding ``at`` opens with, before a colon, if any: the item "RoI align: instead of snapping,
    we use bi-linear sampling" describes RoI align in each of its clauses."""
    line_start = reference.rfind("\n", 0, at) + 1
    found = _ITEM_NAME.match(reference, line_start)
    return found["name"] if found is not None and found.end() <= at else None


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
