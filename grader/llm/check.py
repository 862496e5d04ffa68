"""``grader llm check``: whether the endpoint answers, the model exists, and the model can actually grade.

The last check is a real grading request (the bundled deck's card 3 and a good
answer), sent as ``grade --llm`` sends it: the same messages, schema, token cap
and fallbacks, no cache. So a server whose chat template refuses the
conversation, or a model that cannot produce a usable grade, fails here rather
than in the middle of a class's answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..config import LLMSettings
from ..models import Card
from ..scoring import GradingSettings
from .client import FeedbackClient, endpoint
from .reply import RequestFailed

HTTP_NOT_FOUND = 404
SAMPLE_ANSWER = (
    "Sharing one physical machine between many VMs, aggregation of many machines into one, "
    "emulation of another architecture, and isolation of each guest."
)


@dataclass(frozen=True)
class CheckLine:
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {'ok' if self.ok else 'FAILED'}, {self.detail}"


def sample_card() -> Card:
    """The card the check grades: the bundled deck's "examples of managed execution" (four one-word terms)."""
    from ..decks import bundled_deck, load_deck

    deck = load_deck(bundled_deck())
    return next(c for c in deck.cards if c.number == 3)


def check_endpoint(settings: LLMSettings, client: Any = None, grading: GradingSettings | None = None) -> list[CheckLine]:
    """Whether the endpoint answers, the model exists, structured output works and a real grading request succeeds."""
    where = endpoint(settings)
    if not settings.key_value() and not settings.base_url:
        return [CheckLine("endpoint", False, "no OPENAI_API_KEY is set and no base URL names a local server")]
    grading = grading or GradingSettings()
    with FeedbackClient(settings.model_copy(update={"cache": False}), grading, client=client) as feedback:
        lines: list[CheckLine] = []
        try:
            served: list[str] | None = feedback.list_models()
            lines.append(CheckLine("endpoint", True, f"{where} answers (key {settings.masked_key()})"))
        except RequestFailed as exc:
            if exc.status != HTTP_NOT_FOUND:
                return [CheckLine("endpoint", False, exc.notice)]
            served = None
            lines.append(CheckLine("endpoint", True, f"{where} answers, but cannot list its models"))
        if served is None:
            lines.append(CheckLine("model", True, f"{settings.model!r}: not listed; the request below tells"))
        elif settings.model in served:
            lines.append(CheckLine("model", True, f"{settings.model!r} is served"))
        else:
            others = ", ".join(served[:5]) + (", ..." if len(served) > 5 else "")
            lines.append(CheckLine("model", False, f"{settings.model!r} is not served here (available: {others or 'none'})"))
            return lines
        lines.extend(_grading_request(feedback, grading))
    return lines


def _grading_request(feedback: FeedbackClient, grading: GradingSettings) -> list[CheckLine]:
    """Structured output and grading, from one real grading request."""
    from ..grading import KeywordGrader

    card = sample_card()
    grade = KeywordGrader(grading).grade(card, SAMPLE_ANSWER)
    started = time.monotonic()
    result = feedback.feedback(card, SAMPLE_ANSWER, grade)
    seconds = time.monotonic() - started
    assert result is not None  # a real answer to a gradable card is always asked about
    failure = feedback.last_failure
    if result.status == "failed" and failure is not None and not failure.model_replied:
        # No reply from the model at all: the server refused the request (format, conversation, model) or
        # answered with something that is not a chat completion.
        notice = (result.notice or "the request failed").removeprefix("LLM feedback skipped: ")
        return [CheckLine("structured output", False, notice)]
    mode = result.mode or feedback.mode
    structured = CheckLine(
        "structured output", True, "json_schema" if mode == "json_schema" else "json_object only (no json_schema): JSON mode is used"
    )
    tries = f"{result.attempts} {'try' if result.attempts == 1 else 'tries'}"
    if result.status == "ok":
        detail = f"a sample answer was graded {result.score:.2f} {result.verdict} and accepted ({tries}, {seconds:.1f} s)"
        return [structured, CheckLine("grading", True, detail)]
    if result.status == "rejected":
        detail = (
            f"the model's grade of a sample answer was not accepted: it claims {result.claimed_score:.2f}, "
            f"its quotes back {result.support:.2f} ({tries}, {seconds:.1f} s)"
        )
        return [structured, CheckLine("grading", False, detail)]
    notice = (result.notice or "no usable reply").removeprefix("LLM feedback skipped: ")
    return [structured, CheckLine("grading", False, f"{notice} ({seconds:.1f} s)")]
