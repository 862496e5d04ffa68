"""The LLM's reply and what grader makes of it: the models every other llm module shares.

``LLMFeedback`` is what the model must reply: its field descriptions are part of
the prompt, and its validator checks the reply's meaning against the card and
the answer (a ``Context`` passed as validation context). ``LLMResult`` is
the outcome of asking, whatever happened, as ``grade --json`` records it;
``Totals`` sums a run's results up for its report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, model_validator

from ..models import Card
from ..normalize import normalize
from ..scoring import GradingSettings

TermStatus = Literal["covered", "partly", "missing"]
LLMVerdict = Literal["correct", "partial", "incorrect"]
Mode = Literal["json_schema", "json_object"]


def one_line(text: str, limit: int) -> str:
    """``text`` with its whitespace collapsed, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quoted(text: str, limit: int = 60) -> str:
    """A short quotation of the model's text for a validation problem fed back to it."""
    return repr(one_line(text, limit))


def padded(answer: str) -> str:
    """The answer normalised and padded with spaces, so a quote is found only as whole words."""
    return f" {normalize(answer)} "


def occurs_in(quote: str, padded_answer: str) -> bool:
    """Whether every part of a quote (parts joined by an ellipsis) is in a ``padded`` answer, as whole words."""
    parts = [normalize(p) for p in re.split(r"\.\.\.|…", quote)]
    parts = [p for p in parts if p]
    return bool(parts) and all(f" {p} " in padded_answer for p in parts)


@dataclass(frozen=True)
class Context:
    """What the meaning checks compare a reply with."""

    answer: str  # normalised, padded with spaces (see padded)
    terms: dict[str, str]  # normalised term -> term as the card has it
    settings: GradingSettings

    @classmethod
    def of(cls, card: Card, answer: str, settings: GradingSettings) -> Context:
        return cls(padded(answer), {normalize(t.text): t.text for t in card.key_terms}, settings)

    def occurs(self, quote: str) -> bool:
        """Whether every part of a quote (parts joined by an ellipsis) is in the answer, word for word."""
        return occurs_in(quote, self.answer)

    def verdict_range(self, verdict: str) -> tuple[float, float]:
        correct, partial = self.settings.correct_threshold, self.settings.partial_threshold
        return {"correct": (correct, 1.0 + 1e-9), "partial": (partial, correct), "incorrect": (0.0, partial)}[verdict]


class TermAssessment(BaseModel):
    term: str = Field(description="A key term of the card, written exactly as the rubric lists it.")
    status: TermStatus = Field(
        description="covered: the answer states it (a paraphrase counts); partly: incompletely or vaguely; "
        "missing: not at all."
    )
    evidence: str = Field(
        description="For covered or partly: a short exact quote from the student's answer that shows the term. "
        "For missing: an empty string."
    )

    @model_validator(mode="after")
    def _evidence_for_credit(self) -> TermAssessment:
        if self.status == "missing":
            self.evidence = ""
        elif not self.evidence.strip():
            raise ValueError(f"term {self.term!r} is {self.status} but has no evidence quote")
        return self


class Misconception(BaseModel):
    quote: str = Field(description="A wrong statement, quoted exactly from the student's answer.")
    correction: str = Field(description="What is true instead, in one sentence.")


class LLMFeedback(BaseModel):
    """What the model must reply; every field's description is part of the prompt."""

    feedback: str = Field(
        description="Two to four sentences to the student ('you'): what is right, what is missing or wrong."
    )
    terms: list[TermAssessment] = Field(description="One entry for each key term of the card, in the rubric's order.")
    misconceptions: list[Misconception] = Field(
        description="Wrong statements in the answer, each quoted exactly; an empty list if there are none."
    )
    score: float = Field(ge=0, le=1, description="How much of the key content the answer gets right, from 0 to 1.")
    verdict: LLMVerdict = Field(description="correct, partial or incorrect, following from the score as the rules say.")
    suggestion: str = Field(description="One concrete thing for the student to study next.")

    @model_validator(mode="after")
    def _fits_card_and_answer(self, info: ValidationInfo) -> LLMFeedback:
        """Checks of meaning, which need the card and the answer (``context``).

        Without a context (the SDK's own parse) only the schema is checked.
        """
        ctx: Context | None = (info.context or {}).get("grading")
        if ctx is None:
            return self
        problems: list[str] = []
        by_term: dict[str, TermAssessment] = {}
        for item in self.terms:
            canonical = ctx.terms.get(normalize(item.term))
            if canonical is None:
                problems.append(f"{_quoted(item.term)} is not one of the card's key terms")
            elif canonical in by_term:
                problems.append(f"key term {canonical!r} is assessed more than once")
            else:
                by_term[canonical] = item.model_copy(update={"term": canonical})
        quotes = [t.evidence for t in self.terms if t.status != "missing"] + [m.quote for m in self.misconceptions]
        for quote in quotes:
            if not ctx.occurs(quote):
                problems.append(f"the quote {_quoted(quote)} does not occur in the student's answer")
        low, high = ctx.verdict_range(self.verdict)
        if not low <= self.score < high:
            problems.append(f"a score of {self.score:g} does not fit the verdict {self.verdict!r} ({low:g} to {high:g})")
        if problems:
            raise ValueError("; ".join(problems))
        # A term the model left out is one it found no evidence for.
        self.terms = [by_term.get(t) or TermAssessment(term=t, status="missing", evidence="") for t in ctx.terms.values()]
        return self


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @classmethod
    def of(cls, completion: Any) -> Usage:
        """The tokens an SDK completion reports (some local servers report none)."""
        u = getattr(completion, "usage", None)
        if u is None:
            return cls()
        return cls(prompt_tokens=u.prompt_tokens or 0, completion_tokens=u.completion_tokens or 0)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class LLMResult(BaseModel):
    """The LLM's side of one grade: its feedback, or why there is none.

    status: ``ok`` (accepted), ``rejected`` (a score its evidence does not back:
    flagged, feedback withheld), ``failed`` (no usable reply: keyword-only).
    """

    status: Literal["ok", "rejected", "failed"]
    score: float | None = Field(None, description="The accepted LLM score (ok only).")
    verdict: LLMVerdict | None = None
    feedback: str | None = None
    suggestion: str | None = None
    terms: list[TermAssessment] = Field(default_factory=list)
    misconceptions: list[Misconception] = Field(default_factory=list)
    claimed_score: float | None = Field(None, description="The score the model gave, when rejected.")
    support: float | None = Field(None, description="The score its valid quotes back (see judge).")
    flags: list[str] = Field(default_factory=list, description="unsupported-score, disagreement")
    notice: str | None = Field(None, description="One line for the user, when something needs saying.")
    mode: Mode | None = Field(None, description="json_schema, or json_object for servers without it.")
    model: str
    prompt_version: str
    attempts: int = 0
    cached: bool = False
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = Field(None, description="US dollars, when the settings have the model's price.")

    def record(self) -> dict[str, Any]:
        """The ``llm`` object of a ``grade --json`` line."""
        return self.model_dump(mode="json", exclude_none=True)


@dataclass
class Totals:
    """What a run asked, what it cost, and how it went: for the batch report."""

    answers: int = 0
    cached: int = 0
    ok: int = 0
    rejected: int = 0
    failed: int = 0
    disagreements: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None

    def add(self, result: LLMResult) -> None:
        self.answers += 1
        self.cached += result.cached
        self.ok += result.status == "ok"
        self.rejected += result.status == "rejected"
        self.failed += result.status == "failed"
        self.disagreements += "disagreement" in result.flags
        if not result.cached:
            self.prompt_tokens += result.usage.prompt_tokens
            self.completion_tokens += result.usage.completion_tokens
            if result.cost is not None:
                self.cost = (self.cost or 0.0) + result.cost

    def summary(self, model: str) -> str:
        """One line: answers, outcomes, tokens, cost."""
        parts = [f"LLM feedback ({model}): {self.answers} answers"]
        if self.cached:
            parts.append(f"{self.cached} from cache")
        parts.append(f"{self.ok} accepted")
        if self.rejected:
            parts.append(f"{self.rejected} rejected (flagged)")
        if self.failed:
            parts.append(f"{self.failed} without feedback")
        if self.disagreements:
            parts.append(f"{self.disagreements} disagreements")
        parts.append(f"{self.prompt_tokens:,} prompt + {self.completion_tokens:,} completion tokens")
        parts.append(f"cost ${self.cost:.4f}" if self.cost is not None else "cost unknown (no price for this model)")
        return "; ".join(parts)
