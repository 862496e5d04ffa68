"""LLM and hybrid graders for the evaluation harness, on the LLM feedback client.

They measure what a user of ``grade --llm`` gets: the LLM's score where the
feedback client accepted it, and the keyword grade where it did not (a reply
rejected as unsupported by its own quotes, or no usable reply), counted
separately so a run says how often that happened. ``hybrid`` is the mean of the
keyword score and the accepted LLM score, with the verdict the keyword
thresholds give that mean.

Requests, concurrency, retries and the cache are the feedback client's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from ..errors import GraderError
from ..grading import KeywordGrader
from ..models import Card, Verdict
from ..scoring import GradingSettings, verdict_for
from .graders import Prediction

if TYPE_CHECKING:
    from ..llm.client import ExampleSource, FeedbackClient
    from ..llm.prompts import Example
    from ..llm.schema import LLMResult
    from .datasets import EvalSet

# A structured reply (feedback, one entry per term, misconceptions, suggestion)
# runs to about this many tokens; used only for the estimate before a run.
COMPLETION_TOKENS_PER_REPLY = 350
CHARS_PER_TOKEN = 4
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


class LLMEvalGrader:
    """Grades a question's answers with one concurrent batch of LLM requests, as ``grade --llm`` does: the model
    assesses the terms of the reference answer the keyword grade chose, and is shown the others."""

    def __init__(self, client: FeedbackClient, *, hybrid: bool = False, progress: Callable[[], None] | None = None):
        self.client = client
        self.hybrid = hybrid
        self.name = "hybrid" if hybrid else "llm"
        self.keyword = KeywordGrader(client.grading)
        self.progress = progress
        self.outcomes: Counter[str] = Counter()
        self.fallback_reasons: Counter[str] = Counter()  # why answers kept their keyword grade

    def grade(self, card: Card, answers: list[str]) -> list[Prediction]:
        grades = self.keyword.grade_many(card, answers)
        results = self.client.feedback_many([(card, a, g) for a, g in zip(answers, grades)], on_progress=self.progress)
        if self.client.disabled:
            # Unreachable, a rejected key, no such model: every answer left would keep its keyword grade, and the
            # run would measure the keyword grader under this one's name. grade --llm goes on; a measurement stops.
            raise GraderError(f"--grader {self.name} stopped: {self.client.disabled.removeprefix('LLM feedback off: ')}")
        out = []
        for grade, result in zip(grades, results):
            if result is None or result.status != "ok" or result.score is None:
                # The keyword grade stands, as it does for the user.
                self.outcomes["keyword fallback" if result is None else result.status] += 1
                self.fallback_reasons[fallback_reason(result)] += 1
                out.append(Prediction(grade.score, grade.verdict, grade.answered))
                continue
            self.outcomes["ok"] += 1
            if self.hybrid:
                score = (grade.score + result.score) / 2
                out.append(Prediction(score, verdict_for(score, self.client.grading)))
            else:
                out.append(Prediction(result.score, Verdict(result.verdict) if result.verdict else None))
        return out

    def describe(self) -> dict[str, object]:
        """The settings a run records beside its figures."""
        from ..llm.client import endpoint

        return {
            "model": self.client.settings.model,
            "endpoint": endpoint(self.client.settings),
            "prompt_version": self.client.prompt_version,
            "combine": "mean of keyword and LLM scores" if self.hybrid else "LLM score where accepted",
            **self.client.grading.model_dump(),
        }

    def notes(self) -> list[str]:
        """What happened to the requests, for the run's record."""
        lines = [self.client.totals.summary(self.client.settings.model)]
        if self.outcomes:
            lines.append("LLM outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())))
        if self.fallback_reasons:
            why = "; ".join(f"{n} × {reason}" for reason, n in self.fallback_reasons.most_common(5))
            more = len(self.fallback_reasons) - 5
            lines.append(f"Kept the keyword grade: {why}" + (f"; {more} other reasons" if more > 0 else ""))
        return lines + list(self.client.notices)

    def close(self) -> None:
        self.client.close()


def fallback_reason(result: LLMResult | None) -> str:
    """Why an answer kept its keyword grade, in a few words that group alike answers together."""
    if result is None:
        return "nothing to ask (a non-answer or an image card)"
    if result.status == "rejected":
        return "LLM score not backed by its quotes (unsupported-score)"
    notice = (result.notice or "no reason given").removeprefix("LLM feedback skipped: ")
    notice = re.sub(r"\(last problem: ([^;:]*).*", r"(\1)", notice)  # the first problem names the kind
    return re.sub(r"'[^']*'|\"[^\"]*\"", "…", notice)[:120]


LABEL_SCORES = {"correct": 1.0, "partially_correct": 0.5, "partial": 0.5, "incorrect": 0.0, "contradictory": 0.0, "irrelevant": 0.0}


def graded_examples(evalset: EvalSet, grading: GradingSettings) -> list[tuple[str, Example]]:
    """The human-graded answers of a set as few-shot examples: (question, answer with its 0-1 score and verdict)."""
    from ..llm.prompts import Example

    out = []
    for it in evalset.items:
        if it.score is not None and it.max_score:
            score = max(0.0, min(1.0, it.score / it.max_score))
        elif (label := it.label if it.label in LABEL_SCORES else it.label_2way) in LABEL_SCORES:
            score = LABEL_SCORES[label]
        else:
            continue
        out.append((it.question, Example(it.answer, score, verdict_for(score, grading).value)))
    return out


def open_llm_client(
    grader_name: str,
    grading: GradingSettings,
    *,
    model: str | None,
    base_url: str | None,
    no_cache: bool,
    repeat: int,
    examples: ExampleSource | None = None,
) -> FeedbackClient:
    """The feedback client an LLM or hybrid run asks, from the flags, environment and settings file.

    ``examples`` puts graded answers in each prompt (``--shots``). Raises
    GraderError when offline mode is on or the client cannot work (no API key, say).
    """
    from ..config import load_llm_settings
    from ..llm.client import open_feedback_client

    # Repeats measure the model, not the cache.
    flags = {"model": model, "base_url": base_url, "enabled": True, "cache": False if no_cache or repeat > 1 else None}
    settings = load_llm_settings(flags)
    if settings.offline:
        raise GraderError(f"--grader {grader_name} needs an LLM, but offline mode is on (GRADER_OFFLINE)")
    client = open_feedback_client(settings, grading, examples=examples)
    if client.disabled:
        client.close()
        raise GraderError(client.disabled)
    return client


@dataclass(frozen=True)
class CostEstimate:
    """What an LLM run will ask for, before it starts."""

    model: str
    endpoint: str
    requests: int
    cached: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    local: bool

    @property
    def paid(self) -> bool:
        """Whether the run will send requests that may cost money (asked before it starts)."""
        return bool(self.requests) and not self.local

    def summary(self) -> str:
        if self.local:
            price = "a local server: no charge"
        elif self.cost is not None:
            price = f"about ${self.cost:.2f}"
        else:
            price = "cost unknown (no price for this model in the settings file)"
        return (
            f"{self.requests:,} LLM requests to {self.model} at {self.endpoint} "
            f"({self.cached:,} more answered from the cache), about {self.prompt_tokens:,} prompt + "
            f"{self.completion_tokens:,} completion tokens: {price}"
        )


def is_local(base_url: str | None) -> bool:
    return bool(base_url) and (urlparse(base_url).hostname or "") in LOCAL_HOSTS


def estimate_cost(evalsets: list[EvalSet], client: FeedbackClient, *, repeat: int = 1) -> CostEstimate:
    """Requests, tokens and dollars a run over these sets will take (cache hits are free).

    Prompt tokens are counted as characters / 4 of the exact messages; the reply
    as ``COMPLETION_TOKENS_PER_REPLY``. Repairs of invalid replies come on top.
    """
    from ..llm.client import endpoint

    keyword = KeywordGrader(client.grading)
    settings = client.settings
    where = endpoint(settings)
    requests = cached = chars = 0
    for evalset in evalsets:
        by_question: dict[str, list[str]] = {}
        for it in evalset.items:
            by_question.setdefault(it.question_id, []).append(it.answer)
        for qid, answers in by_question.items():
            card = evalset.cards[qid]
            for answer, grade in zip(answers, keyword.grade_many(card, answers)):
                if not grade.answered:
                    continue  # the client asks nothing for an empty answer or "I don't know"
                if repeat == 1 and client.is_cached(card, answer, grade):
                    cached += 1
                    continue
                requests += repeat
                messages = client.messages_for(card, answer, grade)
                chars += repeat * sum(len(m["content"]) for m in messages)
    prompt_tokens = chars // CHARS_PER_TOKEN
    completion_tokens = requests * COMPLETION_TOKENS_PER_REPLY
    price = settings.price()
    return CostEstimate(
        model=settings.model,
        endpoint=where,
        requests=requests,
        cached=cached,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=price.cost(prompt_tokens, completion_tokens) if price else None,
        local=is_local(settings.base_url),
    )
