"""Finding a card's key terms in answers: the only module that imports rapidfuzz.

A card is compiled once into a table of term words. Answers are compared with
it in one ``process.cdist`` call per batch (optimal string alignment distance,
on both the folded words and their stems), so the cost per answer is a few
array operations, not a Python loop over word pairs.

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

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from .models import Card, KeyTerm

if TYPE_CHECKING:
    from .semantic import WordVectors
from .normalize import SHORT_FORMS, Token, content_of, content_tokens, fold, negated, stem, tokenize

# Words the question already gives are weak evidence that the answer knows the term.
QUESTION_WORD_WEIGHT = 0.3
# Long phrases (whole sentences are common) are rarely recalled word for word:
# covering this share of their words earns the whole phrase.
LONG_PHRASE_WORDS = 4
LONG_PHRASE_SATURATION = 0.6
# Meaning (the semantic tier, when its word vectors load): a term word not found by its spelling
# is found by an answer word whose vector is at least this close (cosine of static word vectors:
# start/begin 0.82, big/large 0.74, delete/remove 0.68, cpu/processor 0.61; big/small 0.25).
MEANING_THRESHOLD = 0.6
# Words spelt this much alike (rapidfuzz ratio) that are not typos of each other are related
# forms with other meanings (hypervisor/supervisor, privileged/unprivileged): never synonyms.
MEANING_MAX_LOOKALIKE = 50
# Words too short or too common to mean something on their own are matched by spelling only.
MEANING_MIN_LETTERS = 3
# How far (in words) the words of one term may stray from each other and still count as one mention.
MIN_WINDOW = 6


# How an answer word meets a term word, from the strictest to the loosest; a term is found as loosely as its loosest word.
EXACT, STEM, TYPO, COMPOUND, MEANING = 1, 2, 3, 4, 5
HOW = {EXACT: "exact", STEM: "stem", TYPO: "typo", COMPOUND: "compound", MEANING: "meaning"}


def allowed_edits(length: int) -> int:
    """Typos tolerated in a word of this length."""
    if length <= 4:
        return 0
    if length <= 8:
        return 1
    return 2


@dataclass(frozen=True)
class _Part:
    weight: float
    rows: np.ndarray  # indices into the card's word table
    row_weights: np.ndarray
    compounds: tuple[tuple[int, tuple[int, ...]], ...] = ()  # (table row of two words written as one, the rows' indices it stands for)
    affirmative: bool = True  # no negation among its words: a negated mention in the answer does not earn it


@dataclass(frozen=True)
class _Term:
    term: KeyTerm
    weight: float
    alternatives: tuple[tuple[_Part, ...], ...]


@dataclass(frozen=True)
class CompiledCard:
    """A card's key terms as a word table ready for batched comparison."""

    card: Card
    words: list[str]
    stems: list[str]
    word_edits: np.ndarray
    stem_edits: np.ndarray
    terms: tuple[_Term, ...]
    abbreviations: dict[str, list[int]]  # answer word -> rows of the term words it abbreviates
    compound_rows: np.ndarray  # True for a row that is only two term words written as one
    stem_rows: dict[str, list[int]]  # stem -> rows of the real term words with it (compounds excluded)
    prefixes: frozenset[str]  # every beginning of a real term word: the first half of a compound must be one
    vectors: WordVectors | None = None  # the semantic tier's word vectors, when it is on
    word_vectors: np.ndarray | None = None  # unit vector of each table word (zero rows: spelling only)
    reference_vector: np.ndarray | None = None  # unit vector of the reference answer's content words


@dataclass(frozen=True)
class AnswerMatch:
    """What one answer shows of a card: evidence per key term, and how close it is in meaning to the reference."""

    evidence: list[Evidence]
    similarity: float | None  # cosine with the reference answer; None without the semantic tier


@dataclass(frozen=True)
class Evidence:
    """How much of one key term an answer covers, and where."""

    term: KeyTerm
    weight: float
    coverage: float
    span: tuple[int, int] | None
    how: str | None = None  # how its words were found: exact, stem, typo, compound or meaning (the loosest); None if not


def compile_card(card: Card, vectors: WordVectors | None = None) -> CompiledCard:
    """Index a card's key terms once; reuse the result for every answer to it.

    With ``vectors`` (the semantic tier), term words also get vectors so that
    an answer word of the same meaning can stand for them.
    """
    question_stems = {t.stem for t in content_tokens(card.question)}
    denied_in_reference = _denied_stems(card.answer)
    table: dict[tuple[str, str], int] = {}
    plain_rows: set[int] = set()  # rows of real term words (not compounds): only these can be abbreviated
    terms = []
    for term in card.key_terms:
        alternatives = []
        for alt in term.alternatives:
            parts = []
            for part in alt:
                words = tokenize(part.text)
                toks = content_of(words) or words
                rows = [table.setdefault((t.word, t.stem), len(table)) for t in toks]
                plain_rows.update(rows)
                weights = [QUESTION_WORD_WEIGHT if t.stem in question_stems else 1.0 for t in toks]
                joins = _compounds(part.text, words, toks)
                compounds = tuple((table.setdefault((joined, stem(joined)), len(table)), covers) for covers, joined in joins)
                affirmative = all(t.word != "not" and t.stem not in denied_in_reference for t in toks)
                parts.append(_Part(part.weight, np.array(rows, dtype=np.intp), np.array(weights), compounds, affirmative))
            alternatives.append(tuple(parts))
        first = alternatives[0]
        weight = term.weight * sum(p.weight * float(p.row_weights.mean()) for p in first) / sum(p.weight for p in first)
        terms.append(_Term(term, weight, tuple(alternatives)))
    words = [w for w, _ in table]
    stems = [s for _, s in table]
    stem_rows: dict[str, list[int]] = {}
    for i in sorted(plain_rows):
        stem_rows.setdefault(stems[i], []).append(i)
    return CompiledCard(
        card=card,
        words=words,
        stems=stems,
        word_edits=np.array([allowed_edits(len(w)) for w in words], dtype=np.int32),
        stem_edits=np.array([allowed_edits(len(s)) for s in stems], dtype=np.int32),
        terms=tuple(terms),
        abbreviations=_abbreviation_index([w if i in plain_rows else "" for i, w in enumerate(words)]),
        compound_rows=np.array([i not in plain_rows for i in range(len(words))], dtype=bool),
        stem_rows=stem_rows,
        prefixes=frozenset(words[i][:k] for i in plain_rows for k in range(1, len(words[i]))),
        vectors=vectors,
        word_vectors=_meaning_vectors(vectors, [w if i in plain_rows else "" for i, w in enumerate(words)]) if vectors else None,
        reference_vector=_reference_vector(vectors, card) if vectors else None,
    )


def _meaning_vectors(vectors: WordVectors, words: list[str]) -> np.ndarray:
    """Unit vectors of words that can carry a meaning of their own; zero rows for the rest."""
    from .semantic import unit

    rows = vectors.words([w if _has_meaning(w) else "" for w in words])
    return unit(rows)


def _has_meaning(word: str) -> bool:
    return len(word) >= MEANING_MIN_LETTERS and word.isalpha() and word != "not"


def _reference_vector(vectors: WordVectors, card: Card) -> np.ndarray:
    from .keyterms import clean_markdown
    from .semantic import text_vector

    return text_vector(vectors, content_tokens(clean_markdown(card.answer)) or content_tokens(" ".join(t.text for t in card.key_terms)))


def _denied_stems(reference: str) -> set[str]:
    """Stems the reference itself negates: an answer that negates them agrees with it."""
    from .keyterms import clean_markdown

    text = clean_markdown(reference)
    tokens = content_tokens(text)
    return {t.stem for t, denied in zip(tokens, negated(text, tokens)) if denied}


def match_answers(compiled: CompiledCard, answers: list[str]) -> list[AnswerMatch]:
    """Evidence for every key term in each answer, with one comparison for the batch."""
    words = [tokenize(a) for a in answers]
    tokenized = [content_of(ws) for ws in words]
    vocab: dict[tuple[str, str], int] = {}
    columns = [np.array([vocab.setdefault((t.word, t.stem), len(vocab)) for t in toks], dtype=np.intp) for toks in tokenized]
    if not compiled.words or not vocab:
        similarity = 0.0 if compiled.vectors is not None else None
        return [AnswerMatch([Evidence(t.term, t.weight, 0.0, None) for t in compiled.terms], similarity) for _ in answers]
    answer_words = [w for w, _ in vocab]
    answer_stems = [s for _, s in vocab]
    word_dist = process.cdist(compiled.words, answer_words, scorer=OSA.distance, score_cutoff=2, dtype=np.int32)
    stem_dist = process.cdist(compiled.stems, answer_stems, scorer=OSA.distance, score_cutoff=2, dtype=np.int32)
    fuzzy = (word_dist <= compiled.word_edits[:, None]) | (stem_dist <= compiled.stem_edits[:, None])
    same_initial = np.array([w[:1] for w in compiled.words])[:, None] == np.array([w[:1] for w in answer_words])[None, :]
    exact = stem_dist == 0
    how = np.where(word_dist == 0, EXACT, np.where(exact, STEM, np.where(fuzzy & same_initial, TYPO, 0))).astype(np.int8)
    for j, word in enumerate(answer_words):
        for i in compiled.abbreviations.get(word, ()):
            how[i, j] = how[i, j] or TYPO
    # Two term words written as one must meet an answer word exactly ("alow" is not "allow").
    how[compiled.compound_rows] = np.where(exact[compiled.compound_rows], COMPOUND, 0)
    similarity = None
    if compiled.vectors is not None:
        answer_vectors = _meaning_vectors(compiled.vectors, answer_words)
        meant = ((compiled.word_vectors @ answer_vectors.T) >= MEANING_THRESHOLD) & (how == 0)
        if meant.any():  # words that look alike but are not typos are neighbours, not synonyms (hypervisor, supervisor)
            look_alike = process.cdist(compiled.words, answer_words, scorer=fuzz.ratio, score_cutoff=MEANING_MAX_LOOKALIKE, dtype=np.int32)
            how[meant & (look_alike == 0)] = MEANING
        similarity = [_similarity(compiled, answer_vectors[cols]) for cols in columns]
    out = []
    for n, (cols, text, ws, toks) in enumerate(zip(columns, answers, words, tokenized)):
        answer_how = _with_compounds(compiled, how[:, cols], text, ws, toks)
        denied = np.array(negated(text, toks), dtype=bool)
        out.append(AnswerMatch(_evidence(compiled, answer_how, toks, denied), similarity[n] if similarity is not None else None))
    return out


def _similarity(compiled: CompiledCard, rows: np.ndarray) -> float:
    """Cosine of an answer's content words (their vectors summed) with the reference answer's."""
    from .semantic import unit

    if not len(rows):
        return 0.0
    return float(max(0.0, unit(rows.sum(axis=0)) @ compiled.reference_vector))


def _compounds(
    text: str, words: list[Token], tokens: list[Token], prefixes: frozenset[str] | None = None
) -> list[tuple[tuple[int, ...], str]]:
    """Two adjacent ``words`` of a text, apart by one space or hyphen, written as one ("read-only" -> "readonly").

    Each comes with the indices in ``tokens`` (the text's content words) of the
    words it stands for: a stopword half ("only") has none. With ``prefixes``,
    only pairs whose first word begins some word in it are tried.
    """
    index: dict[int, int] | None = None  # content-word index by offset, built on the first candidate
    out = []
    for a, b in zip(words, words[1:]):
        # As written, not as read: "non-blocking" is "nonblocking", though "non" reads "not".
        first = fold(text[a.start : a.end]) if a.word == "not" else a.word
        if prefixes is not None and first not in prefixes:
            continue
        if index is None:
            index = {t.start: i for i, t in enumerate(tokens)}
        covers = tuple(index[t.start] for t in (a, b) if t.start in index)
        if covers and text[a.end : b.start] in (" ", "-", "\u2010"):
            word = first + (fold(text[b.start : b.end]) if b.word == "not" else b.word)
            if word.isalnum():
                out.append((covers, word))
    return out


def _with_compounds(compiled: CompiledCard, how: np.ndarray, text: str, words: list[Token], tokens: list[Token]) -> np.ndarray:
    """One answer's word-match matrix, where two answer words written apart also meet the term word they spell as one.

    Only an exact spelling counts (same stem): "a low" is not "allow".
    """
    for covers, word in _compounds(text, words, tokens, compiled.prefixes):
        rows = compiled.stem_rows.get(stem(word))
        if rows:
            block = how[np.ix_(rows, covers)]
            how[np.ix_(rows, covers)] = np.where((block == 0) | (block == TYPO), COMPOUND, block)  # "data" alone abbreviates
    return how


def _abbreviation_index(term_words: list[str]) -> dict[str, list[int]]:
    """Answer words that abbreviate a term word: its prefixes of four or more letters
    that leave three or more unsaid (``virt`` -> ``virtualization``), and standard short forms."""
    index: dict[str, list[int]] = {}
    for i, word in enumerate(term_words):
        for cut in range(4, len(word) - 2):
            index.setdefault(word[:cut], []).append(i)
    for short, full in SHORT_FORMS.items():
        for i, word in enumerate(term_words):
            if word == full:
                index.setdefault(short, []).append(i)
    return index


def _evidence(compiled: CompiledCard, how: np.ndarray, tokens: list[Token], denied: np.ndarray) -> list[Evidence]:
    """Per-term coverage from the word-match matrix of one answer (rows: term words, columns: answer words).

    ``how`` holds 0 where a term word and an answer word do not meet, else how they
    meet (``EXACT`` ... ``MEANING``). ``denied`` marks the answer words a negation
    denies: they earn no term that is not itself negative.
    """
    hits = how > 0
    affirmed = hits & ~denied[None, :] if denied.any() else hits
    out = []
    for term in compiled.terms:
        best_cov, best_pos, best_alt = 0.0, np.empty(0, dtype=np.intp), None
        for alt in term.alternatives:
            cov, pos = _alternative_coverage(alt, hits, affirmed)
            if cov > best_cov:
                best_cov, best_pos, best_alt = cov, pos, alt
        span = (tokens[int(best_pos.min())].start, tokens[int(best_pos.max())].end) if best_pos.size else None
        found_how = HOW[_loosest(best_alt, how[:, best_pos])] if best_alt is not None and best_pos.size else None
        out.append(Evidence(term.term, term.weight, best_cov, span, found_how))
    return out


def _loosest(parts: tuple[_Part, ...], how: np.ndarray) -> int:
    """How loosely a mention was found: for each term word its strictest match there, the loosest of those."""
    loosest = EXACT
    for part in parts:
        rows = [int(r) for r in part.rows]
        for row, _ in part.compounds:
            if how[row].any():
                loosest = max(loosest, COMPOUND)
        for r in rows:
            found = how[r][how[r] > 0]
            if found.size:
                loosest = max(loosest, int(found.min()))
    return loosest


def _substituted(near: np.ndarray, positions: np.ndarray, n_words: int) -> bool:
    """Whether a short term's words stand in the answer with another word in a missing one's place.

    ``virtual memory manager`` has ``virtual`` and ``manager`` of ``virtual machine
    manager`` around a word of its own: it names a different thing, and earns
    nothing. A term word merely absent (``security`` for ``increased security``)
    is not a substitution.
    """
    if n_words >= LONG_PHRASE_WORDS or near.all() or positions.size < 2:
        return False
    span = int(positions.max() - positions.min()) + 1
    missing_inside = any(not near[i] and near[:i].any() and near[i + 1 :].any() for i in range(n_words))
    return missing_inside and span > positions.size


def _alternative_coverage(parts: tuple[_Part, ...], all_hits: np.ndarray, affirmed: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted share of an alternative's words found near each other, and their positions."""
    total = 0.0
    positions = []
    for part in parts:
        hits = affirmed if part.affirmative else all_hits
        if len(part.rows) == 1 and not part.compounds:  # one word (most derived terms): found or not, at its first mention
            row = hits[part.rows[0]]
            if row.any():
                total += part.weight
                positions.append(np.array([row.argmax()]))
            continue
        sub = hits[part.rows]
        for row, covers in part.compounds:  # the answer wrote two words of the term as one
            for i in covers:
                sub[i] |= hits[row]
        found = sub.any(axis=1)
        if not found.any():
            continue
        n_cols = sub.shape[1]
        idx = np.arange(n_cols)
        # Centre on the median of each found word's first mention, then take for
        # every word its mention nearest that centre: the words of one mention.
        first = sorted(sub.argmax(axis=1)[found].tolist())
        centre = (first[(len(first) - 1) // 2] + first[len(first) // 2]) / 2  # the median, without numpy's overhead
        dist = np.where(sub, np.abs(idx[None, :] - centre), np.inf)
        nearest = dist.argmin(axis=1)
        window = max(MIN_WINDOW, 2 * len(part.rows))
        near = found & (dist[np.arange(len(part.rows)), nearest] <= window)
        if _substituted(near, nearest[near], len(part.rows)):
            continue
        share = float(part.row_weights[near].sum() / part.row_weights.sum())
        if len(part.rows) >= LONG_PHRASE_WORDS:
            share = min(1.0, share / LONG_PHRASE_SATURATION)
        total += part.weight * share
        positions.append(nearest[near])
    pos = np.concatenate(positions) if positions else np.empty(0, dtype=np.intp)
    return total / sum(p.weight for p in parts), pos


def find_question(normalized_questions: list[str], wanted: str, cutoff: float = 90.0) -> int | None:
    """Index of the question a user named, tolerant of small differences in wording."""
    from rapidfuzz import fuzz

    from .normalize import normalize

    found = process.extractOne(normalize(wanted), normalized_questions, scorer=fuzz.ratio, score_cutoff=cutoff)
    return found[2] if found else None


def similarity(a: list[str], b: list[str]) -> np.ndarray:
    """Pairwise ``fuzz.ratio`` (0-100) of strings already normalised, as a len(a) x len(b) array."""
    from rapidfuzz import fuzz

    if not a or not b:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    return process.cdist(a, b, scorer=fuzz.ratio, processor=None, dtype=np.float32)


def token_similarity(a: str, b: str) -> float:
    """Word-set similarity of two texts in [0, 1], tolerant of order and repetition (rapidfuzz ``token_set_ratio``)."""
    from rapidfuzz import fuzz, utils

    return fuzz.token_set_ratio(a, b, processor=utils.default_process) / 100
