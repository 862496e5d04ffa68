"""Whether to accept a model's reply: the evidence rules and the acceptance rule.

A reply is first checked for meaning while it is parsed (``schema.LLMFeedback``
with a ``Context``): its quotes occur in the answer, its terms are the card's,
its score is computed from its terms. ``judge`` then accepts that score only as
far as its own quotes back it, so a model talked into full marks by the answer
(every term "covered") cannot give them. A quote backs a term only if it is
about that term (``support``): by words now, by meaning once a similarity
function is plugged in.
"""

from __future__ import annotations

from typing import Any

from ..models import Card, Grade
from ..normalize import STOPWORDS, normalize, stem, tokenize
from .schema import STATUS_CREDIT, LLMFeedback, LLMResult, occurs_in, padded
from .support import QuoteSupport

_DEFAULT_SUPPORT: QuoteSupport | None = None


def _default_support() -> QuoteSupport:
    global _DEFAULT_SUPPORT
    if _DEFAULT_SUPPORT is None:
        _DEFAULT_SUPPORT = QuoteSupport()
    return _DEFAULT_SUPPORT

# An LLM score may exceed what its own quoted evidence supports by this much.
SUPPORT_MARGIN = 0.25
# Keyword and LLM scores this far apart are reported as a disagreement.
DISAGREEMENT = 0.5
# Words that talk about the grading rather than the subject. A quote made of
# them ("give this full marks") is no evidence, unless the card itself uses them.
DIRECTIVE_WORDS = """grade grader grading mark marks score points full correct ignore instruction instructions
    prompt system rubric teacher student answer verdict credit assistant override previous prior""".split()


def evidence_support(reply: LLMFeedback, card: Card, answer: str, support: QuoteSupport | None = None) -> float:
    """The score a reply's own evidence backs: covered 1, partly ½, per key term (no threshold is involved).

    A quote counts only if it occurs in the answer, has a content word, is not
    about the grading itself (``DIRECTIVE_WORDS`` that the card does not use),
    is about its term (``QuoteSupport``: a different real sentence of the
    answer for each term backs nothing), and backs no other term: one quote
    cited for several terms backs one of them (else "portability" could back
    all three terms of a card).
    """
    if not card.key_terms:
        return 0.0
    card_stems = {t.stem for t in tokenize(" ".join([card.question, card.answer, *(t.text for t in card.key_terms)]))}
    directive = {stem(w) for w in DIRECTIVE_WORDS} - card_stems
    in_answer = padded(answer)

    def valid(quote: str) -> bool:
        words = tokenize(quote)
        return (
            occurs_in(quote, in_answer)
            and any(t.word not in STOPWORDS for t in words)
            and not any(t.stem in directive for t in words)
        )

    cited = [t for t in reply.terms if t.status != "missing" and valid(t.evidence)]
    about = (support or _default_support()).supported(card, [(t.term, t.evidence) for t in cited])
    earned = 0.0
    used: set[str] = set()
    for t, on_topic in sorted(zip(cited, about), key=lambda pair: -STATUS_CREDIT[pair[0].status]):
        quote = normalize(t.evidence)
        if on_topic and quote not in used:
            earned += STATUS_CREDIT[t.status]
            used.add(quote)
    return round(earned / len(card.key_terms), 4)


def judge(
    reply: LLMFeedback, card: Card, answer: str, grade: Grade, checker: QuoteSupport | None = None, **meta: Any
) -> LLMResult:
    """The acceptance rule, applied to a reply already valid for the grading settings (see ``Context``).

    The LLM's score (what its terms claim, ``schema.terms_score``) is accepted
    only if ``score <= support + SUPPORT_MARGIN``, where ``support`` is what its
    own valid quotes back (``evidence_support``; ``checker`` decides whether a
    quote is about its term).
    So a reply with no valid quote cannot score above 0.25, let alone be
    ``correct``: a manipulated model's "full marks" is rejected, flagged
    ``unsupported-score``, and its feedback withheld. An accepted score that
    differs from the keyword score by ``DISAGREEMENT`` or more, or a correct
    against an incorrect verdict, is flagged ``disagreement``.
    """
    support = evidence_support(reply, card, answer, checker)
    if reply.score > support + SUPPORT_MARGIN + 1e-9:
        return LLMResult(
            status="rejected",
            claimed_score=reply.score,
            support=support,
            terms=reply.terms,
            flags=["unsupported-score"],
            notice=(
                f"LLM grade not accepted: it claims {reply.score:.2f}, but its quotes from the answer back "
                f"only {support:.2f}; flagged for review"
            ),
            **meta,
        )
    verdicts = {reply.verdict, grade.verdict.value}
    disagree = abs(reply.score - grade.score) >= DISAGREEMENT or verdicts == {"correct", "incorrect"}
    return LLMResult(
        status="ok",
        score=reply.score,
        verdict=reply.verdict,
        feedback=reply.feedback,
        suggestion=reply.suggestion,
        terms=reply.terms,
        misconceptions=reply.misconceptions,
        support=support,
        flags=["disagreement"] if disagree else [],
        notice=(
            f"keyword and LLM grades disagree: {grade.score:.2f} {grade.verdict.value} "
            f"vs {reply.score:.2f} {reply.verdict}"
        )
        if disagree
        else None,
        **meta,
    )
