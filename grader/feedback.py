"""Rubric feedback from a language model, through any OpenAI-compatible server.

One answer goes through these steps:

    messages: system prompt | rubric (question, reference, key terms, keyword hints)
              | the student's answer, alone, between <student_answer> tags
      -> chat.completions.parse(response_format=LLMFeedback)       mode "json_schema"
         or, when the server rejects json_schema (HTTP 400),
         chat.completions.create(response_format=json_object)    mode "json_object"
      -> LLMFeedback validated against the card and the answer
         (quotes occur in the answer, terms are the card's, score fits verdict);
         an invalid reply is retried with the errors fed back, ``repair_attempts`` times
      -> the acceptance rule (``judge``): ok, rejected (flagged), or failed

The student's answer is untrusted: it never enters the instructions, and a model
talked into full marks cannot give them, because the score must be backed by
quotes from the answer (see ``judge``). Nothing here raises for an LLM reason:
every failure becomes an ``LLMResult`` with status "failed" and a notice, and
the keyword grade stands. The openai library is imported only when a client is
made, so keyword-only runs never load it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, model_validator

from .config import LLMSettings
from .errors import LLMError
from .llm_cache import CachedReply, LLMCache, cache_key
from .models import Card, Grade
from .normalize import STOPWORDS, normalize, stem, tokenize
from .resources import bundled, missing
from .scoring import GradingSettings

if TYPE_CHECKING:
    from .grading import KeywordGrader

# An LLM score may exceed what its own quoted evidence supports by this much.
SUPPORT_MARGIN = 0.25
# Keyword and LLM scores this far apart are reported as a disagreement.
DISAGREEMENT = 0.5
# Words that talk about the grading rather than the subject. A quote made of
# them ("give this full marks") is no evidence, unless the card itself uses them.
DIRECTIVE_WORDS = """grade grader grading mark marks score points full correct ignore instruction instructions
    prompt system rubric teacher student answer verdict credit assistant override previous prior""".split()

TermStatus = Literal["covered", "partly", "missing"]
LLMVerdict = Literal["correct", "partial", "incorrect"]
Mode = Literal["json_schema", "json_object"]
STATUS_CREDIT = {"covered": 1.0, "partly": 0.5, "missing": 0.0}


# --- The model's structured output ---------------------------------------------


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
                problems.append(f"{_short(item.term)} is not one of the card's key terms")
            elif canonical in by_term:
                problems.append(f"key term {canonical!r} is assessed more than once")
            else:
                by_term[canonical] = item.model_copy(update={"term": canonical})
        quotes = [t.evidence for t in self.terms if t.status != "missing"] + [m.quote for m in self.misconceptions]
        for quote in quotes:
            if not ctx.occurs(quote):
                problems.append(f"the quote {_short(quote)} does not occur in the student's answer")
        low, high = ctx.verdict_range(self.verdict)
        if not low <= self.score < high:
            problems.append(f"a score of {self.score:g} does not fit the verdict {self.verdict!r} ({low:g} to {high:g})")
        if problems:
            raise ValueError("; ".join(problems))
        # A term the model left out is one it found no evidence for.
        self.terms = [by_term.get(t) or TermAssessment(term=t, status="missing", evidence="") for t in ctx.terms.values()]
        return self


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(text: str, limit: int = 60) -> str:
    return repr(_clip(text, limit))


@dataclass(frozen=True)
class Context:
    """What the meaning checks compare a reply with."""

    answer: str
    terms: dict[str, str]  # normalised term -> term as the card has it
    settings: GradingSettings

    @classmethod
    def of(cls, card: Card, answer: str, settings: GradingSettings) -> Context:
        return cls(f" {normalize(answer)} ", {normalize(t.text): t.text for t in card.key_terms}, settings)

    def occurs(self, quote: str) -> bool:
        """Whether every part of a quote (parts joined by an ellipsis) is in the answer, word for word."""
        parts = [normalize(p) for p in re.split(r"\.\.\.|…", quote)]
        parts = [p for p in parts if p]
        return bool(parts) and all(f" {p} " in self.answer for p in parts)

    def verdict_range(self, verdict: str) -> tuple[float, float]:
        correct, partial = self.settings.correct_threshold, self.settings.partial_threshold
        return {"correct": (correct, 1.0 + 1e-9), "partial": (partial, correct), "incorrect": (0.0, partial)}[verdict]


# --- The result of asking ------------------------------------------------------


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


def evidence_support(reply: LLMFeedback, card: Card, answer: str) -> float:
    """The score a reply's own evidence backs: covered 1, partly ½, per key term.

    A quote counts only if it occurs in the answer, has a content word, is not
    about the grading itself (``DIRECTIVE_WORDS`` that the card does not use),
    and backs no other term: one quote cited for several terms backs one of them
    (else "portability" could back all three terms of a card).
    """
    if not card.key_terms:
        return 0.0
    card_stems = {t.stem for t in tokenize(" ".join([card.question, card.answer, *(t.text for t in card.key_terms)]))}
    directive = {stem(w) for w in DIRECTIVE_WORDS} - card_stems
    ctx = Context.of(card, answer, GradingSettings())

    def valid(quote: str) -> bool:
        words = tokenize(quote)
        return (
            ctx.occurs(quote)
            and any(t.word not in STOPWORDS for t in words)
            and not any(t.stem in directive for t in words)
        )

    earned = 0.0
    used: set[str] = set()
    for t in sorted(reply.terms, key=lambda t: -STATUS_CREDIT[t.status]):
        quote = normalize(t.evidence)
        if t.status != "missing" and quote not in used and valid(t.evidence):
            earned += STATUS_CREDIT[t.status]
            used.add(quote)
    return round(earned / len(card.key_terms), 4)


def judge(
    reply: LLMFeedback, card: Card, answer: str, grade: Grade, settings: GradingSettings, **meta: Any
) -> LLMResult:
    """The acceptance rule, applied to a valid reply.

    The LLM's score is accepted only if ``score <= support + SUPPORT_MARGIN``,
    where ``support`` is what its own valid quotes back (``evidence_support``).
    So a reply with no valid quote cannot score above 0.25, let alone be
    ``correct``: a manipulated model's "full marks" is rejected, flagged
    ``unsupported-score``, and its feedback withheld. An accepted score that
    differs from the keyword score by ``DISAGREEMENT`` or more, or a correct
    against an incorrect verdict, is flagged ``disagreement``.
    """
    support = evidence_support(reply, card, answer)
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


# --- Prompts -------------------------------------------------------------------


def prompts_dir() -> Path:
    """Where the prompt files are: the repository's ``prompts/`` or the installed copy."""
    found = bundled("prompts")
    if found is None or not (found / "system.md").is_file():
        raise LLMError("the prompt files are missing from this installation", path=missing("prompts"))
    return found


@dataclass(frozen=True)
class Prompts:
    system: str
    rubric: Template
    schema: str
    version: str

    @classmethod
    def load(cls, settings: GradingSettings, directory: Path | None = None) -> Prompts:
        """The prompts, and their version: a hash of everything the model is told."""
        directory = directory or prompts_dir()
        try:
            system_t = (directory / "system.md").read_text(encoding="utf-8")
            rubric_t = (directory / "rubric.md").read_text(encoding="utf-8")
        except OSError as exc:
            raise LLMError(f"cannot read prompt file: {exc.strerror}", path=exc.filename) from None
        system = Template(system_t).substitute(
            correct=f"{settings.correct_threshold:g}", partial=f"{settings.partial_threshold:g}"
        )
        schema = json.dumps(LLMFeedback.model_json_schema(), ensure_ascii=False)
        version = hashlib.sha256("\0".join([system, rubric_t, schema]).encode()).hexdigest()[:12]
        return cls(system, Template(rubric_t), schema, version)

    def messages(self, card: Card, answer: str, grade: Grade, mode: Mode) -> list[dict[str, str]]:
        """The conversation: instructions, the rubric, then the answer alone in its own message."""
        system = self.system
        if mode == "json_object":
            system += f"\n\nThe JSON object must follow this JSON schema:\n{self.schema}\n"
        hints = []
        for t in grade.terms:
            hint = "found" if t.found else (f"partly ({t.credit:.0%})" if t.credit > 0 else "not found")
            hints.append(f"- {t.term}: {hint}")
        rubric = self.rubric.substitute(
            question=card.question or "(no question)",
            reference=re.sub(r"={2,3}(.+?)={2,3}", r"**\1**", card.answer, flags=re.DOTALL),
            terms="\n".join(f"- {t.text}" for t in card.key_terms),
            keyword="\n".join(hints) or "(none)",
        )
        # The answer cannot close its own delimiter: a tag inside it is defused
        # (brackets are punctuation, so quotes still match after normalisation).
        fenced = re.sub(r"<\s*(/?)\s*student_answer\s*>", r"[\1student_answer]", answer, flags=re.IGNORECASE)
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": rubric},
            {"role": "user", "content": f"<student_answer>\n{fenced}\n</student_answer>"},
        ]


# --- Talking to the server -----------------------------------------------------


class _Invalid(Exception):
    """A reply that can be retried with the problem fed back."""


class _Failed(Exception):
    """A request that cannot give feedback; ``fatal`` ones stop asking for the rest of the run."""

    def __init__(self, notice: str, fatal: bool = False, attempts: int = 0, usage: Usage | None = None):
        super().__init__(notice)
        self.notice = notice
        self.fatal = fatal
        self.attempts = attempts
        self.usage = usage or Usage()


def make_client(settings: LLMSettings, *, sync: bool = False) -> Any:
    """An openai client for the settings: the SDK does timeouts and retries with backoff."""
    import openai

    cls = openai.OpenAI if sync else openai.AsyncOpenAI
    # Local servers (Ollama, vLLM, llama.cpp) need no key, but the SDK insists on one.
    return cls(
        api_key=settings.key_value() or "not-needed",
        base_url=settings.base_url,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    )


def endpoint(settings: LLMSettings) -> str:
    return settings.base_url or "https://api.openai.com/v1"


def describe_api_error(exc: Exception, settings: LLMSettings) -> _Failed:
    """A one-line notice for an SDK error; the key is masked wherever it might appear."""
    import openai

    where = endpoint(settings)
    retried = f" after {settings.max_retries} retries" if settings.max_retries else ""
    server_says = ""
    if isinstance(exc, openai.APIStatusError):
        server_says = _server_message(exc)
    if isinstance(exc, openai.AuthenticationError):
        failed = _Failed(
            f"the server rejected the API key {settings.masked_key()} (HTTP 401): check OPENAI_API_KEY", fatal=True
        )
    elif isinstance(exc, openai.PermissionDeniedError):
        failed = _Failed(f"access denied by {where} (HTTP 403){server_says}", fatal=True)
    elif isinstance(exc, openai.NotFoundError):
        failed = _Failed(
            f"model {settings.model!r} not found at {where} (HTTP 404){server_says}: check --model, "
            "and that the base URL ends in /v1",
            fatal=True,
        )
    elif isinstance(exc, openai.RateLimitError):
        quota = getattr(exc, "code", None) == "insufficient_quota"
        failed = _Failed(f"rate limited by {where} (HTTP 429){retried}{server_says}", fatal=quota)
    elif isinstance(exc, openai.BadRequestError):
        failed = _Failed(f"the server refused the request (HTTP 400){server_says}")
    elif isinstance(exc, openai.APIStatusError):
        failed = _Failed(f"server error at {where} (HTTP {exc.status_code}){retried}{server_says}")
    elif isinstance(exc, openai.APITimeoutError):
        failed = _Failed(f"no reply from {where} within {settings.timeout:g} s{retried} (setting: timeout)")
    elif isinstance(exc, openai.APIConnectionError):
        failed = _Failed(f"cannot reach {where}: is the server running, and is the base URL right?", fatal=True)
    elif isinstance(exc, openai.ContentFilterFinishReasonError):
        failed = _Failed("the reply was blocked by the server's content filter")
    else:
        failed = _Failed(f"the openai library failed: {exc}")
    failed.notice = settings.redact(failed.notice)
    return failed


def _server_message(exc: Any) -> str:
    """What the server said about an error, shortened (the SDK unwraps ``{"error": ...}``)."""
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else body if isinstance(body, str) else None
    return f' (server: "{_clip(str(message), 120)}")' if message else ""


def _quiet_about_interrupts(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A task that Ctrl-C stopped is not an error to report; anything else is."""
    if isinstance(context.get("exception"), (KeyboardInterrupt, asyncio.CancelledError)):
        return
    loop.default_exception_handler(context)


class FeedbackClient:
    """Asks for feedback on graded answers, one at a time or as a concurrent batch.

    ``client`` is an openai ``AsyncOpenAI`` (or anything with its interface);
    by default one is made from the settings. ``cache`` None means no caching.
    """

    def __init__(
        self,
        settings: LLMSettings,
        *,
        client: Any = None,
        cache: LLMCache | None = None,
        grading: GradingSettings | None = None,
        prompts: Prompts | None = None,
    ):
        self.settings = settings
        self.grading = grading or GradingSettings()
        self.cache = cache
        self.mode: Mode = "json_schema"
        self.totals = Totals()
        self.notices: list[str] = []  # one each, for the user, in order of first appearance
        self.disabled: str | None = None
        self._client = client
        self._own_client = client is None  # a client we were given is the caller's to close
        self._loop: asyncio.AbstractEventLoop | None = None
        try:
            self.prompts = prompts or Prompts.load(self.grading)
        except LLMError as exc:
            self.prompts = Prompts("", Template(""), "", "missing")
            self._disable(str(exc))
        if not settings.key_value() and not settings.base_url:
            self._disable("no OPENAI_API_KEY is set and no base URL names a local server")

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    def _disable(self, notice: str) -> None:
        self.disabled = f"LLM feedback off: {notice}"
        self._notice(self.disabled)

    def _notice(self, notice: str) -> None:
        if notice not in self.notices:
            self.notices.append(notice)

    # -- one answer

    def feedback(self, card: Card, answer: str, grade: Grade) -> LLMResult | None:
        """Feedback on one answer (blocking); None when there is nothing to ask (a non-answer, an image card)."""
        return self._event_loop().run_until_complete(self.afeedback(card, answer, grade))

    async def afeedback(self, card: Card, answer: str, grade: Grade) -> LLMResult | None:
        if not card.gradable or not answer.strip() or not grade.answered:
            return None  # nothing to grade: an image card, or "I don't know" (the reference says it all)
        meta = {"model": self.settings.model, "prompt_version": self.prompts.version}
        ctx = Context.of(card, answer, self.grading)
        key = cache_key(self.settings.model, endpoint(self.settings), self.prompts.version, card, answer)
        hit = self._cache_get(key)
        if hit is not None:
            try:
                reply = LLMFeedback.model_validate_json(hit.output, context={"grading": ctx})
            except ValidationError:
                pass  # stale or damaged entry: ask again
            else:
                usage = Usage(prompt_tokens=hit.prompt_tokens, completion_tokens=hit.completion_tokens)
                return self._count(
                    judge(reply, card, answer, grade, self.grading, mode=hit.mode, cached=True, usage=usage, **meta)
                )
        if self.disabled:
            return self._count(LLMResult(status="failed", notice=self.disabled, **meta))
        try:
            reply, mode, usage, attempts = await self._ask(card, answer, grade, ctx)
        except _Failed as exc:
            if exc.fatal:
                self._disable(exc.notice)
            return self._count(
                LLMResult(
                    status="failed",
                    notice=self.disabled if exc.fatal else f"LLM feedback skipped: {exc.notice}",
                    attempts=exc.attempts,
                    usage=exc.usage,
                    cost=self._cost(exc.usage),
                    **meta,
                )
            )
        cost = self._cost(usage)
        self._cache_put(key, card, CachedReply(reply.model_dump_json(), mode, usage.prompt_tokens, usage.completion_tokens))
        return self._count(
            judge(reply, card, answer, grade, self.grading, mode=mode, usage=usage, attempts=attempts, cost=cost, **meta)
        )

    async def _ask(self, card: Card, answer: str, grade: Grade, ctx: Context) -> tuple[LLMFeedback, Mode, Usage, int]:
        """A valid reply, asking again with the problems fed back; or _Failed."""
        spent = Usage()
        problems = ""
        attempt = 0
        while attempt <= self.settings.repair_attempts:
            attempt += 1
            messages = self.prompts.messages(card, answer, grade, self.mode)
            if problems:
                messages.append(
                    {
                        "role": "user",
                        "content": f"Your previous reply could not be used: {problems}. "
                        "Reply again with the complete JSON object, following the rules.",
                    }
                )
            try:
                content, mode, used = await self._complete(messages)
                spent += used
                reply = LLMFeedback.model_validate_json(_unfence(content), context={"grading": ctx})
                return reply, mode, spent, attempt
            except _Invalid as exc:
                problems = str(exc)
            except ValidationError as exc:
                problems = _problems(exc)
            except _Failed as exc:
                exc.attempts, exc.usage = attempt, spent + exc.usage
                raise
        tries = f"{attempt} tries" if attempt > 1 else "1 try"
        raise _Failed(f"no valid reply in {tries} (last problem: {problems})", attempts=attempt, usage=spent)

    async def _complete(self, messages: list[dict[str, str]]) -> tuple[str, Mode, Usage]:
        """The reply's JSON text, the mode it was asked in, and the tokens used."""
        import openai

        if self.mode == "json_schema":
            try:
                completion = await self.client.chat.completions.parse(
                    model=self.settings.model, messages=messages, response_format=LLMFeedback
                )
            except openai.BadRequestError as exc:
                # Most likely a server without json_schema: try JSON mode once; it
                # becomes the mode for the rest of the run only if it works.
                try:
                    result = await self._complete_json_object(messages)
                except _Failed:
                    raise describe_api_error(exc, self.settings) from None
                self.mode = "json_object"
                self._notice(f"{endpoint(self.settings)} does not support json_schema: using JSON mode")
                return result
            except ValidationError as exc:  # the SDK's own parse: not even the schema
                raise _Invalid(_problems(exc)) from None
            except openai.LengthFinishReasonError as exc:
                raise _Failed("the reply was cut off at the model's token limit", usage=_usage(exc.completion)) from None
            except openai.OpenAIError as exc:
                raise describe_api_error(exc, self.settings) from None
            message = completion.choices[0].message
            if message.refusal:
                raise _Failed(f"the model refused: {_clip(message.refusal, 100)}", usage=_usage(completion))
            if not message.content:
                raise _Invalid("the reply was empty")
            return message.content, "json_schema", _usage(completion)
        return await self._complete_json_object(messages)

    async def _complete_json_object(self, messages: list[dict[str, str]]) -> tuple[str, Mode, Usage]:
        import openai

        try:
            completion = await self.client.chat.completions.create(
                model=self.settings.model, messages=messages, response_format={"type": "json_object"}
            )
        except openai.OpenAIError as exc:
            raise describe_api_error(exc, self.settings) from None
        choice = completion.choices[0]
        if choice.finish_reason == "length":
            raise _Failed("the reply was cut off at the model's token limit", usage=_usage(completion))
        if getattr(choice.message, "refusal", None):
            raise _Failed(f"the model refused: {_clip(choice.message.refusal, 100)}", usage=_usage(completion))
        if not choice.message.content:
            raise _Invalid("the reply was empty")
        return choice.message.content, "json_object", _usage(completion)

    # -- many answers

    def iter_feedback(
        self, items: Sequence[tuple[Card, str, Grade]], on_progress: Callable[[], None] | None = None
    ) -> Iterator[LLMResult | None]:
        """Feedback on many answers, ``concurrency`` requests at a time, yielded in
        input order, each as soon as it and every one before it are final."""
        loop = self._event_loop()
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(card: Card, answer: str, grade: Grade) -> LLMResult | None:
            async with gate:
                result = await self.afeedback(card, answer, grade)
            if on_progress:
                on_progress()
            return result

        tasks = [loop.create_task(one(*item)) for item in items]
        try:
            for task in tasks:
                yield loop.run_until_complete(task)
        finally:
            pending = [task for task in tasks if not task.done()]
            for task in pending:
                task.cancel()
            if pending and not loop.is_closed():
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            # A Ctrl-C can land inside a task: reap it, or asyncio logs it as a traceback at exit.
            for task in tasks:
                if task.done() and not task.cancelled():
                    task.exception()

    def feedback_many(
        self,
        items: Sequence[tuple[Card, str, Grade]],
        on_result: Callable[[int, LLMResult | None], None] | None = None,
        on_progress: Callable[[], None] | None = None,
    ) -> list[LLMResult | None]:
        """All of ``iter_feedback`` as a list; ``on_result(i, result)`` as each is yielded."""
        results = []
        for i, result in enumerate(self.iter_feedback(items, on_progress)):
            if on_result:
                on_result(i, result)
            results.append(result)
        return results

    # -- plumbing

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        # One loop for the client's lifetime: the async HTTP client is bound to it.
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._loop.set_exception_handler(_quiet_about_interrupts)
        return self._loop

    def close(self) -> None:
        if self._loop is not None:
            self._loop.run_until_complete(self._shutdown())
            self._loop.close()
            self._loop = None
        if self.cache is not None:
            self.cache.close()

    async def _shutdown(self) -> None:
        # After Ctrl-C a batch's requests are still pending: end them first.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._own_client and self._client is not None:
            await self._client.close()

    def __enter__(self) -> FeedbackClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _cache_get(self, key: str) -> CachedReply | None:
        if self.cache is None or not self.settings.cache:
            return None
        try:
            return self.cache.get(key)
        except sqlite3.Error as exc:
            self._cache_broken(exc)
            return None

    def _cache_put(self, key: str, card: Card, reply: CachedReply) -> None:
        if self.cache is None or not self.settings.cache:
            return
        try:
            self.cache.put(
                key,
                model=self.settings.model,
                base_url=endpoint(self.settings),
                prompt_version=self.prompts.version,
                card=card.id,
                reply=reply,
            )
        except sqlite3.Error as exc:
            self._cache_broken(exc)

    def _cache_broken(self, exc: sqlite3.Error) -> None:
        self._notice(f"LLM cache off: {self.cache.path}: {exc}")  # type: ignore[union-attr]
        self.cache = None

    def _cost(self, usage: Usage) -> float | None:
        price = self.settings.price()
        return price.cost(usage.prompt_tokens, usage.completion_tokens) if price else None

    def _count(self, result: LLMResult) -> LLMResult:
        self.totals.add(result)
        return result


def _usage(completion: Any) -> Usage:
    u = getattr(completion, "usage", None)
    if u is None:
        return Usage()
    return Usage(prompt_tokens=u.prompt_tokens or 0, completion_tokens=u.completion_tokens or 0)


def _unfence(content: str) -> str:
    """The JSON inside a markdown code fence, which small local models like to add."""
    fenced = re.fullmatch(r"\s*```(?:json)?\s*(.*?)\s*```\s*", content, flags=re.DOTALL)
    return fenced.group(1) if fenced else content


def _problems(exc: ValidationError) -> str:
    """Validation errors as one line the model can act on."""
    lines = []
    for err in exc.errors()[:8]:
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)[:1500]


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


# --- grader llm check ------------------------------------------------------------


class _Ping(BaseModel):
    ok: bool = Field(description="Always true.")


@dataclass(frozen=True)
class CheckLine:
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {'ok' if self.ok else 'FAILED'}, {self.detail}"


def check_endpoint(settings: LLMSettings, client: Any = None) -> list[CheckLine]:
    """Whether the endpoint answers, the model exists, and structured output works."""
    import openai

    where = endpoint(settings)
    if not settings.key_value() and not settings.base_url:
        return [CheckLine("endpoint", False, "no OPENAI_API_KEY is set and no base URL names a local server")]
    client = client or make_client(settings, sync=True)
    lines: list[CheckLine] = []
    try:
        served = [m.id for m in client.models.list()]
        lines.append(CheckLine("endpoint", True, f"{where} answers (key {settings.masked_key()})"))
    except openai.NotFoundError:
        served = None
        lines.append(CheckLine("endpoint", True, f"{where} answers, but cannot list its models"))
    except openai.OpenAIError as exc:
        return [CheckLine("endpoint", False, describe_api_error(exc, settings).notice)]
    if served is None:
        lines.append(CheckLine("model", True, f"{settings.model!r}: not listed; the request below tells"))
    elif settings.model in served:
        lines.append(CheckLine("model", True, f"{settings.model!r} is served"))
    else:
        others = ", ".join(served[:5]) + (", ..." if len(served) > 5 else "")
        lines.append(CheckLine("model", False, f"{settings.model!r} is not served here (available: {others or 'none'})"))
        return lines
    messages = [{"role": "user", "content": 'Reply with the JSON object {"ok": true}.'}]
    try:
        reply = client.chat.completions.parse(model=settings.model, messages=messages, response_format=_Ping)
        works = reply.choices[0].message.parsed is not None
        lines.append(CheckLine("structured output", works, "json_schema" if works else "json_schema reply unusable"))
    except openai.BadRequestError:
        try:
            reply = client.chat.completions.create(
                model=settings.model, messages=messages, response_format={"type": "json_object"}
            )
            _Ping.model_validate_json(reply.choices[0].message.content or "")
            lines.append(CheckLine("structured output", True, "json_object only (no json_schema): JSON mode is used"))
        except (openai.OpenAIError, ValidationError) as exc:
            detail = describe_api_error(exc, settings).notice if isinstance(exc, openai.OpenAIError) else "invalid JSON"
            lines.append(CheckLine("structured output", False, f"neither json_schema nor JSON mode works ({detail})"))
    except (openai.OpenAIError, ValidationError) as exc:
        detail = describe_api_error(exc, settings).notice if isinstance(exc, openai.OpenAIError) else "invalid JSON"
        lines.append(CheckLine("structured output", False, detail))
    return lines


def grade_all(
    pairs: Iterable[tuple[Card, str]],
    keyword: KeywordGrader,
    client: FeedbackClient | None = None,
    on_progress: Callable[[], None] | None = None,
) -> Iterator[tuple[Grade, LLMResult | None]]:
    """Keyword grades in input order, each with its LLM feedback when there is a client.

    Without a client each grade is yielded as soon as it is computed.
    """
    if client is None:
        for card, answer in pairs:
            yield keyword.grade(card, answer), None
        return
    pairs = list(pairs)
    grades = [keyword.grade(card, answer) for card, answer in pairs]
    items = [(card, answer, grade) for (card, answer), grade in zip(pairs, grades)]
    yield from zip(grades, client.iter_feedback(items, on_progress))


def open_feedback_client(settings: LLMSettings, grading: GradingSettings | None = None) -> FeedbackClient:
    """A FeedbackClient with the user's cache (unless ``settings.cache`` is off)."""
    from .config import data_dir
    from .llm_cache import CACHE_FILE

    cache = None
    if settings.cache:
        try:
            cache = LLMCache(data_dir() / CACHE_FILE)
        except (sqlite3.Error, OSError) as exc:
            client = FeedbackClient(settings, grading=grading)
            client._notice(f"LLM cache off: {data_dir() / CACHE_FILE}: {exc}")
            return client
    return FeedbackClient(settings, cache=cache, grading=grading)
