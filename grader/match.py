"""Finding a card's key terms in answers: the only module that imports rapidfuzz.

A card is compiled once into a table of term words. Each answer word is
compared with the table once: the words of a batch the card has not met yet go
through one ``process.cdist`` call (optimal string alignment distance, on both
the folded words and their stems), and the card remembers which rows each word
meets, and how. Answers share most of their words, so an answer then costs a
dictionary lookup per word, and a little plain Python per term it touches
(numpy on arrays of a few elements costs more than the work). They share their
phrasing too: a term remembers what each pattern of its words (where each
stands from the others, and how it was met) makes of it, wherever an answer
puts the pattern.

Tolerance is scaled to word length: words of up to four letters must match
exactly (``I/O``, ``CPU``), five to eight letters allow one slip, longer words
two, and a slip never changes the first letter (``hypervisor`` is not a typo
of ``supervisor``). Stems equal means the same word inflected
(``aggregating``/``aggregation``). An answer word of four or more letters that
begins a longer term word is read as its abbreviation (``virt``, ``perf``), and
a few standard short forms are spelt out (``hw``, ``sw``). Two words joined by
a space or a hyphen meet their closed compound either way round (``data base``,
``read-only`` / ``database``, ``readonly``).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections import ChainMap
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import chain, pairwise, product
from math import prod
from operator import attrgetter
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from rapidfuzz import fuzz, process, utils
from rapidfuzz.distance import OSA, Levenshtein

from .cardtext import question_words
from .contrast import Sides, clause_of_each, contrasted_sides, described_sides, listed_sides, side_stems, term_side
from .keyterms import clean_markdown
from .models import Card, HowFound, KeyTerm, Refusal, TermPart

if TYPE_CHECKING:
    from .semantic import WordVectors
from .normalize import BROAD_NEGATIONS, NUMBER_WORDS, OPPOSITE_WORDS, SHORT_FORMS, UNMARKED_CONTRACTIONS, Token, content_of, content_stems, content_tokens, fold, freed, is_spaceless, negated, phrase_words, stem, stemming_in, stemming_language, stopwords, term_words, tokenize

# Words the question already gives are weak evidence that the answer knows the term.
QUESTION_WORD_WEIGHT = 0.3
# Long phrases (whole sentences are common) are rarely recalled word for word:
# covering this share of their words earns the whole phrase.
LONG_PHRASE_WORDS = 4
LONG_PHRASE_SATURATION = 0.6
# Whether a highlighted term loses what it earns only from words of another term's whole mention (``_borrowed``).
BORROWED_WORDS_COST = True
# Meaning (the semantic tier, when its word vectors load): a term word not found by its spelling
# is found by an answer word whose vector is at least this close (cosine of static word vectors:
# start/begin 0.82, big/large 0.74, delete/remove 0.68, cpu/processor 0.61; big/small 0.25).
MEANING_THRESHOLD = 0.6
# Words spelt this much alike (rapidfuzz ratio) that are not typos of each other are related
# forms with other meanings (hypervisor/supervisor, privileged/unprivileged): never synonyms.
MEANING_MAX_LOOKALIKE = 50
# Words too short or too common to mean something on their own are matched by spelling only.
MEANING_MIN_LETTERS = 3
# How far (in words) the words of one term may stray from each other and still count as one mention:
# this many words, or this many per word of a longer term.
MIN_WINDOW = 6
WINDOW_PER_WORD = 2
# Whether a term's mention may centre elsewhere than on its words' first mentions (``_best_centre``).
RECENTRED = True


# How an answer word meets a term word, from the strictest to the loosest; a term is found as loosely as its loosest word.
EXACT, STEM, TYPO, COMPOUND, MEANING = 1, 2, 3, 4, 5
HOW: dict[int, HowFound] = {EXACT: "exact", STEM: "stem", TYPO: "typo", COMPOUND: "compound", MEANING: "meaning"}


def allowed_edits(length: int) -> int:
    """Typos tolerated in a word of this length."""
    if length <= 4:
        return 0
    if length <= 8:
        return 1
    return 2


# The rows of a card's word table an answer word meets, each with how: ((row, EXACT ... MEANING), ...).
Meets = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Part:
    weight: float
    rows: tuple[int, ...]  # indices into the card's word table
    row_weights: np.ndarray
    compounds: tuple[tuple[int, tuple[int, ...]], ...] = ()  # (table row of two words written as one, the rows' indices it stands for)
    affirmative: bool = True  # no negation among its words: a negated mention in the answer does not earn it
    long: bool = False  # a phrase of LONG_PHRASE_WORDS words or more (see ``phrase_words``): covering most of it earns it
    spaceless: bool = False  # read as pairs of characters (Chinese, Japanese, Thai: see ``normalize.tokenize``)
    # Each negation among its words with the words it denies (indices into ``rows``): met together or not at all.
    denials: tuple[tuple[int, tuple[int, ...]], ...] = ()
    repeats: tuple[tuple[int, int], ...] = ()  # each word it says more than once ("end to end"): its row, how many times more
    shares: dict[tuple[bool, ...], float] = field(default_factory=dict, compare=False)  # see _share


# A term's coverage in an answer, the first and last position of its mention (None if none), how it was found, and
# the positions of the answer words it was found at (with no mention: of a phrase that names something else instead)
# less a shift, and that shift, the last element (added back only where the positions are asked for: few answers need them).
Mention = tuple[float, "tuple[int, int] | None", "HowFound | None", tuple[int, ...], int]


@dataclass(frozen=True)
class _Term:
    term: KeyTerm
    weight: float
    alternatives: tuple[tuple[_Part, ...], ...]
    rows: frozenset[int]  # every table row of its alternatives: an answer that meets none of them earns nothing
    missing: Evidence  # the evidence of an answer that shows none of it (the same for every answer, so made once)
    # The term's only word, when its one alternative is one word (most derived terms), and the coverage it earns:
    # found or not, with no window to place, so such a term is settled in a few lookups.
    one_word: _Part | None = None
    one_word_coverage: float = 0.0
    # On a card that asks for a difference (``contrast``): the rows of its words that name neither side, the stems
    # that name its own side and those that name the other. None where the term describes no one side.
    sides: tuple[frozenset[int], frozenset[str], frozenset[str]] | None = None
    # A highlighted term that orders two things around a word ("item based CF works better than user based CF"): that
    # word, and the rows of the words only before it and only after it. None for any other term.
    order: tuple[str, frozenset[int], frozenset[int]] | None = None
    # A highlighted term that only names a side of the contrast (*safety*, *RoI pool*): named beside descriptions the
    # answer gives only to the wrong sides, it earns nothing (``_names_of_swapped_sides``).
    names_a_side: bool = False
    # A highlighted term's negations (the rows that say each) and the row of the word each denies first, where the
    # term says that word nowhere else ("starvation" of *deadlock free and not starvation free*): said without its
    # negation, it says the opposite.
    denied: tuple[tuple[frozenset[int], int], ...] = ()
    mentions: dict[tuple, Mention] = field(default_factory=dict, compare=False)  # see _mention


@dataclass(frozen=True)
class CompiledCard:
    """A card's key terms as a word table, and how each answer word met so far meets it."""

    card: Card
    words: list[str]
    stems: list[str]
    word_edits: np.ndarray
    stem_edits: np.ndarray
    terms: tuple[_Term, ...]
    abbreviations: dict[str, list[int]]  # answer word -> rows of the term words it abbreviates
    compound_rows: np.ndarray  # True for a row that is only two term words written as one
    # Which of OPPOSITE_BEGINNINGS each row's word begins with, for an author's highlighted terms (0: none, or derived)
    beginnings: np.ndarray
    # Per term (as ``terms``), its rows whose ``beginnings`` is not 0, and its words' general opposites it does not say
    # itself, each with its row: what ``_opposite_said`` looks for.
    opposable: tuple[tuple[tuple[int, ...], dict[str, int]], ...]
    acronyms: dict[str, list[int]]  # a term word written in capitals -> its rows: the words it stands for meet it
    stem_rows: dict[str, list[int]]  # stem -> rows of the real term words with it (compounds excluded)
    variant_rows: dict[str, list[int]]  # another stem a real term word is met by (``_variant_stems``) -> its rows
    # The stem of a highlighted term word, or of the word it is made of (``_derived_word_stems``) -> its rows
    made_of_rows: dict[str, list[int]]
    prefixes: frozenset[str]  # every beginning of a real term word: the first half of a compound must be one
    vectors: WordVectors | None = None  # the semantic tier's word vectors, when it is on
    word_vectors: np.ndarray | None = None  # unit vector of each table word (zero rows: spelling only)
    reference_vector: np.ndarray | None = None  # unit vector of the reference answer's content words the question lacks
    question_stems: frozenset[str] = frozenset()  # the question's content stems: the similarity leaves them out
    stopword_terms: frozenset[str] = frozenset()  # stopwords a term is made of: an answer's are matched, not skipped
    single_chars: dict[str, int] = field(default_factory=dict)  # a term's lone character (熵) -> its row: see _word_matches
    # Two words a highlighted term says in a row, with their rows, by the first letters of the first: see _blended.
    blends: dict[str, list[tuple[str, str, tuple[int, int]]]] = field(default_factory=dict)
    # The stems the card itself says "free" after ("context-free"), which an answer's "X-free" does not deny; None where
    # an answer's denials are read for every term alike (``_highlights_affirmed``): another language, or no highlight.
    free_of: frozenset[str] | None = None
    # The descriptions a reference leaves unhighlighted beside two highlighted names ("- ==perspective==: natural but
    # mathematically complex"), as terms marked with their sides: they earn nothing, but an answer that gives them to
    # the wrong names earns nothing for the names (``_unhighlighted_swap``).
    side_descriptions: tuple[_Term, ...] = ()
    # Answer word -> the (table row, how) pairs it meets: answers share most of their words, so each is compared once.
    known: dict[str, Meets] = field(default_factory=dict, compare=False)


# Answer words remembered per card, at most (later ones are compared again in each batch): memory stays flat on any stream.
KNOWN_WORDS = 50_000
# Share patterns remembered per part, at most (a long phrase could otherwise collect many).
KNOWN_SHARES = 4096
# Mention patterns remembered per term, at most (see _mention).
KNOWN_MENTIONS = 1024


# A NamedTuple made without its Python-level __new__ (an AnswerMatch is made per answer, an Evidence per term and answer).
_new_tuple = tuple.__new__
_word_of = attrgetter("word")


class AnswerMatch(NamedTuple):
    """What one answer shows of a card: evidence per key term, and how close it is in meaning to the reference."""

    evidence: list[Evidence]
    similarity: float | None  # cosine with the reference answer; None without the semantic tier


class Evidence(NamedTuple):  # a tuple: one is made per term and answer
    """How much of one key term an answer covers, and where."""

    term: KeyTerm
    weight: float
    coverage: float
    span: tuple[int, int] | None
    how: HowFound | None = None  # how its words were found: exact, stem, typo, compound or meaning (the loosest); None if not
    refused: Refusal | None = None  # why the words the answer says of it (at ``span``) earn it nothing; None if they do


def compile_card(card: Card, vectors: WordVectors | None = None) -> CompiledCard:
    """Index a card's key terms once; reuse the result for every answer to it.

    With ``vectors`` (the semantic tier), term words also get vectors so that
    an answer word of the same meaning can stand for them.
    """
    question_stems = {t.stem for t in content_tokens(question_words(card))}
    denied_in_reference, broadly_denied_in_reference = _denied_stems(card.answer)
    table: dict[tuple[str, str], int] = {}
    plain_rows: set[int] = set()  # rows of real term words (not compounds): only these can be abbreviated
    highlighted_rows: set[int] = set()  # rows of the author's own terms' words (numbers meet their words only there)
    acronyms: dict[str, list[int]] = {}  # a term word written in capitals ("VMM") -> its rows
    expansions: dict[str, list[tuple[int, ...]]] = {}  # the initials of a part's words ("vmm") -> those words' rows
    part_words: list[frozenset[int]] = []  # each term part's rows
    spoken: set[str] = set()  # stopwords a term is made of ("up and down"): an answer's are words to match
    common = stopwords()
    single_chars: dict[str, int] = {}  # a term word that is one character of a script without spaces -> its row
    blends: dict[str, list[tuple[str, str, tuple[int, int]]]] = {}  # see _blended
    terms = []
    sides, descriptions = _side_descriptions(card)
    for term in (*card.key_terms, *descriptions):
        alternatives = []
        for alt in term.alternatives:
            parts = []
            for part in alt:
                words = tokenize(part.text)
                toks = term_words(words)
                if not toks:  # the deck parser leaves such a phrasing out; one built by hand would weigh as NaN
                    raise ValueError(f"card {card.id}: key term {term.text!r} has a phrasing with no words to find: {part.text!r}")
                spoken.update(t.word for t in toks if t.word in common)
                rows = tuple(table.setdefault((t.word, t.stem), len(table)) for t in toks)
                plain_rows.update(rows)
                if not term.derived:
                    highlighted_rows.update(rows)
                    for (a, ra), (b, rb) in pairwise(zip(toks, rows)):
                        if _BLEND_GAP.fullmatch(part.text, a.end, b.start) and a.word.isalpha() and b.word.isalpha():
                            blends.setdefault(a.word[: BLEND_LETTERS[0]], []).append((a.word, b.word, (ra, rb)))
                _index_acronyms(part.text, toks, rows, acronyms, expansions)
                part_words.append(frozenset(rows))
                weights = [QUESTION_WORD_WEIGHT if t.stem in question_stems else 1.0 for t in toks]
                joins = _compounds(part.text, words, toks)
                compounds = tuple((table.setdefault((joined, stem(joined)), len(table)), covers) for covers, joined in joins)
                reference_denies = denied_in_reference if term.derived else broadly_denied_in_reference
                affirmative = all(t.word != "not" and t.stem not in reference_denies for t in toks)
                spaceless = any(is_spaceless(t.word) for t in toks)
                if spaceless:
                    single_chars.update({t.word: row for t, row in zip(toks, rows) if len(t.word) == 1 and is_spaceless(t.word)})
                long = phrase_words(toks) >= LONG_PHRASE_WORDS
                denials = () if affirmative else _denial_units(term, part.text, toks)
                repeats = tuple((row, rows.count(row) - 1) for row in dict.fromkeys(rows) if rows.count(row) > 1)
                parts.append(_Part(part.weight, rows, np.array(weights), compounds, affirmative, long, spaceless, denials, repeats))
            alternatives.append(tuple(parts))
        first = alternatives[0]
        weight = term.weight * sum(p.weight * float(p.row_weights.mean()) for p in first) / sum(p.weight for p in first)
        rows = frozenset(r for alt in alternatives for p in alt for r in (*p.rows, *(row for row, _ in p.compounds)))
        missing = Evidence(term, weight, 0.0, None)
        if len(alternatives) == 1 and len(first) == 1 and len(first[0].rows) == 1 and not first[0].compounds:
            alone = {first[0].rows[0]: {0: EXACT}}  # its word found: what that earns, worked out as for any answer
            coverage = _alternative_coverage(first, alone, alone)[0]
            terms.append(_Term(term, weight, tuple(alternatives), rows, missing, first[0], coverage))
        else:
            terms.append(_Term(term, weight, tuple(alternatives), rows, missing))
    words = [w for w, _ in table]
    stems = [s for _, s in table]
    terms, described = terms[: len(card.key_terms)], terms[len(card.key_terms) :]
    terms = _with_sides(card, terms, stems)
    if sides is not None:
        terms, described = _with_described_sides(terms, described, sides, stems)
    if stemming_language() == "english":  # its order words are English
        terms = [_with_order(term, stems) for term in terms]
    terms = [_with_denied(term, stems, terms) for term in terms]
    abbreviations = _abbreviation_index([w if i in plain_rows else "" for i, w in enumerate(words)], stems, highlighted_rows)
    for letters, candidates in expansions.items():  # an answer's acronym meets a term's words as an abbreviation does
        if stem(letters) in question_stems:  # the question's own, said back ("VMM stands for ...")
            continue
        for rows in candidates:
            # Not one that would also hold the whole of another part ("MRSW" the words of *single read, single
            # write*): rows are shared by every term of a card.
            if not any(part < set(rows) for part in part_words):
                abbreviations.setdefault(letters, []).extend(rows)
    stem_rows: dict[str, list[int]] = {}
    variant_rows: dict[str, list[int]] = {}
    for i in sorted(plain_rows):
        stem_rows.setdefault(stems[i], []).append(i)
        for variant in _variant_stems(words[i], stems[i]):
            variant_rows.setdefault(variant, []).append(i)
    english = stemming_language() == "english"  # the highlighted terms' English-only rules below
    made_of_rows: dict[str, list[int]] = {}
    for i in sorted(plain_rows & highlighted_rows) if english else ():
        for made_of in (stems[i], *_derived_word_stems(words[i], stems[i])):
            made_of_rows.setdefault(made_of, []).append(i)
    beginnings = np.array([_beginning(w) if i in highlighted_rows else 0 for i, w in enumerate(words)], dtype=np.int8)
    opposite_stems = _opposite_stems() if english else {}
    opposites = {i: opposite_stems[stems[i]] for i in highlighted_rows if stems[i] in opposite_stems}
    for i in sorted(highlighted_rows & plain_rows) if english else ():
        if negated_forms := _negated_forms(words[i]):
            opposites[i] = opposites.get(i, frozenset()) | negated_forms
    return CompiledCard(
        card=card,
        words=words,
        stems=stems,
        word_edits=np.array([allowed_edits(len(w)) for w in words], dtype=np.int32),
        stem_edits=np.array([allowed_edits(len(s)) for s in stems], dtype=np.int32),
        terms=tuple(terms),
        abbreviations=abbreviations,
        compound_rows=np.array([i not in plain_rows for i in range(len(words))], dtype=bool),
        beginnings=beginnings,
        opposable=tuple(_opposable(term, beginnings, stems, opposites) for term in terms),
        acronyms=acronyms,
        stem_rows=stem_rows,
        variant_rows=variant_rows,
        made_of_rows=made_of_rows,
        prefixes=frozenset(words[i][:k] for i in plain_rows for k in range(1, len(words[i]))),
        vectors=vectors,
        word_vectors=_meaning_vectors(vectors, [w if i in plain_rows else "" for i, w in enumerate(words)]) if vectors else None,
        reference_vector=_reference_vector(vectors, card, question_stems) if vectors else None,
        question_stems=frozenset(question_stems),
        stopword_terms=frozenset(spoken),
        single_chars=single_chars,
        free_of=_said_free(card) if highlighted_rows and english else None,
        blends=blends,
        side_descriptions=tuple(described),
    )


# A term describes one side of a contrast when it has this many words that name neither side ("Hoare semantics" is a
# name; "using slack to even out resources" a description).
SIDE_DESCRIPTION_WORDS = 2


def _with_sides(card: Card, terms: list[_Term], stems: list[str]) -> list[_Term]:
    """The terms, each highlighted one that describes one side of what the question contrasts (or, where it contrasts
    nothing, the two names the reference lists) marked with it, where some term is not that side's (``contrast``)."""
    if not card.key_terms or card.key_terms[0].derived:
        return terms
    sides = contrasted_sides(card.question) or listed_sides(card.answer)
    if sides is None:
        return terms
    reference = card.answer.replace("==", "")
    named = sides[0] | sides[1]
    marked = []
    for term in terms:
        side = term_side(reference, term.term.text, sides)
        described = frozenset(row for alt in term.alternatives for part in alt for row in part.rows if stems[row] not in named)
        marked.append((term, side if len(described) >= SIDE_DESCRIPTION_WORDS else None, described))
    if {side for _, side, _ in marked} < {0, 1}:  # every term one side's (or none): nothing to swap with
        return terms
    return [
        (replace(term, names_a_side=True) if len(described) < SIDE_DESCRIPTION_WORDS and any(stems[row] in named for row in term.rows) else term)
        if side is None
        else replace(term, sides=(described, sides[side], sides[1 - side]))
        for term, side, described in marked
    ]


def _side_descriptions(card: Card) -> tuple[Sides | None, list[KeyTerm]]:
    """The two sides a highlighted card lists by name with descriptions left unhighlighted (``described_sides``), and
    those descriptions as terms, where neither the question nor highlighted descriptions set the sides already."""
    if not card.key_terms or card.key_terms[0].derived or contrasted_sides(card.question) or listed_sides(card.answer):
        return None, []
    listed = described_sides(card.answer)
    if listed is None:
        return None, []
    texts = [clean_markdown(text).strip(" \t-:=") for text in listed[1]]
    if not all(content_tokens(text) for text in texts):
        return None, []
    return listed[0], [KeyTerm(text=text, alternatives=[[TermPart(text=text, weight=1.0)]], derived=True) for text in texts]


def _with_described_sides(terms: list[_Term], described: list[_Term], sides: Sides, stems: list[str]) -> tuple[list[_Term], list[_Term]]:
    """The highlighted terms, each that only names a side marked so, and the unhighlighted descriptions marked with
    their sides, each by the words the other does not say too ("based", "ratings" describe neither of *user based*
    and *item based*); none where a description has no word of its own."""
    named = sides[0] | sides[1]
    said = [{stems[row] for alt in d.alternatives for part in alt for row in part.rows} - named for d in described]
    own = [frozenset(row for alt in d.alternatives for part in alt for row in part.rows if stems[row] in said[i] - said[1 - i]) for i, d in enumerate(described)]
    if not all(own):
        return terms, []
    marked = [
        replace(term, names_a_side=True)
        if any(stems[row] in named for row in term.rows) and sum(stems[row] not in named for row in term.rows) < SIDE_DESCRIPTION_WORDS
        else term
        for term in terms
    ]
    return marked, [replace(d, sides=(own[i], sides[i], sides[1 - i])) for i, d in enumerate(described)]


# Words that order what stands before them against what stands after: "X works better than Y", "first X then Y",
# "X before Y", "X instead of Y". Each with the word that says the same order the other way round ("Y after X").
_ORDER_WORDS = {"than": "than", "then": "then", "before": "after", "after": "before", "instead of": "instead of", "rather than": "rather than"}
_ORDER_WORD = re.compile(r"\b(?:rather than|instead of|than|then|before|after)\b", re.IGNORECASE)


def _with_order(term: _Term, stems: list[str]) -> _Term:
    """A highlighted term marked with the order it says (``_Term.order``), where one order word splits it into two
    parts that each have words of their own."""
    if term.term.derived:
        return term
    said = list(_ORDER_WORD.finditer(term.term.text))
    if len(said) != 1:
        return term
    at = said[0]
    before = {t.stem for t in content_tokens(term.term.text[: at.start()])}
    after = {t.stem for t in content_tokens(term.term.text[at.end() :])}
    first = frozenset(row for row in term.rows if stems[row] in before - after)
    second = frozenset(row for row in term.rows if stems[row] in after - before)
    if not first or not second:
        return term
    return replace(term, order=(at[0].lower(), first, second))


def _with_denied(term: _Term, stems: list[str], terms: list[_Term]) -> _Term:
    """A highlighted term marked with its negations and the word each denies first (``_Term.denied``): "starvation" of
    *not starvation free*, "deterministic" of *non-deterministic choice*. Not a word its other words say too
    ("promotes specific words, penalises non-specific words" says both), nor one another term of the card says (*with
    labels* beside *unsupervised, with no labels*): said alone, such a word is that term's."""
    if not any(part.denials for alternative in term.alternatives for part in alternative):
        return term
    others = frozenset().union(*(t.rows for t in terms if t is not term))
    units = []
    for alternative in term.alternatives:
        for part in alternative:
            for negation, scope in part.denials:
                first = part.rows[scope[0]]
                elsewhere = {stems[r] for i, r in enumerate(part.rows) if i != negation and i not in scope}
                if stems[first] in elsewhere or first in others:
                    continue
                # The negation, or a word that holds it ("nondeterministic" for *non-deterministic*).
                said = frozenset([part.rows[negation], *(row for row, covers in part.compounds if negation in covers)])
                units.append((said, first))
    return replace(term, denied=tuple(units)) if units else term


def _denial_dropped(term: _Term, found: Found, said: Found, ends: tuple[int, int]) -> int | None:
    """Where, around a mention of a negative term, the answer says the word the term denies with no negation there:
    "deadlock free and starvation free" for *only deadlock free and not starvation free*; None if it does not."""
    reach = len(term.rows)
    lo, hi = ends[0] - reach, ends[1] + reach
    for negation, row in term.denied:
        if any(lo <= p <= hi for r in negation for p in found.get(r, ())):
            continue
        for p in said.get(row, ()):
            if lo <= p <= hi:
                return p
    return None


def _said_the_other_way(order: tuple[str, frozenset[int], frozenset[int]], found: Found, positions: set[int], text: str, tokens: list[Token], ends: tuple[int, int]) -> bool:
    """Whether an answer's mention of a term that orders two things says them the other way round: some words of the
    term's first part after the order word and some of its second before it ("user based CF works better than item
    based CF" for *item based CF works better than user based CF*). Around the converse word ("Y after X" for *X
    before Y*) that is right: "after" is also the opposite of "before", and the two reversals cancel (``_evidence``)."""
    word, first, second = order
    start, end = tokens[ends[0]].start, tokens[ends[1]].end
    said = [m for m in _ORDER_WORD.finditer(text, start, end) if m[0].lower() in (word, _ORDER_WORDS[word])]
    if len(said) != 1:
        return False
    at = said[0]
    firsts = [tokens[p].start for row in first for p in found.get(row, ()) if p in positions]
    seconds = [tokens[p].start for row in second for p in found.get(row, ()) if p in positions]
    # What the two things are said as: the first part's own words after the order word and the second's before it.
    # The words that make the order itself ("works better") stand before it either way.
    return any(p > at.start() for p in firsts) and any(p < at.start() for p in seconds)


def _denial_units(term: KeyTerm, text: str, toks: list[Token]) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """Each negation of a highlighted term's words and the words it denies there ("non" and "transparent" in *non
    transparent*), to be met together (``_around``).

    Not in derived terms: cut from a reference, their negation is as often the reference's verb ("not create" of "does
    not create a default constructor"), and the answers the training splits' teachers credit say it otherwise
    (eval/RESULTS.md).
    """
    if term.derived:
        return ()
    denied = negated(text, toks)
    out = []
    for i, tok in enumerate(toks):
        if tok.word != "not":
            continue
        scope = []
        for j in range(i + 1, len(toks)):
            if not denied[j]:
                break
            scope.append(j)
        if scope:
            out.append((i, tuple(scope)))
    return tuple(out)


def _meaning_vectors(vectors: WordVectors, words: list[str]) -> np.ndarray:
    """Unit vectors of words that can carry a meaning of their own; zero rows for the rest."""
    from .semantic import unit

    rows = vectors.words([w if _has_meaning(w) else "" for w in words])
    return unit(rows)


def _has_meaning(word: str) -> bool:
    return len(word) >= MEANING_MIN_LETTERS and word.isalpha() and word != "not"


def _reference_vector(vectors: WordVectors, card: Card, question_stems: set[str]) -> np.ndarray:
    from .keyterms import clean_markdown
    from .semantic import reference_vector

    tokens = content_tokens(clean_markdown(card.answer)) or content_tokens(" ".join(t.text for t in card.key_terms))
    return reference_vector(vectors, tokens, question_stems)


def _said_free(card: Card) -> frozenset[str]:
    """The stems a card's question, reference or terms say "free" or "freedom" right after ("context-free grammar",
    "deadlock freedom")."""
    from .keyterms import clean_markdown

    text = "\n".join([question_words(card), clean_markdown(card.answer), *(t.text for t in card.key_terms)])
    tokens = content_tokens(text)
    return frozenset(t.stem for t, free in zip(tokens, freed(text, tokens, _FREE_NAMES)) if free)


_FREE_NAMES = frozenset({"free", "freedom"})


def _denied_stems(reference: str) -> tuple[set[str], set[str]]:
    """Stems the reference itself negates, as derived terms read denials and as highlighted ones do (``negated``'s
    ``broad``): an answer that negates them agrees with it."""
    from .keyterms import clean_markdown

    text = clean_markdown(reference)
    tokens = content_tokens(text)
    narrow, broad = ({t.stem for t, denied in zip(tokens, negated(text, tokens, wide)) if denied} for wide in (False, True))
    return narrow, broad


def match_answers(compiled: CompiledCard, answers: list[str], words: list[list[Token]] | None = None) -> list[AnswerMatch]:
    """Evidence for every key term in each answer; the words the card has not met are compared in one batch.

    ``words``: each answer's ``tokenize``, when the caller has it already.
    """
    if words is None:
        words = [tokenize(a) for a in answers]
    tokenized = [content_of(ws, compiled.stopword_terms) for ws in words]
    met: Mapping[str, Meets] = compiled.known
    new = [w for w in dict.fromkeys(map(_word_of, chain.from_iterable(tokenized))) if w not in met]
    if new:
        learned = dict(zip(new, _word_matches(compiled, new)))
        if len(compiled.known) + len(learned) <= KNOWN_WORDS:
            compiled.known.update(learned)
        else:  # full: this batch's new words are used, not kept
            met = ChainMap(learned, compiled.known)
    if compiled.vectors is None:
        similarity: Sequence[float | None] = [None] * len(answers)
    else:
        similarity = _similarities(compiled, tokenized)
    return [
        _new_tuple(AnswerMatch, (_evidence(compiled, met, text, ws, toks), sim))
        for text, ws, toks, sim in zip(answers, words, tokenized, similarity)
    ]


def _word_matches(compiled: CompiledCard, answer_words: list[str]) -> list[Meets]:
    """For each answer word, the table rows it meets and how (``EXACT`` ... ``MEANING``), by one comparison for them all."""
    if not compiled.words:
        return [()] * len(answer_words)
    answer_stems = [stem(w) for w in answer_words]
    word_dist = process.cdist(compiled.words, answer_words, scorer=OSA.distance, score_cutoff=2, dtype=np.int32)
    stem_dist = process.cdist(compiled.stems, answer_stems, scorer=OSA.distance, score_cutoff=2, dtype=np.int32)
    fuzzy = (word_dist <= compiled.word_edits[:, None]) | (stem_dist <= compiled.stem_edits[:, None])
    same_initial = np.array([w[:1] for w in compiled.words])[:, None] == np.array([w[:1] for w in answer_words])[None, :]
    exact = stem_dist == 0
    typo = fuzzy & same_initial
    if compiled.beginnings.any() and typo.any():
        typo &= ~_opposite_beginnings(compiled.beginnings, answer_words)
    how = np.where(word_dist == 0, EXACT, np.where(exact, STEM, np.where(typo, TYPO, 0))).astype(np.int8)
    for j, word in enumerate(answer_words):
        for i in compiled.abbreviations.get(word, ()):
            how[i, j] = how[i, j] or TYPO
    if compiled.blends:  # "mutex" for *mutual exclusion*
        for j in np.flatnonzero(~how.any(axis=0)):
            for i in _blended(compiled.blends, answer_words[j]):
                how[i, j] = TYPO
    for j, (word, answer_stem) in enumerate(zip(answer_words, answer_stems)):  # "Laplace", "normalising" (_variant_stems)
        rows = list(compiled.variant_rows.get(answer_stem, ()))
        for variant in _variant_stems(word, answer_stem):
            rows += compiled.stem_rows.get(variant, [])
            rows += compiled.variant_rows.get(variant, [])
        if compiled.made_of_rows:  # "miner" for *mining*, "neighbours" for *neighbourhood*
            rows += compiled.made_of_rows.get(answer_stem, [])
            for made_of in _derived_word_stems(word, answer_stem):
                rows += compiled.made_of_rows.get(made_of, [])
        for i in rows:
            how[i, j] = how[i, j] or STEM
    if compiled.single_chars:  # an answer reads a term's lone character inside its pairs ("熵是" holds 熵)
        for j, word in enumerate(answer_words):
            for i in {compiled.single_chars.get(c) for c in word if len(word) == 2} - {None}:
                how[i, j] = how[i, j] or EXACT
    # Two term words written as one must meet an answer word exactly ("alow" is not "allow").
    how[compiled.compound_rows] = np.where(exact[compiled.compound_rows], COMPOUND, 0)
    if compiled.vectors is not None:
        answer_vectors = _meaning_vectors(compiled.vectors, answer_words)
        meant = ((compiled.word_vectors @ answer_vectors.T) >= MEANING_THRESHOLD) & (how == 0)
        if meant.any():  # words that look alike but are not typos are neighbours, not synonyms (hypervisor, supervisor)
            look_alike = process.cdist(compiled.words, answer_words, scorer=fuzz.ratio, score_cutoff=MEANING_MAX_LOOKALIKE, dtype=np.int32)
            how[meant & (look_alike == 0)] = MEANING
    met: list[list[tuple[int, int]]] = [[] for _ in answer_words]
    for row, col in zip(*np.nonzero(how)):
        met[col].append((int(row), int(how[row, col])))
    return [tuple(pairs) for pairs in met]


# Beginnings that make opposites a letter or two apart ("intra"/"inter" cluster, "microscopic"/"macroscopic",
# "minimises"/"maximises", "hypotension"/"hypertension", "endothermic"/"exothermic"): in an author's highlighted
# term, a word that begins with one is no typo of a word that begins with the other. Not in terms derived from a
# reference: ASAP's teachers credit "endocytosis" where the reference lists "exocytosis" too (eval/RESULTS.md).
OPPOSITE_BEGINNINGS = (("intra", "inter"), ("micro", "macro"), ("min", "max"), ("hypo", "hyper"), ("endo", "exo"))


@lru_cache(maxsize=65536)
def _beginning(word: str) -> int:
    """Which of ``OPPOSITE_BEGINNINGS`` a word begins with: 2k + 1 for the first of pair k, 2k + 2 for the second,
    0 for none."""
    for k, pair in enumerate(OPPOSITE_BEGINNINGS):
        for side, beginning in enumerate(pair):
            if word.startswith(beginning):
                return 2 * k + 1 + side
    return 0


def _opposite_beginnings(beginnings: np.ndarray, answer_words: list[str]) -> np.ndarray:
    """For each table row (``beginnings``: its word's ``_beginning``) and answer word, whether the two begin with the
    two sides of one pair of opposites."""
    opposite = np.where(beginnings % 2 == 1, beginnings + 1, beginnings - 1)  # each side's other side (-1: none)
    return (beginnings > 0)[:, None] & (opposite[:, None] == np.array([_beginning(w) for w in answer_words])[None, :])


# Two English words meet as by their stem, their stems as Snowball makes them left alone (so a misspelt "protean" still
# meets "protein" as a typo), where one is:
# - an adjective made of a name that the other is: "Laplacian" and "Laplace", "Gaussian" and "Gauss", "Bayesian" and
#   "Bayes", "Euclidean", "Markovian", "Boolean" (a name of four letters at least: "median", "Indian", "ocean" are no
#   adjectives of "med", "ind", "oc");
# - the British spelling of the other's family in -ise: Snowball takes "normalization", "normalizing" to "normal" but
#   "normalisation", "normalising" only to "normalis".
_SHORTEST_EPONYM = 7
_BRITISH_ISE = re.compile(r"^(\w{4,})is(e|es|ed|ing|ation|ations|er|ers)$")
_AGENT = re.compile(r"^(\w{3,}?)(e?)rs?$")
_STATE = re.compile(r"^(\w{4,})(?:hood|ship)s?$")


def _variant_stems(word: str, word_stem: str) -> tuple[str, ...]:
    """The other stems an English word is met by (see above): its name's, its American spelling's."""
    if stemming_language() != "english":
        return ()
    variants = []
    if len(word_stem) >= _SHORTEST_EPONYM and word_stem.endswith(("ian", "ean")):
        variants.append(stem(word_stem[:-3]))
    if (british := _BRITISH_ISE.match(word)) and (american := stem(f"{british[1]}iz{british[2]}")) != word_stem:
        variants.append(american)
    return tuple(variants)


def _derived_word_stems(word: str, word_stem: str) -> tuple[str, ...]:
    """The stem of the word an English word is made of by a suffix Snowball leaves on: an agent noun's verb ("miner"
    *mine*, "sender" *send*), a state's noun ("neighbourhood" *neighbour*, "membership" *member*). For an author's
    highlighted terms only: "-er" also makes comparatives ("smaller" *small*), which the datasets' teachers do not
    credit as their base (eval/RESULTS.md)."""
    return _made_of(word, word_stem) if stemming_language() == "english" else ()


@lru_cache(maxsize=65536)
def _made_of(word: str, word_stem: str) -> tuple[str, ...]:
    """``_derived_word_stems`` in English (cached: asked of every answer word to a card with highlights)."""
    stems = []
    if len(word) >= 5 and (agent := _AGENT.match(word)):
        if (doer := stem(agent[1] + agent[2])) != word_stem and len(doer) >= 4:
            stems.append(doer)
    if state := _STATE.match(word):
        stems.append(stem(state[1]))
    return tuple(stems)


def _similarities(compiled: CompiledCard, tokenized: list[list[Token]]) -> list[float]:
    """Each answer's similarity to the reference, over the words the question lacks (0 for a card without terms)."""
    from .semantic import similarities

    assert compiled.vectors is not None and compiled.reference_vector is not None  # asked only of a card compiled with vectors
    if not compiled.words:
        return [0.0] * len(tokenized)
    return similarities(compiled.vectors, compiled.reference_vector, tokenized, compiled.question_stems)


def _compounds(
    text: str,
    words: list[Token],
    tokens: list[Token],
    prefixes: frozenset[str] | None = None,
    stems: Collection[str] | None = None,
) -> list[tuple[tuple[int, ...], str]]:
    """Two adjacent ``words`` of a text, apart by one space or hyphen, written as one ("read-only" -> "readonly").

    Each comes with the indices in ``tokens`` (the text's content words) of the
    words it stands for: a stopword half ("only") has none. With ``prefixes``,
    only pairs whose first word begins some word in it are tried; with ``stems``,
    only words written as one whose stem is in it are kept.
    """
    index: dict[int, int] | None = None  # content-word index by offset, built on the first candidate
    out = []
    for a, b in pairwise(words):
        # As written, not as read: "non-blocking" is "nonblocking", though "non" reads "not".
        first = fold(text[a.start : a.end]) if a.word == "not" else a.word
        if prefixes is not None and first not in prefixes:
            continue
        word = first + (fold(text[b.start : b.end]) if b.word == "not" else b.word)
        if stems is not None and stem(word) not in stems:
            continue
        if index is None:
            index = {t.start: i for i, t in enumerate(tokens)}
        covers = tuple(index[t.start] for t in (a, b) if t.start in index)
        if covers and text[a.end : b.start] in (" ", "-", "\u2010") and word.isalnum():
            out.append((covers, word))
    return out


# Where an answer meets a card's table: table row -> {answer position (content word): how they meet}.
Found = dict[int, dict[int, int]]


def _found(compiled: CompiledCard, met: Mapping[str, Meets], text: str, words: list[Token], tokens: list[Token]) -> Found:
    """Where each term word is met in one answer, from the rows each of its words meets (``met``).

    Two answer words written apart also meet the term word they spell as one,
    but only with its exact spelling (same stem): "a low" is not "allow".
    """
    found: Found = {}
    for pos, tok in enumerate(tokens):
        for row, how in met[tok.word]:
            found.setdefault(row, {})[pos] = how
    for covers, word in _compounds(text, words, tokens, compiled.prefixes, compiled.stem_rows):
        for row in compiled.stem_rows[stem(word)]:
            at = found.setdefault(row, {})
            for pos in covers:
                if at.get(pos, 0) in (0, TYPO):  # "data" alone abbreviates
                    at[pos] = COMPOUND
    if compiled.acronyms:
        _acronyms_found(compiled, text, tokens, found)
    return found


# An acronym has this many letters, at least and at most; each word it stands for, this many letters at least.
# Two capitals are as often a name as an acronym (a semaphore "SP"), two initials as often something else (SAF's
# "ss_thresh" is no "slow start").
ACRONYM_LETTERS = (3, 6)
ACRONYM_WORD_LETTERS = 3
# What may stand between the words an acronym stands for ("central processing unit", "client-server", "input/output").
_ACRONYM_GAP = frozenset({" ", "-", "/", "\u2010"})


def _index_acronyms(
    text: str, toks: list[Token], rows: tuple[int, ...], acronyms: dict[str, list[int]], expansions: dict[str, list[tuple[int, ...]]]
) -> None:
    """File a term part's acronyms (its words written in capitals, "VMM") and the acronym of its words together
    ("virtual machine monitor" is "vmm"), so that an answer can say either for the other."""
    low, high = ACRONYM_LETTERS
    for tok, row in zip(toks, rows):
        if low <= len(tok.word) <= high and tok.word.isalpha() and text[tok.start : tok.end].isupper():
            acronyms.setdefault(tok.word, []).append(row)
    if low <= len(toks) <= high and all(len(t.word) >= ACRONYM_WORD_LETTERS and t.word.isalpha() for t in toks):
        expansions.setdefault("".join(t.word[0] for t in toks), []).append(rows)


def _acronyms_found(compiled: CompiledCard, text: str, tokens: list[Token], found: Found) -> None:
    """Add to ``found`` the term acronyms an answer spells out ("central processing unit" for *CPU*), as loosely as
    abbreviations (the other way, "the VMM" for *virtual machine monitor*, is in ``abbreviations``)."""
    initials = "".join([t.word[0] for t in tokens])  # where an acronym's letters stand in a row, found by str.find
    for letters, rows in compiled.acronyms.items():
        i = initials.find(letters)
        while i >= 0:
            run = tokens[i : i + len(letters)]
            if all(len(t.word) >= ACRONYM_WORD_LETTERS for t in run) and all(text[a.end : b.start] in _ACRONYM_GAP for a, b in pairwise(run)):
                for row in rows:  # at the first word: a term's other words are placed from where the acronym begins
                    found.setdefault(row, {}).setdefault(i, TYPO)
            i = initials.find(letters, i + 1)


def _abbreviation_index(term_words: list[str], stems: list[str], highlighted: set[int]) -> dict[str, list[int]]:
    """Answer words that abbreviate a term word: its prefixes of four or more letters
    that leave three or more unsaid (``virt`` -> ``virtualization``), standard short forms, and for a word of an
    author's highlighted term (rows ``highlighted``), a number in digits for one in words or the other way round, and
    an English negation typed without its apostrophe ("doesnt") for its negation."""
    index: dict[str, list[int]] = {}
    for i, word in enumerate(term_words):
        for cut in range(_unnegated_stop(word) if i in highlighted else 4, len(word) - 2):
            index.setdefault(word[:cut], []).append(i)
    shorts: dict[str, list[str]] = {}  # by the stem (``stems``: the table's): "app" is short for "applications" too
    for short, full in SHORT_FORMS.items():
        shorts.setdefault(stem(full), []).append(short)
    for i, word in enumerate(term_words):
        for short in shorts.get(stems[i], ()) if word else ():
            index.setdefault(short, []).append(i)
    english = stemming_language() == "english"
    for i in highlighted:
        word = term_words[i]
        if word == "not" and english:  # "doesnt converge" for *does not converge*
            for contraction in UNMARKED_CONTRACTIONS:
                index.setdefault(contraction, []).append(i)
        elif word in NUMBER_WORDS:
            index.setdefault(NUMBER_WORDS[word], []).append(i)
        elif word in _NUMBERS_SPELT:
            index.setdefault(_NUMBERS_SPELT[word], []).append(i)
    return index


_NUMBERS_SPELT = {digits: word for word, digits in NUMBER_WORDS.items()}
# A word made with "-less" says the opposite of its root ("stateless", "agentless", "connectionless"): in an author's
# highlighted term, no beginning up to its root abbreviates it ("state" is not short for "stateless"). In terms
# derived from a reference it still does: SAF's teachers grade so (eval/RESULTS.md).
_WITHOUT_SUFFIX = re.compile(r"^(\w{3,}?)less(?:ly|ness)?$")


def _unnegated_stop(word: str) -> int:
    """Where the beginnings of a highlighted term word that may abbreviate it start: four letters, or past a "-less"
    word's root."""
    without = _WITHOUT_SUFFIX.match(word)
    return max(4, len(without[1]) + 1) if without else 4


# Two words blended into one by their beginnings, as "mutex" is *mutual exclusion*, "regex" *regular expression* and
# "sysadmin" *system administrator*: at least this many letters of each, both cut short.
BLEND_LETTERS = (3, 2)
_BLEND_GAP = re.compile(r"[ \-]")


def _blended(blends: dict[str, list[tuple[str, str, tuple[int, int]]]], word: str) -> tuple[int, ...]:
    """The rows of the two words a highlighted term says in a row that an answer word blends (``BLEND_LETTERS``), or
    none: checked for a word that meets no term word otherwise, so an answer's real words keep their meaning."""
    low_first, low_second = BLEND_LETTERS
    for first, second, rows in blends.get(word[:low_first], ()):
        for cut in range(low_first, min(len(first), len(word) - low_second + 1)):
            if word[cut - 1] != first[cut - 1]:
                break
            if len(word) - cut < len(second) and second.startswith(word[cut:]):
                return rows
    return ()


def _evidence(compiled: CompiledCard, met: Mapping[str, Meets], text: str, words: list[Token], tokens: list[Token]) -> list[Evidence]:
    """Per-term coverage in one answer (``words``: all its tokens; ``tokens``: its content words; ``met``: see ``_found``).

    A term word met only where a negation denies the answer word earns nothing,
    unless the term is itself negative.
    """
    found = _found(compiled, met, text, words, tokens)
    if not found:
        return [t.missing for t in compiled.terms]
    denied = negated(text, tokens)
    affirmed = {row: {p: h for p, h in at.items() if not denied[p]} for row, at in found.items()} if any(denied) else found
    highlights_affirmed = _highlights_affirmed(compiled, found, affirmed, denied, text, tokens)
    out = []
    placed: list[tuple[int, _Term, float, tuple[int, ...], int]] = []  # the highlighted terms met (see _borrowed)
    whole = 0  # how many of them are met whole, or refused
    # The clause of each content word, made once a contrast asks for it: a side named before a colon begins one too.
    side_clauses: tuple[list[int], list[str]] | None = None
    said_stems: set[str] | None = None  # the answer's stems, made once a term's opposites are looked for
    swapped_share = 0.0  # the most of a description the answer gives to the wrong side (see _names_of_swapped_sides)
    for term, (turned, opposites) in zip(compiled.terms, compiled.opposable):
        if found.keys().isdisjoint(term.rows):
            out.append(term.missing)
            continue
        said = affirmed if term.term.derived else highlights_affirmed
        if term.one_word is not None:
            at = (said if term.one_word.affirmative else found).get(term.one_word.rows[0])
            if at and term.one_word_coverage > 0.0:
                pos = min(at)  # its first mention: how it is met there is how the term is found
                span = (tokens[pos].start, tokens[pos].end)
                out.append(_new_tuple(Evidence, (term.term, term.weight, term.one_word_coverage, span, HOW[at[pos]], None)))
                if not term.term.derived:
                    placed.append((len(out) - 1, term, term.one_word_coverage, (pos,), 0))
                    whole += term.one_word_coverage >= 1.0
            else:
                out.append(term.missing)
            continue
        coverage, ends, how, positions, shift = _mention(term, found, said)
        if ends and term.sides is not None:
            if side_clauses is None:
                named = term.sides[1] | term.sides[2]
                side_clauses = clause_of_each(text, tokens, named), side_stems(tokens, named)
            if _given_to_the_other(term.sides, found, {p + shift for p in positions}, *side_clauses):
                span = (tokens[ends[0]].start, tokens[ends[1]].end)
                out.append(_new_tuple(Evidence, (term.term, term.weight, 0.0, span, None, "other side")))
                swapped_share = max(swapped_share, coverage)
                continue
        if ends and coverage > 0.0 and term.denied and (dropped := _denial_dropped(term, found, said, ends)) is not None:
            lo, hi = min(ends[0], dropped), max(ends[1], dropped)
            out.append(_new_tuple(Evidence, (term.term, term.weight, 0.0, (tokens[lo].start, tokens[hi].end), None, "opposite")))
            continue
        reverse = ends is not None and coverage > 0.0 and term.order is not None and _said_the_other_way(term.order, found, {p + shift for p in positions}, text, tokens, ends)
        if ends and coverage > 0.0 and (turned or opposites):
            if opposites and said_stems is None:
                said_stems = {t.stem for t in tokens} | (_stopword_opposites() & {w.stem for w in words})
            contrary = {s: row for s, row in opposites.items() if s in said_stems} if said_stems is not None else {}
            opposite = _opposite_said(compiled, term, turned, contrary, found, ends, tokens, words) if turned or contrary else None
            if opposite is not None and not reverse:  # both: "Y is worse than X" for *X is better than Y*
                lo, hi = min(ends[0], opposite), max(ends[1], opposite)
                out.append(_new_tuple(Evidence, (term.term, term.weight, 0.0, (tokens[lo].start, tokens[hi].end), None, "opposite")))
                continue
            reverse = reverse and opposite is None
        if reverse and ends:
            out.append(_new_tuple(Evidence, (term.term, term.weight, 0.0, (tokens[ends[0]].start, tokens[ends[1]].end), None, "reversed")))
            continue
        span = (tokens[ends[0]].start, tokens[ends[1]].end) if ends else None
        out.append(_new_tuple(Evidence, (term.term, term.weight, coverage, span, how, None)))
        if positions and not term.term.derived:
            placed.append((len(out) - 1, term, coverage if ends else -1.0, positions, shift))
            whole += coverage >= 1.0 or not ends
    if whole and len(placed) > 1 and BORROWED_WORDS_COST:
        for i in _borrowed(placed, found):
            out[i] = _refused(out[i], "inside another term")
    if compiled.side_descriptions and swapped_share < SWAPPED_DESCRIPTION_SHARE:
        swapped_share = _unhighlighted_swap(compiled.side_descriptions, found, affirmed, text, tokens)
    if swapped_share >= SWAPPED_DESCRIPTION_SHARE:
        for i in _names_of_swapped_sides(compiled.terms, out):
            out[i] = _refused(out[i], "swapped")
    if len(placed) > 1:
        for i in _crossed(compiled.stems, placed, found, lambda: clause_of_each(text, tokens)):
            out[i] = _refused(out[i], "swapped")
    return out


def _opposable(term: _Term, beginnings: np.ndarray, stems: list[str], opposites: dict[int, frozenset[str]]) -> tuple[tuple[int, ...], dict[str, int]]:
    """A term's rows whose word begins with one of ``OPPOSITE_BEGINNINGS``, and the general opposites of its words
    that it does not say itself ("top left to bottom right" says both), each with the row it is the opposite of."""
    own = {stems[row] for row in term.rows} | {t.stem for t in tokenize(term.term.text)}  # its stopwords too ("the same")
    contrary = {s: row for row in sorted(term.rows) for s in opposites.get(row, ()) if s not in own}
    return tuple(row for row in sorted(term.rows) if beginnings[row]), contrary


def _opposite_said(
    compiled: CompiledCard,
    term: _Term,
    turned: tuple[int, ...],
    contrary: dict[str, int],
    found: Found,
    ends: tuple[int, int],
    tokens: list[Token],
    words: list[Token],
) -> int | None:
    """Where, around a highlighted term's mention, the answer says the opposite of one of its words it does not
    say there: "maximises" for *minimises the loss*, "intercluster" for *intracluster*, "different" for *similar*. The
    opposite is a general English one (``OPPOSITE_WORDS``) the term does not say itself, or the word with the other
    beginning of its pair (``OPPOSITE_BEGINNINGS``), the rest of it the same or a typo away; None if none. A stopword
    opposite ("the same length" for *different lengths*) is found among all the answer's ``words``, right before a word
    the mention says: alone, "the same" says too many things ("the same weights must work for any length")."""
    reach = len(term.rows)  # as far from the mention as the term has words
    around = range(max(0, ends[0] - reach), min(len(tokens), ends[1] + reach + 1))

    def unsaid(row: int) -> bool:
        return not any(ends[0] <= p <= ends[1] for p in found.get(row, ()))

    said_at = sorted({p for row in term.rows for p in found.get(row, ()) if ends[0] <= p <= ends[1]})
    for p in around:
        row = contrary.get(tokens[p].stem)
        # Beside a word the mention says ("maximises the loss"), and the term's own word said nowhere.
        if row is not None and not found.get(row) and _beside(p, said_at):
            return p
    stopword_opposites = _stopword_opposites()
    if not contrary.keys().isdisjoint(stopword_opposites):
        starts = [t.start for t in tokens]
        said = set(said_at)
        for w in words:
            row = contrary.get(w.stem) if w.stem in stopword_opposites else None
            p = bisect_left(starts, w.start)  # the content word right after it: one the mention says ("same length")
            if row is not None and p < len(tokens) and p in said and tokens[p].start - w.end <= 1 and not found.get(row):
                return p
    for row in turned:
        if not unsaid(row):
            continue
        code = int(compiled.beginnings[row])
        word = compiled.words[row]
        own, other = OPPOSITE_BEGINNINGS[(code - 1) // 2][(code - 1) % 2], OPPOSITE_BEGINNINGS[(code - 1) // 2][code % 2]
        for p in around:
            said = tokens[p].word
            if said.startswith(other) and _beginning(said) == _beginning(other):
                as_own = own + said[len(other) :]
                if as_own == word or stem(as_own) == compiled.stems[row] or _typo(as_own, word):
                    return p
    return None


# Prefixes that negate the word they are put before ("dissimilar", "unsupervised", "nonlinear"), and the fewest letters
# a root must have for the two to be read as opposites: shorter roots are often no word of their own ("dis-tance",
# "dis-tinct").
NEGATING_PREFIXES = ("dis", "un", "non")
NEGATED_ROOT_LETTERS = 6


@lru_cache(maxsize=4096)
def _negated_forms(word: str) -> frozenset[str]:
    """The stems that say the opposite of an English word by a negating prefix: its root where it has one
    ("similar" for *dissimilarity*), else the word with each prefix ("unsupervised" for *supervised*)."""
    for prefix in NEGATING_PREFIXES:
        root = word[len(prefix) :].lstrip("-")
        if word.startswith(prefix) and len(root) >= NEGATED_ROOT_LETTERS:
            return frozenset({stem(root)})
    if len(word) < NEGATED_ROOT_LETTERS or not word.isalpha():
        return frozenset()
    return frozenset(stem(prefix + word) for prefix in NEGATING_PREFIXES)


# How many content words from a word its mention says an opposite may stand: "maximises the loss" (the next), "too
# different embeddings", but not the "input" that opens a long mention whose term says *output of an affine function*.
OPPOSITE_REACH = 3


def _beside(p: int, said_at: list[int]) -> bool:
    at = bisect_left(said_at, p)
    return any(abs(said_at[i] - p) <= OPPOSITE_REACH for i in (at - 1, at) if 0 <= i < len(said_at))


@lru_cache(maxsize=1)
def _stopword_opposites() -> frozenset[str]:
    """The stems of ``OPPOSITE_WORDS`` that English reads as stopwords ("same"): no content word, looked for apart."""
    with stemming_in("english"):
        common = stopwords()
        return frozenset(stem(w) for pair in OPPOSITE_WORDS for w in pair if w in common)


@lru_cache(maxsize=1)
def _opposite_stems() -> dict[str, frozenset[str]]:
    """Each English stem of ``OPPOSITE_WORDS`` and the stems of its opposites (made once: stems need the stemmer)."""
    out: dict[str, set[str]] = {}
    for a, b in OPPOSITE_WORDS:
        out.setdefault(stem(a), set()).add(stem(b))
        out.setdefault(stem(b), set()).add(stem(a))
    return {k: frozenset(v) for k, v in out.items()}


def _refused(evidence: Evidence, why: Refusal) -> Evidence:
    """A term's evidence once a rule refuses what the answer says of it: nothing earned, the mention kept to show."""
    return _new_tuple(Evidence, (evidence.term, evidence.weight, 0.0, evidence.span, None, why))


def _highlights_affirmed(compiled: CompiledCard, found: Found, affirmed: Found, denied: list[bool], text: str, tokens: list[Token]) -> Found:
    """``affirmed`` as an author's highlighted terms read it: less the words a negation after a verb, "without" or
    "lack of" denies too ("it is not linear", "without a lock"), and those a "free" after denies ("deadlock-free"),
    but not where the card says "free" after the word itself ("context-free grammar"). Terms derived from a
    reference are left alone: the datasets' students write right answers so (eval/RESULTS.md)."""
    if compiled.free_of is None:  # no highlighted term, or another language: denials are read alike for every term
        return affirmed
    more = negated(text, tokens, broad=True) if any(t.word == "not" or t.word in BROAD_NEGATIONS for t in tokens) else denied
    free = freed(text, tokens)
    if any(free):
        more = [d or (f and t.stem not in compiled.free_of) for d, f, t in zip(more, free, tokens)]
    if more == denied:
        return affirmed
    return {row: {p: h for p, h in at.items() if not more[p]} for row, at in found.items()}


def _given_to_the_other(
    sides: tuple[frozenset[int], frozenset[str], frozenset[str]], found: Found, positions: set[int], clauses: list[int], named: list[str]
) -> bool:
    """Whether an answer says a term's description only in clauses that name the other side of the contrast and not
    its own: "tokens are the distinct words" gives *set of distinct words* (the types') to the tokens. The term's own
    mention names nothing ("similar" of *words with similar meaning* does not say "similarity"). Nor is it given to the
    other where one clause that names its own side says every describing word its mention says. ``named`` holds each
    token's stem as it names a side (``side_stems``: "non causal" names only the non causal side)."""
    described, own, other = sides
    used = [row for row in described if any(p in positions for p in found.get(row, ()))]
    where = {clauses[p] for row in used for p in found[row] if p in positions}
    if not where:
        return False
    said_in: dict[int, set[str]] = {clause: set() for clause in where}
    for p, (s, clause) in enumerate(zip(named, clauses)):
        if clause in said_in and p not in positions:
            said_in[clause].add(s)
    weight = {clause: sum(1 for row in used for p in found[row] if p in positions and clauses[p] == clause) for clause in where}
    for_own = sum(weight[c] for c, said in said_in.items() if _names(said, own))
    for_other = sum(weight[c] for c, said in said_in.items() if not _names(said, own) and _names(said, other))
    if for_other <= for_own:
        return False
    # Clauses elsewhere that say every describing word the mention says: one that names its own side keeps it.
    elsewhere = set.intersection(*({clauses[p] for p in found[row]} for row in used)) - where
    if not elsewhere:
        return True
    stems_of: dict[int, set[str]] = {clause: set() for clause in elsewhere}
    for p, (s, clause) in enumerate(zip(named, clauses)):
        if clause in stems_of and p not in positions:
            stems_of[clause].add(s)
    return not any(_names(stems, own) for stems in stems_of.values())


# How much of a description an answer must give to the wrong side for its naming of the sides to be a swap, not a
# stray word of it ("static binary translation and dnyamic binary translation": one word of *translates one/few
# instructions*, in the static clause).
SWAPPED_DESCRIPTION_SHARE = 0.75


def _names_of_swapped_sides(terms: Sequence[_Term], evidence: list[Evidence]) -> list[int]:
    """The side names an answer earns while it gives every description it says to the wrong side: "safety means
    something good eventually happens and liveness means nothing bad ever happens" names both properties only to swap
    what they mean. None of them where some description earns credit."""
    if any(term.sides is not None and e.coverage > 0.0 for term, e in zip(terms, evidence)):
        return []
    return [i for i, (term, e) in enumerate(zip(terms, evidence)) if term.names_a_side and e.coverage > 0.0]


def _unhighlighted_swap(descriptions: Sequence[_Term], found: Found, affirmed: Found, text: str, tokens: list[Token]) -> float:
    """How much of a description the reference leaves unhighlighted the answer gives to the wrong side at most, or 0
    where it gives one to its own: "perspective: the object size does not depend on the distance" swaps what
    *orthographic* means."""
    clauses: tuple[list[int], list[str]] | None = None
    share = 0.0
    for description in descriptions:
        assert description.sides is not None  # every one is marked (``_with_described_sides``)
        if found.keys().isdisjoint(description.rows):
            continue
        coverage, ends, _, positions, shift = _mention(description, found, affirmed)
        at = {p + shift for p in positions}
        if not ends or coverage <= 0.0 or not any(at.intersection(found.get(row, ())) for row in description.sides[0]):
            continue  # not said, or only in words both descriptions say
        if clauses is None:
            named = description.sides[1] | description.sides[2]
            clauses = clause_of_each(text, tokens, named), side_stems(tokens, named)
        if not _given_to_the_other(description.sides, found, at, *clauses):
            return 0.0
        share = max(share, coverage)
    return share


def _names(said: set[str], side: frozenset[str]) -> bool:
    """Whether stems an answer says name a side: one of its stems, or a typo of one ("dinamic" *dynamic*)."""
    return bool(said & side) or any(_typo(s, named) for s in said for named in side)


def _crossed(
    stems: list[str], placed: list[tuple[int, _Term, float, tuple[int, ...], int]], found: Found, clauses_of: Callable[[], list[int]]
) -> set[int]:
    """The highlighted terms an answer swaps: two whose own words (those the other lacks) it says across the same two
    clauses, each clause with some of each.

    "low intra cluster similarity and high inter cluster similarity" takes each
    term's adjective from the other clause (*high intra cluster similarity*, *low
    inter cluster similarity*); "state data is always kept while old chain data
    can be pruned" gives *state data can be pruned* and *chain data is always
    kept* each other's predicate. A term said whole in one clause, and words the
    two share ("cluster similarity"), cross nothing. ``clauses_of`` gives each
    content word's clause, worked out only for a pair whose mentions interleave.
    """
    met = [(i, term, {p + shift for p in at}) for i, term, coverage, at, shift in placed if coverage > 0.0 and len(at) > 1]
    clauses: list[int] | None = None
    out: set[int] = set()
    for a, (i, term_i, at_i) in enumerate(met):
        for j, term_j, at_j in met[a + 1 :]:
            if max(at_i) < min(at_j) or max(at_j) < min(at_i):
                continue
            common = {stems[r] for r in term_i.rows} & {stems[r] for r in term_j.rows}
            shared = {p for row in term_i.rows | term_j.rows if stems[row] in common for p in found.get(row, ())}
            if clauses is None:
                clauses = clauses_of()
            where_i = {clauses[p] for p in at_i - shared}
            if len(where_i) == 2 and where_i == {clauses[p] for p in at_j - shared}:
                out.update((i, j))
    return out


def _borrowed(placed: list[tuple[int, _Term, float, tuple[int, ...], int]], found: Found) -> list[int]:
    """The highlighted terms whose words the answer has only inside another term's whole mention, which holds more,
    or inside a phrase that names something else in another term's place.

    "runs in supervisor mode" is one term, whole, and not also most of "process
    that runs on top of the supervisor"; "live migration" is not half of
    "offline migration" too; "virtual memory manager" names neither *virtual
    machine manager* nor, by its words, *virtual machine monitor* or *virt
    manager*. A term made of the other's words ("virtual machine" in "virtual
    machine monitor") keeps its credit, and so does one the answer also says
    elsewhere. Derived terms are left alone: cut from one reference, their words
    overlap by their making (``placed``: the highlighted terms met, with their
    evidence's index, coverage (-1: refused, see ``_best_mention``) and words, less ``shift``).
    """
    whole = [
        (i, {p + shift for p in at} if shift else set(at), coverage, term) for i, term, coverage, at, shift in placed if coverage >= 1.0 or coverage < 0.0
    ]
    out = []
    for i, term, coverage, at, shift in placed:
        if coverage <= 0.0:
            continue
        mention = said = None
        for j, held, whole_coverage, other in whole:
            if j == i:
                continue
            if mention is None:  # made only once another whole term could hold it
                mention = [p + shift for p in at] if shift else at
            if not held.issuperset(mention):
                continue
            if said is None:  # every answer word its words met
                said = set().union(*[found[row] for row in term.rows if row in found])
            if (
                said <= held
                and (len(said) < len(held) or whole_coverage > coverage or whole_coverage < 0.0)
                and not content_stems(term.term.text) <= content_stems(other.term.text)
            ):
                out.append(i)
                break
    return out


def _mention(term: _Term, found: Found, affirmed: Found) -> Mention:
    """A term's coverage in one answer, the first and last position of its mention there, and how it was found.

    It depends on where the term's words stand from one another, not on where
    the answer says them: answers repeat their phrasing, so the mention each
    pattern makes is kept, relative to the pattern's first position (the key:
    for each place a word is met, its row, its position less that one, and how
    it was met there, negated where a denial takes it back: ``affirmed`` lacks it).
    """
    pattern = [(row, at) for row, at in found.items() if row in term.rows]
    shift = min([min(at) for _, at in pattern])
    places = []
    if affirmed is found:
        for row, at in pattern:
            for pos, how in at.items():
                places.append((row, pos - shift, how))
    else:
        for row, at in pattern:
            kept = affirmed[row]
            for pos, how in at.items():
                places.append((row, pos - shift, how if pos in kept else -how))
    key = tuple(places)
    known = term.mentions.get(key)
    if known is None:
        coverage, ends, how, positions, _ = _best_mention(term, found, affirmed)
        known = coverage, ends and (ends[0] - shift, ends[1] - shift), how, tuple([p - shift for p in positions]), 0
        if len(term.mentions) < KNOWN_MENTIONS:
            term.mentions[key] = known
    coverage, ends, how, positions, _ = known
    return coverage, ends and (ends[0] + shift, ends[1] + shift), how, positions, shift


def _best_mention(term: _Term, found: Found, affirmed: Found) -> Mention:
    """``_mention`` worked out: the alternative that covers most, and how loosely its words were found."""
    best_cov, best_pos, best_alt = 0.0, [], None
    refused: list[int] = []
    for alt in term.alternatives:
        cov, pos, named_else = _alternative_coverage(alt, found, affirmed, in_order_only=not term.term.derived)
        refused += named_else
        if cov > best_cov:
            best_cov, best_pos, best_alt = cov, pos, alt
    if best_alt is None or not best_pos:
        return best_cov, None, None, tuple(sorted(set(refused))), 0  # a phrase that names something else, if any
    return best_cov, (min(best_pos), max(best_pos)), HOW[_loosest(best_alt, found, set(best_pos))], tuple(sorted(set(best_pos))), 0


def _loosest(parts: tuple[_Part, ...], found: Found, positions: set[int]) -> int:
    """How loosely a mention was found: for each term word its strictest match there, the loosest of those."""
    loosest = EXACT
    for part in parts:
        for row, _ in part.compounds:
            if not positions.isdisjoint(found.get(row, ())):
                loosest = max(loosest, COMPOUND)
        for row in part.rows:
            at = found.get(row)
            hows = [how for pos, how in at.items() if pos in positions] if at else None
            if hows:
                loosest = max(loosest, min(hows))
    return loosest


def _nearest(positions: Collection[int], centre: float) -> int:
    """The position nearest ``centre``, the earlier of two as near."""
    ordered = sorted(positions)
    i = bisect_left(ordered, centre)
    if i == 0 or i == len(ordered):
        return ordered[min(i, len(ordered) - 1)]
    before, after = ordered[i - 1], ordered[i]
    return before if centre - before <= after - centre else after


# Mentions of a term's words tried together at most, to place its mention where a word is said more than once.
MAX_PLACINGS = 64


def _tightest(mentions: list[list[int]]) -> list[int]:
    """One position for each word of a term, from each word's mentions: the closest together, then the most in the
    term's own order, then the earliest ("live migration and offline migration": *offline migration* is the last two
    words, not "migration and offline")."""
    if prod(len(m) for m in mentions) > MAX_PLACINGS:
        return [min(m) for m in mentions]

    def untidiness(placing: tuple[int, ...]) -> tuple[int, int, tuple[int, ...]]:
        out_of_order = sum(a > b for a, b in pairwise(placing))
        return max(placing) - min(placing), out_of_order, placing

    tightest = min(product(*mentions), key=untidiness)
    return list(tightest)


def _substituted(near: list[bool], positions: list[int], in_order_only: bool = False) -> bool:
    """Whether a short term's words stand in the answer with another word in a missing one's place.

    ``virtual memory manager`` has ``virtual`` and ``manager`` of ``virtual machine
    manager`` around a word of its own: it names a different thing, and earns
    nothing. A term word merely absent (``security`` for ``increased security``)
    is not a substitution. Not asked of a long phrase, nor of one read as pairs of characters, where a particle
    put between two words (计算机的仿真) leaves pairs of the term out. ``in_order_only`` (an author's highlighted
    terms): nor where the answer says the words the other way round ("aggregated before the shuffle -> combiners" for
    *combiners to pre-aggregate*), each in a phrase of its own.
    """
    n_words = len(near)
    if all(near) or len(positions) < 2 or (in_order_only and any(b < a for a, b in pairwise(positions))):
        return False
    span = max(positions) - min(positions) + 1
    missing_inside = any(not near[i] and any(near[:i]) and any(near[i + 1 :]) for i in range(n_words))
    return missing_inside and span > len(positions)


def _share(part: _Part, near: tuple[bool, ...]) -> float:
    """The share of a part's weight its ``near`` words carry (long phrases saturate).

    Summed by numpy, whose order of addition the scores have always had, once per pattern of words found.
    """
    share = part.shares.get(near)
    if share is None:
        share = float(part.row_weights[np.array(near)].sum() / part.row_weights.sum())
        if part.long:
            share = min(1.0, share / LONG_PHRASE_SATURATION)
        if len(part.shares) < KNOWN_SHARES:
            part.shares[near] = share
    return share


def _around(
    mentions: Sequence[Collection[int]], centre: float, window: int, denials: tuple[tuple[int, tuple[int, ...]], ...] = ()
) -> tuple[list[bool], list[int]]:
    """For each term word, whether a mention of it lies within ``window`` words of ``centre``; the nearest such mentions.

    A term's negation and the words it denies count only together: "never" alone is not half of *non transparent*, nor
    "privileged" half of *non privileged*."""
    nearest: list[int | None] = []
    for m in mentions:
        at = (min(m) if len(m) == 1 else _nearest(m, centre)) if m else None
        nearest.append(at if at is not None and abs(at - centre) <= window else None)
    for negation, scope in denials:
        if nearest[negation] is None or all(nearest[i] is None for i in scope):
            for i in (negation, *scope):
                nearest[i] = None
    return [at is not None for at in nearest], [at for at in nearest if at is not None]


def _best_centre(
    part: _Part, mentions: Sequence[Collection[int]], near: list[bool], chosen: list[int], centre: float, window: int
) -> tuple[list[bool], list[int], float]:
    """Where a term's words stand together when their first mentions lie apart: centred on each mention in turn, the
    one that brings the most of the term's weight together (the first of equals; ``centre``'s own if none brings more).

    "self configuration ... self healing ... self protection" holds *self protection* in its last two words, though
    the first "self" stands far from "protection"."""
    best_share = _share(part, tuple(near))
    candidates = sorted({p for m in mentions for p in m})
    if len(candidates) > MAX_PLACINGS:
        return near, chosen, centre
    for candidate in candidates:
        these, placed = _around(mentions, candidate, window, part.denials)
        share = _share(part, tuple(these))
        if share > best_share:
            best_share, near, chosen, centre = share, these, placed, candidate
    return near, chosen, centre


def _alternative_coverage(parts: tuple[_Part, ...], found: Found, affirmed: Found, in_order_only: bool = False) -> tuple[float, list[int], list[int]]:
    """Weighted share of an alternative's words found near each other, their positions, and the positions of the
    words of a part the answer says with another word in a missing one's place (``_substituted``; ``in_order_only``
    for an author's highlighted terms)."""
    total = 0.0
    positions: list[int] = []
    refused: list[int] = []
    for part in parts:
        hits = affirmed if part.affirmative else found
        if len(part.rows) == 1 and not part.compounds:  # one word (most derived terms): found or not, at its first mention
            at = hits.get(part.rows[0])
            if at:
                total += part.weight
                positions.append(min(at))
            continue
        mentions: Sequence[Collection[int]] = [hits.get(row, ()) for row in part.rows]  # answer positions of each word
        joined = [(row, covers) for row, covers in part.compounds if row in hits]  # two words of the term written as one
        if joined:
            widened = [set(m) for m in mentions]
            for row, covers in joined:
                for i in covers:
                    widened[i].update(hits[row])
            mentions = widened
        first = sorted([min(m) for m in mentions if m])
        if not first:
            continue
        # Centre on the median of each found word's first mention, then take for
        # every word its mention nearest that centre: the words of one mention.
        centre = (first[(len(first) - 1) // 2] + first[len(first) // 2]) / 2
        window = max(MIN_WINDOW, WINDOW_PER_WORD * len(part.rows))
        near, chosen = _around(mentions, centre, window, part.denials)
        if RECENTRED and len(chosen) < len(first):
            near, chosen, centre = _best_centre(part, mentions, near, chosen, centre, window)
        if not (part.long or part.spaceless) and _substituted(near, chosen, in_order_only):
            refused += chosen
            continue
        total += part.weight * _share(part, tuple(near))
        if len(chosen) > 1 and len(chosen) < sum(len(m) for m, is_near in zip(mentions, near) if is_near):
            chosen = _tightest([[p for p in m if abs(p - centre) <= window] for m, is_near in zip(mentions, near) if is_near])
        if part.repeats:
            chosen = _with_repeats(part.repeats, hits, chosen, centre, window)
        positions += chosen
    if not total:
        return 0.0, positions, refused
    return total / sum(p.weight for p in parts), positions, refused


def _with_repeats(repeats: tuple[tuple[int, int], ...], hits: Found, chosen: list[int], centre: float, window: int) -> list[int]:
    """A mention's positions, with the answer's second saying of a word the term says twice ("end to end").

    Each word of a term is placed at one answer position, so "query guided end to
    end person search" held one "end": the second, left out of the mention, let
    the words of another term (*can train end to end*) seem said outside it.
    """
    out = list(chosen)
    for row, more in repeats:
        others = sorted((p for p in hits.get(row, ()) if p not in out and abs(p - centre) <= window), key=lambda p: abs(p - centre))
        out += others[:more]
    return out


class QuestionIndex:
    """The card an answers row names by its question text.

    A question is the card's when its words are the card's, whatever the case, spacing, punctuation and markdown
    (``**live**-migration`` is ``live migration``), or when at most two of them are misspelt as ``allowed_edits``
    allows in a term (the first letter kept; no slip in a word with a digit or in CJK, read a character at a time),
    and no other card's question is as near. A question that differs in a word ("offline" for "live",
    "software" for "hardware") names no card: grading it against the nearest would grade the wrong question. A
    question the deck asks twice names both cards, and the row must say which by its card.
    """

    def __init__(self, questions: list[str]):
        self._keys = [_question_key(q) for q in questions]
        self._cards: dict[str, tuple[int, ...]] = {}
        for i, key in enumerate(self._keys):
            self._cards[key] = (*self._cards.get(key, ()), i)

    def find(self, question: str) -> tuple[int, ...]:
        """The cards the question may name: one, none, or (a question asked twice, a misspelling near two) each."""
        key = _question_key(question)
        found = self._cards.get(key)
        if found is not None:
            return found
        words = key.split()
        near = process.extract(key, self._keys, scorer=fuzz.ratio, processor=None, score_cutoff=_QUESTION_CUTOFF, limit=None)
        return tuple(sorted({i for choice, _, _ in near if _misspelt(words, choice.split()) for i in self._cards[choice]}))

    def closest(self, question: str) -> int:
        """The card whose question is nearest, to suggest when the question names none."""
        return process.extractOne(_question_key(question), self._keys, scorer=fuzz.ratio, processor=None)[2]


# No question of two misspelt words is this far from its card's (a ratio over 0-100): a cheap first cut.
_QUESTION_CUTOFF = 70
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff"
_QUESTION_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_APOSTROPHES = str.maketrans("", "", "'\u2019")


def _question_key(question: str) -> str:
    """A question's words, folded, joined by single spaces: all that must match but for typos."""
    folded = unicodedata.normalize("NFKC", question).casefold().translate(_APOSTROPHES)  # "What's" is "Whats"
    return " ".join(_QUESTION_WORD.findall(folded))


def _misspelt(words: list[str], question: list[str]) -> bool:
    """Whether ``words`` are ``question``'s words with one or two of them misspelt."""
    if len(words) != len(question):
        return False
    slips = [(a, b) for a, b in zip(words, question) if a != b]
    return 0 < len(slips) <= 2 and all(_typo(a, b) for a, b in slips)


def _typo(written: str, word: str) -> bool:
    edits = allowed_edits(min(len(written), len(word)))
    return (
        edits > 0
        and written[0] == word[0]
        and not any(c.isdigit() for c in written + word)
        and OSA.distance(written, word, score_cutoff=edits) <= edits
    )


def nearest_spelling(word: str, words: Collection[str], edits: int, *, swaps: bool = False) -> tuple[str, float, int] | None:
    """The word of ``words`` spelt nearest ``word``, its number of edits and its place, if ``edits`` or fewer (with
    ``swaps``, two letters swapped count as one edit): for the modules that tell a misspelling without matching."""
    return process.extractOne(word, words, scorer=OSA.distance if swaps else Levenshtein.distance, score_cutoff=edits)


def similarity(a: list[str], b: list[str]) -> np.ndarray:
    """Pairwise ``fuzz.ratio`` (0-100) of strings already normalised, as a len(a) x len(b) array."""
    if not a or not b:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    return process.cdist(a, b, scorer=fuzz.ratio, processor=None, dtype=np.float32)


def token_similarity(a: str, b: str) -> float:
    """Word-set similarity of two texts in [0, 1], tolerant of order and repetition (rapidfuzz ``token_set_ratio``)."""
    return fuzz.token_set_ratio(a, b, processor=utils.default_process) / 100
