"""Grading answers against cards: the library's main entry point."""

from __future__ import annotations

from operator import attrgetter
from threading import Lock
from typing import TYPE_CHECKING

from .foreign import FOREIGN_MIN, DeckTerms
from .match import CompiledCard, Evidence, compile_card, match_answers
from .models import Card, Grade, check_types
from .normalize import Token, content_stems, stemming_in, tokenize
from .scoring import GradeFacts, GradingSettings, facts_from_evidence, facts_grade, guessed, unmatched, unmatched_facts

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .semantic import WordVectors


_stem_of = attrgetter("stem")
# Threads that share a grader wait for the one loading its word vectors: one that went on without them would compile
# its cards by words alone, and every grade of those cards would lack the meaning tier.
_LOADING_VECTORS = Lock()
# An answer is graded on its first this many characters (about 15,000 words): 30 times the longest answer of the
# five human-graded datasets (3,195), where an untrusted file's 52 MB answer took 10 s and 1.6 GB to grade. The
# answer itself is kept and written whole; the grade's spans are offsets into it as ever.
GRADED_CHARS = 100_000


class KeywordGrader:
    """Grades answers by key terms, by their words and (``match = "meaning"``) by meaning; compiles each card once.

    The semantic tier's word vectors load on the first grade, not before, so
    commands that never grade never pay for them. If they cannot load, grading
    goes on by words alone and ``notices`` says why, once.
    """

    def __init__(self, settings: GradingSettings | None = None, vectors: WordVectors | None = None):
        self.settings = settings or GradingSettings()
        self.notices: list[str] = []
        self._vectors = vectors
        self._vectors_tried = vectors is not None
        self._compiled: dict[tuple[str, str, str], CompiledCard] = {}
        self._references: dict[str, tuple[Card, list[Card]]] = {}
        self.deck_terms: DeckTerms | None = None

    def use_deck(self, cards: Iterable[Card]) -> None:
        """Know these cards' key terms: an answer that names more of them than of its own card's, and 3 or more,
        keeps only its own card's share of its score (``foreign.guessing_share``). Without a deck, no answer does."""
        if self.deck_terms is None:
            self.deck_terms = DeckTerms.of(cards)
        else:
            self.deck_terms.add(cards)

    @property
    def vectors(self) -> WordVectors | None:
        """The semantic tier's word vectors, or None for keyword-only grading (asked for, or unavailable)."""
        if self.settings.match != "meaning":
            return None
        if not self._vectors_tried:
            with _LOADING_VECTORS:
                if not self._vectors_tried:
                    from .semantic import SemanticUnavailable, load

                    try:
                        self._vectors = load()
                    except SemanticUnavailable as exc:
                        self.notices.append(f"{exc}; grading by words only")
                    self._vectors_tried = True
        return self._vectors

    def _compile(self, card: Card) -> CompiledCard:
        key = (card.id, card.question, card.answer)  # a further reference answer is the same card with another answer
        compiled = self._compiled.get(key)
        if compiled is None or (compiled.card is not card and compiled.card != card):  # same object: skip the deep compare
            compiled = self._compiled[key] = compile_card(card, self.vectors)
        return compiled

    def grade(self, card: Card, answer: str) -> Grade:
        """The keyword grade of one answer."""
        return self.grade_many(card, [answer])[0]

    def grade_many(self, card: Card, answers: list[str]) -> list[Grade]:
        """Grades of many answers to one card, compared in one batch."""
        return [facts_grade(card, facts) for facts in self.grade_many_facts(card, answers)]

    def grade_many_facts(self, card: Card, answers: list[str]) -> list[GradeFacts]:
        """``grade_many`` as plain values: what batch grading writes its records from, without building a ``Grade``.

        A card with further reference answers grades each answer against every
        one of them; the best grade counts (the first on a tie), with that
        reference's terms.
        """
        return self.grade_many_facts_by(card, answers, (self.settings,))[0]

    def grade_many_facts_by(self, card: Card, answers: list[str], scorings: Sequence[GradingSettings]) -> list[list[GradeFacts]]:
        """``grade_many_facts`` under each of ``scorings`` (settings that score alike may differ in how they weigh
        what is found, never in how it is found), matching each answer once: the evaluation harness calibrates on
        the terms' share while verdicts use the blended score. Each scoring picks its own best reference answer."""
        check_types(card, answers)
        answers = [a[:GRADED_CHARS] if len(a) > GRADED_CHARS else a for a in answers]
        with stemming_in(card.language):
            words = [tokenize(a) for a in answers]
            best = self._facts(card, answers, words, scorings)
            for other in self._other_references(card):
                these = self._facts(other, answers, words, scorings)
                best = [[b if b[0] >= t[0] else t for b, t in zip(bs, ts)] for bs, ts in zip(best, these)]
        return best

    def _facts(self, card: Card, answers: list[str], words: list[list[Token]], scorings: Sequence[GradingSettings]) -> list[list[GradeFacts]]:
        if not card.gradable:
            return [[facts_from_evidence(card, a, [], settings) for a in answers] for settings in scorings]
        # An answer that earns nothing whatever its words ("I don't know") is not matched.
        why = [unmatched(card, a, ws) for a, ws in zip(answers, words)]
        attempts = [(a, ws) for a, ws, w in zip(answers, words, why) if w is None]
        matches = iter(match_answers(self._compile(card), [a for a, _ in attempts], [ws for _, ws in attempts]))
        known = self.deck_terms
        out: list[list[GradeFacts]] = [[] for _ in scorings]
        scored = list(zip(scorings, out))
        for answer, ws, w in zip(answers, words, why):
            if w is not None:
                nothing = unmatched_facts(card, w)
                for graded in out:
                    graded.append(nothing)
                continue
            m = next(matches)
            evidence, foreign = m.evidence, ()
            if known is not None:
                named = known.named(card, map(_stem_of, ws))
                if named:
                    evidence = _borrowed_from_other_cards(evidence, answer, [stems for stems, _ in named])
                    foreign = tuple(text for _, text in named) if len(named) >= FOREIGN_MIN else ()
            for settings, graded in scored:
                facts = facts_from_evidence(card, answer, evidence, settings, m.similarity)
                if foreign and facts[0] > 0:
                    facts = guessed(facts, foreign, settings, card)
                graded.append(facts)
        return out

    def _other_references(self, card: Card) -> list[Card]:
        """The card once for each further reference answer: the same question, that answer and its terms."""
        if not card.reference_answers:
            return []
        known = self._references.get(card.id)
        if known is None or known[0] is not card:
            others = [
                card.model_copy(update={"answer": r.answer, "key_terms": r.key_terms, "required": None, "reference_answers": []})
                for r in card.reference_answers
            ]
            known = self._references[card.id] = (card, others)
        return known[1]


def grade_answer(card: Card, answer: str, settings: GradingSettings | None = None) -> Grade:
    """Grade one answer to one card (convenience for one-off use)."""
    return KeywordGrader(settings).grade(card, answer)


def _borrowed_from_other_cards(evidence: list[Evidence], answer: str, named: list[frozenset[str]]) -> list[Evidence]:
    """The evidence, less what a highlighted term earns only from words of another card's term the answer names whole
    (``named``: each one's content stems): "deadlock freedom" is that card's term, and none of *starvation freedom*.
    As ``match._borrowed`` refuses a term said only inside another term of the same card."""
    if not named:
        return evidence
    out = []
    for ev in evidence:
        if ev.coverage > 0.0 and ev.span is not None and not ev.term.derived and ev.refused is None:
            own = frozenset(content_stems(ev.term.text))
            met = own & frozenset(content_stems(answer[ev.span[0] : ev.span[1]]))
            if met and not own <= met and any(met <= stems and not own <= stems for stems in named):
                ev = ev._replace(coverage=0.0, how=None, refused="inside another term")
        out.append(ev)
    return out
