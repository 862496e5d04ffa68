"""The LLM's reply and what grader makes of it: the models every other llm module shares.

``LLMFeedback`` is what the model must reply: its field descriptions are part of
the prompt, and its validator checks the reply's meaning against the card and
the answer (a ``Context`` passed as validation context) and computes its score
from its terms. ``request_schema`` bounds it for one card and answer, so that a
grammar-constrained model can only write what the checks accept. ``LLMResult`` is
the outcome of asking, whatever happened, as ``grade --json`` records it;
``Totals`` sums a run's results up for its report.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from ..models import Card
from ..normalize import is_spaceless, normalize
from ..scoring import GradingSettings
from .secrets import one_line

if TYPE_CHECKING:
    from .support import QuoteSupport

TermStatus = Literal["covered", "partly", "missing"]
LLMVerdict = Literal["correct", "partial", "incorrect"]
Mode = Literal["json_schema", "json_object"]
# What a term's status is worth: a reply's score is its terms' mean (``terms_score``), and the
# acceptance rule counts its backed terms the same way (``judge.evidence_support``).
STATUS_CREDIT = {"covered": 1.0, "partly": 0.5, "missing": 0.0}


# The bounds of a reply, in characters and items: a grammar-constrained model cannot loop past them,
# and they size the request's token cap (``max_reply_tokens``).
FEEDBACK_CHARS = 500
SUGGESTION_CHARS = 160
QUOTE_CHARS = 160
CORRECTION_CHARS = 160
MAX_MISCONCEPTIONS = 2


def clean_text(text: str) -> str:
    """Text as the model is shown it: compatibility forms folded (NFKC: full-width letters, ligatures) and
    invisible format characters (zero-width spaces and joiners, bidi controls) removed."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _quoted(text: str, limit: int = 60) -> str:
    """A short quotation of the model's text for a validation problem fed back to it."""
    return repr(one_line(text, limit))


def padded(answer: str) -> str:
    """The answer as the model saw it, normalised and padded with spaces, so a quote is found only as whole words."""
    return f" {normalize(clean_text(answer))} "


def occurs_in(quote: str, padded_answer: str) -> bool:
    """Whether every part of a quote (parts joined by an ellipsis) is in a ``padded`` answer, as whole words.

    Chinese, Japanese and Thai run their words together: at an end of a part that is such a character, the part
    need not end a "word" of the answer (which is a whole clause), as 计算机仿真 is quoted from 它是计算机仿真.
    """
    parts = [normalize(clean_text(p)) for p in re.split(r"\.\.\.|…", quote)]
    parts = [p for p in parts if p]
    return bool(parts) and all(_edged(p) in padded_answer for p in parts)


def _edged(part: str) -> str:
    """A normalised part of a quote with the spaces that make it whole words (none beside a character of a script
    written without spaces)."""
    if part.isascii():
        return f" {part} "
    return f"{'' if is_spaceless(part[0]) else ' '}{part}{'' if is_spaceless(part[-1]) else ' '}"


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

    @field_validator("correction")
    @classmethod
    def _bounded(cls, text: str) -> str:
        return one_line(text, CORRECTION_CHARS)


class LLMFeedback(BaseModel):
    """What the model must reply; every field's description is part of the prompt.

    The score and the verdict are not the model's to give: grader computes them
    from the terms (``terms_score``), so a reply cannot claim more than it
    assesses term by term, and a score or verdict the model sends anyway is
    dropped. Asked for a number, Gemma 3 270M claimed 0.70 or 1.00 whatever its
    terms and quotes said (issue 14).
    """

    terms: list[TermAssessment] = Field(description="One entry for each key term of the card, in the rubric's order.")
    misconceptions: list[Misconception] = Field(
        description="Wrong statements in the answer, each quoted exactly; an empty list if there are none."
    )
    feedback: str = Field(
        description="Two to four sentences to the student ('you'): what is right, what is missing or wrong."
    )
    suggestion: str = Field(description="One concrete thing for the student to study next.")
    score: SkipJsonSchema[float] = Field(
        0.0, description="Computed by grader: the mean credit of the card's key terms (covered 1, partly 1/2, missing 0)."
    )
    verdict: SkipJsonSchema[LLMVerdict | None] = Field(
        None, description="Computed by grader from the score and the grading thresholds."
    )

    @model_validator(mode="before")
    @classmethod
    def _grader_computes_the_score(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in ("score", "verdict")}
        return data

    @field_validator("terms", mode="before")
    @classmethod
    def _terms_by_name(cls, value: Any) -> Any:
        """The request's shape, an object with one property per term, read as the list of assessments."""
        if isinstance(value, dict):
            return [{**item, "term": name} if isinstance(item, dict) else item for name, item in value.items()]
        return value

    @field_validator("feedback", "suggestion")
    @classmethod
    def _bounded(cls, text: str, info: ValidationInfo) -> str:
        # A reply past the bounds is cut, not refused: asking again for a shorter text costs a request.
        return one_line(text, FEEDBACK_CHARS if info.field_name == "feedback" else SUGGESTION_CHARS)

    @model_validator(mode="after")
    def _fits_card_and_answer(self, info: ValidationInfo) -> LLMFeedback:
        """Checks of meaning, which need the card and the answer (``context``).

        Without a context (the SDK's own parse) only the schema is checked.
        """
        ctx: Context | None = (info.context or {}).get("grading")
        if ctx is None:
            self.score = terms_score(self.terms, len(self.terms))
            return self
        problems: list[str] = []
        by_term: dict[str, TermAssessment] = {}
        for item in self.terms:
            canonical = ctx.terms.get(normalize(item.term))
            if canonical is None:
                problems.append(f"{_quoted(item.term)} is not one of the card's key terms")
            elif canonical in by_term:
                continue  # assessed again: the first assessment stands (a small model repeats itself; no credit is gained)
            else:
                by_term[canonical] = item.model_copy(update={"term": canonical})
        quotes = [t.evidence for t in self.terms if t.status != "missing"] + [m.quote for m in self.misconceptions]
        for quote in quotes:
            if not ctx.occurs(quote):
                problems.append(f"the quote {_quoted(quote)} does not occur in the student's answer")
        if problems:
            raise ValueError("; ".join(problems))
        # A term the model left out is one it found no evidence for.
        self.terms = [by_term.get(t) or TermAssessment(term=t, status="missing", evidence="") for t in ctx.terms.values()]
        self.score = terms_score(self.terms, len(self.terms))
        self.verdict = next(v for v in ("correct", "partial", "incorrect") if ctx.verdict_range(v)[0] <= self.score)
        return self


def terms_score(terms: list[TermAssessment], out_of: int) -> float:
    """A reply's score: the mean ``STATUS_CREDIT`` of its terms over ``out_of`` key terms."""
    return round(sum(STATUS_CREDIT[t.status] for t in terms) / out_of, 4) if out_of else 0.0


MAX_QUOTE_CHOICES = 80


def quote_choices(answer: str) -> list[str]:
    """The pieces of an answer a quote may be: its sentences and clauses (split at punctuation), as written.

    Offered to a grammar-constrained model as the only quotes it can give, so a
    small model cannot make one up; long pieces are cut into runs of whole words.
    """
    text = clean_text(answer)
    pieces: list[str] = []
    for sentence in re.split(r"(?<=[.!?;:])\s+|\n+", text):
        clauses = re.split(r"[,;:()]|\s[-–]\s", sentence)
        for piece in [sentence, *clauses, *(p for c in clauses for p in re.split(r"\s(?:and|or|but)\s", c))]:
            piece = piece.strip(" \t.,;:!?()[]\"'")
            words = piece.split()
            while words:
                run, taken = "", 0
                for w in words:
                    if len(run) + len(w) + 1 > QUOTE_CHARS:
                        break
                    run, taken = f"{run} {w}".strip(), taken + 1
                taken = max(taken, 1)
                pieces.append(run or words[0][:QUOTE_CHARS])
                words = words[taken:]
    unique = [p for p in dict.fromkeys(pieces) if p and any(ch.isalnum() for ch in p)]
    return unique[:MAX_QUOTE_CHOICES]


def innermost(pieces: list[str]) -> list[str]:
    """The pieces that hold none of the others: a term's own clause, not the sentence that also names other terms.

    One quote backs one term, so a sentence cited for every term it names backs
    only one of them (Gemma 3 270M cited the whole sentence for all four terms of
    ``llm check``'s sample answer).
    """
    words = [normalize(p) for p in pieces]
    return [p for p, w in zip(pieces, words) if not any(o != w and o and _edged(o) in f" {w} " for o in words)]


def request_schema(card: Card, answer: str | None = None, support: QuoteSupport | None = None) -> dict[str, Any]:
    """The JSON schema a request for this card asks for: ``LLMFeedback`` bounded and described for it.

    A grammar-constrained server (llama.cpp, vLLM) can then only produce what
    the checks accept. ``terms`` is an object with one property per key term,
    in the card's order, so the grammar writes each term's name and a small
    model can neither skip nor repeat one; each holds the term's status, then
    its evidence. Given the ``answer``, a quote can only be a piece of it
    (``quote_choices``) that is about its term (``QuoteSupport.backing``):
    exactly the quotes the acceptance rule can verify; a term that no piece is
    about can only be missing. There is no score: grader computes it from the
    terms. Free text has a length bound (measured on llama.cpp with Gemma 3
    270M: no slower, and no reply left looping to the token cap).
    """
    from .support import QuoteSupport

    fields, term_fields = LLMFeedback.model_fields, TermAssessment.model_fields
    names = list(dict.fromkeys(t.text for t in card.key_terms))

    def assessment(statuses: list[str], evidence: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": statuses, "description": term_fields["status"].description},
                "evidence": {**evidence, "description": term_fields["evidence"].description},
            },
            "required": ["status", "evidence"],
            "additionalProperties": False,
        }

    missing = assessment(["missing"], {"type": "string", "enum": [""]})
    choices = quote_choices(answer) if answer is not None else []
    backing = (support or QuoteSupport()).backing(card, choices) if answer is not None else {}

    def term_entry(name: str) -> dict[str, Any]:
        if answer is None:  # JSON mode: the schema is shown in the instructions, which never hold the answer
            return {"anyOf": [assessment(["covered", "partly"], {"type": "string", "minLength": 1}), missing]}
        quotes = innermost(backing.get(name) or [])
        return {"anyOf": [assessment(["covered", "partly"], {"type": "string", "enum": quotes}), missing]} if quotes else missing

    quote: dict[str, Any] = {"type": "string", "enum": choices} if choices else {"type": "string", "minLength": 1}
    misconception = {
        "type": "object",
        "properties": {
            "quote": {**quote, "description": Misconception.model_fields["quote"].description},
            "correction": {
                "type": "string",
                "maxLength": CORRECTION_CHARS,
                "description": Misconception.model_fields["correction"].description,
            },
        },
        "required": ["quote", "correction"],
        "additionalProperties": False,
    }
    properties: dict[str, Any] = {
        "terms": {
            "type": "object",
            "properties": {name: term_entry(name) for name in names},
            "required": names,
            "additionalProperties": False,
            "description": fields["terms"].description,
        },
        "misconceptions": {
            "type": "array",
            "items": misconception,
            "maxItems": MAX_MISCONCEPTIONS,
            "description": f"{fields['misconceptions'].description} At most {MAX_MISCONCEPTIONS}.",
        },
        "feedback": {"type": "string", "maxLength": FEEDBACK_CHARS, "description": fields["feedback"].description},
        "suggestion": {"type": "string", "maxLength": SUGGESTION_CHARS, "description": fields["suggestion"].description},
    }
    return {
        "type": "object",
        "title": "LLMFeedback",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def max_reply_tokens(card: Card) -> int:
    """A token cap for one reply, from the schema's bounds for this card: a looping model stops there.

    Counted as characters / 3 (JSON's punctuation tokenizes worse than prose), with room for the keys.
    """
    per_term = 60 + QUOTE_CHARS
    chars = (
        120
        + sum(per_term + len(t.text) for t in card.key_terms)
        + MAX_MISCONCEPTIONS * (QUOTE_CHARS + CORRECTION_CHARS + 40)
        + FEEDBACK_CHARS
        + SUGGESTION_CHARS
    )
    return chars // 3 + 64


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

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
    claimed_score: float | None = Field(None, description="The score its terms claim (see terms_score), when rejected.")
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
        parts = [f"LLM feedback ({model}): {self.answers} answer{'' if self.answers == 1 else 's'}"]
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
