"""Asking an OpenAI-compatible server for rubric feedback: the only module that imports openai.

One answer goes through these steps:

    messages (prompts.py): system prompt | rubric | the student's answer, alone, in <student_answer> tags
      -> chat.completions.parse(response_format=<LLMFeedback's JSON schema>)   mode "json_schema"
         or, when the server rejects json_schema (HTTP 400),
         chat.completions.create(response_format=json_object)                 mode "json_object"
      -> LLMFeedback validated against the card and the answer (schema.py, with its Context);
         an invalid reply is asked for again with the errors fed back (reply.py)
      -> the acceptance rule (judge.py): ok, rejected (flagged), or failed

Nothing here raises for an LLM reason: every failure becomes an ``LLMResult``
with status "failed" and a notice, and the keyword grade stands. openai is
imported inside functions, only once a request is made, so keyword-only runs
never load it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from string import Template
from typing import Any, TypeVar

from pydantic import ValidationError

from ..config import LLMSettings
from ..errors import CacheError, LLMError
from ..models import Card, Grade
from ..scoring import GradingSettings
from .cache import CACHE_FILE, CachedReply, LLMCache, cache_key
from .judge import judge
from .prompts import Prompts
from .reply import CUT_OFF, RequestFailed, ask_until_valid, check_schema, reply_text
from .runner import LoopRunner
from .schema import Context, LLMFeedback, LLMResult, Mode, Totals, Usage, one_line

T = TypeVar("T")


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


def describe_api_error(exc: Exception, settings: LLMSettings) -> RequestFailed:
    """A one-line notice for an SDK error; the key is masked wherever it might appear."""
    import openai

    where = endpoint(settings)
    retried = f" after {settings.max_retries} retries" if settings.max_retries else ""
    server_says = ""
    if isinstance(exc, openai.APIStatusError):
        server_says = _server_message(exc)
    if isinstance(exc, openai.AuthenticationError):
        failed = RequestFailed(
            f"the server rejected the API key {settings.masked_key()} (HTTP 401): check OPENAI_API_KEY", fatal=True
        )
    elif isinstance(exc, openai.PermissionDeniedError):
        failed = RequestFailed(f"access denied by {where} (HTTP 403){server_says}", fatal=True)
    elif isinstance(exc, openai.NotFoundError):
        failed = RequestFailed(
            f"model {settings.model!r} not found at {where} (HTTP 404){server_says}: check --model, "
            "and that the base URL ends in /v1",
            fatal=True,
        )
    elif isinstance(exc, openai.RateLimitError):
        quota = getattr(exc, "code", None) == "insufficient_quota"
        failed = RequestFailed(f"rate limited by {where} (HTTP 429){retried}{server_says}", fatal=quota)
    elif isinstance(exc, openai.BadRequestError):
        failed = RequestFailed(f"the server refused the request (HTTP 400){server_says}")
    elif isinstance(exc, openai.APIStatusError):
        failed = RequestFailed(f"server error at {where} (HTTP {exc.status_code}){retried}{server_says}")
    elif isinstance(exc, openai.APITimeoutError):
        failed = RequestFailed(f"no reply from {where} within {settings.timeout:g} s{retried} (setting: timeout)")
    elif isinstance(exc, openai.APIConnectionError):
        failed = RequestFailed(f"cannot reach {where}: is the server running, and is the base URL right?", fatal=True)
    elif isinstance(exc, openai.ContentFilterFinishReasonError):
        failed = RequestFailed("the reply was blocked by the server's content filter")
    else:
        failed = RequestFailed(f"the openai library failed: {exc}")
    failed.notice = settings.redact(failed.notice)
    failed.status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
    return failed


def _server_message(exc: Any) -> str:
    """What the server said about an error, shortened (the SDK unwraps ``{"error": ...}``)."""
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else body if isinstance(body, str) else None
    return f' (server: "{one_line(str(message), 120)}")' if message else ""


def sdk_request(settings: LLMSettings, request: Callable[[], T]) -> T:
    """One blocking request through the SDK; an SDK error is raised as a ``RequestFailed`` that says what went wrong."""
    import openai

    try:
        return request()
    except openai.OpenAIError as exc:
        raise describe_api_error(exc, settings) from None


class FeedbackClient:
    """Asks for feedback on graded answers, one at a time or as a concurrent batch.

    ``grading`` is the settings the keyword grades were made with: the prompt
    states their thresholds and replies are checked against them. ``client`` is
    an openai ``AsyncOpenAI`` (or anything with its interface); by default one
    is made from the settings. ``cache`` None means no caching.
    """

    def __init__(
        self,
        settings: LLMSettings,
        grading: GradingSettings,
        *,
        client: Any = None,
        cache: LLMCache | None = None,
        prompts: Prompts | None = None,
    ):
        self.settings = settings
        self.grading = grading
        self.cache = cache
        self.mode: Mode = "json_schema"
        self.totals = Totals()
        self.notices: list[str] = []  # one each, for the user, in order of first appearance
        self.disabled: str | None = None
        self._client = client
        self._own_client = client is None  # a client we were given is the caller's to close
        self._runner = LoopRunner()
        try:
            self.prompts = prompts or Prompts.load(grading)
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

    @property
    def prompt_version(self) -> str:
        """The hash of everything the model is told (``Prompts.version``), for a run's record."""
        return self.prompts.version

    @cached_property
    def _json_schema_format(self) -> Any:
        """The json_schema response format, built once: given LLMFeedback itself, the SDK rebuilds it every request."""
        from openai.lib._parsing import type_to_response_format_param  # what parse() itself calls

        return type_to_response_format_param(LLMFeedback)

    def _disable(self, notice: str) -> None:
        self.disabled = f"LLM feedback off: {notice}"
        self._notice(self.disabled)

    def _notice(self, notice: str) -> None:
        if notice not in self.notices:
            self.notices.append(notice)

    # -- one answer

    def feedback(self, card: Card, answer: str, grade: Grade) -> LLMResult | None:
        """Feedback on one answer (blocking); None when there is nothing to ask (a non-answer, an image card)."""
        return self._runner.run(self.afeedback(card, answer, grade))

    def is_cached(self, card: Card, answer: str, grade: Grade) -> bool:
        """Whether ``feedback`` would find a stored reply for this answer rather than ask the server."""
        return _worth_asking(card, answer, grade) and self._cache_get(self._cache_key(card, answer)) is not None

    def messages_for(self, card: Card, answer: str, grade: Grade) -> list[dict[str, str]]:
        """The messages a request for this answer sends (in the current mode), e.g. to estimate its tokens."""
        return self.prompts.messages(card, answer, grade, self.mode)

    async def afeedback(self, card: Card, answer: str, grade: Grade) -> LLMResult | None:
        if not _worth_asking(card, answer, grade):
            return None
        meta = {"model": self.settings.model, "prompt_version": self.prompts.version}
        ctx = Context.of(card, answer, self.grading)
        key = self._cache_key(card, answer)
        hit = self._cache_get(key)
        if hit is not None:
            try:
                reply = LLMFeedback.model_validate_json(hit.output, context={"grading": ctx})
            except ValidationError:
                pass  # stale or damaged entry: ask again
            else:
                usage = Usage(prompt_tokens=hit.prompt_tokens, completion_tokens=hit.completion_tokens)
                return self._count(judge(reply, card, answer, grade, mode=hit.mode, cached=True, usage=usage, **meta))
        if self.disabled:
            return self._count(LLMResult(status="failed", notice=self.disabled, **meta))
        try:
            reply, mode, usage, attempts = await ask_until_valid(
                self._complete, lambda: self.messages_for(card, answer, grade), ctx, self.settings.repair_attempts
            )
        except RequestFailed as exc:
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
        return self._count(judge(reply, card, answer, grade, mode=mode, usage=usage, attempts=attempts, cost=cost, **meta))

    async def _complete(self, messages: list[dict[str, str]]) -> tuple[str, Mode, Usage]:
        """The reply's JSON text, the mode it was asked in, and the tokens used."""
        import openai

        if self.mode == "json_schema":
            try:
                completion = await self.client.chat.completions.parse(
                    model=self.settings.model, messages=messages, response_format=self._json_schema_format
                )
            except openai.BadRequestError as exc:
                # Most likely a server without json_schema: try JSON mode once; it
                # becomes the mode for the rest of the run only if it works.
                try:
                    result = await self._complete_json_object(messages)
                except RequestFailed:
                    raise describe_api_error(exc, self.settings) from None
                self.mode = "json_object"
                self._notice(f"{endpoint(self.settings)} does not support json_schema: using JSON mode")
                return result
            except openai.LengthFinishReasonError as exc:
                raise RequestFailed(CUT_OFF, usage=Usage.of(exc.completion)) from None
            except openai.OpenAIError as exc:
                raise describe_api_error(exc, self.settings) from None
            return check_schema(reply_text(completion)), "json_schema", Usage.of(completion)
        return await self._complete_json_object(messages)

    async def _complete_json_object(self, messages: list[dict[str, str]]) -> tuple[str, Mode, Usage]:
        import openai

        try:
            completion = await self.client.chat.completions.create(
                model=self.settings.model, messages=messages, response_format={"type": "json_object"}
            )
        except openai.OpenAIError as exc:
            raise describe_api_error(exc, self.settings) from None
        if completion.choices[0].finish_reason == "length":
            raise RequestFailed(CUT_OFF, usage=Usage.of(completion))
        return reply_text(completion), "json_object", Usage.of(completion)

    # -- many answers

    def iter_feedback(
        self, items: Sequence[tuple[Card, str, Grade]], on_progress: Callable[[], None] | None = None
    ) -> Iterator[LLMResult | None]:
        """Feedback on many answers, ``concurrency`` requests at a time, yielded in
        input order, each as soon as it and every one before it are final."""
        return self._runner.in_order(self.afeedback, items, self.settings.concurrency, on_progress)

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

    def close(self) -> None:
        self._runner.close(self._close_own_client)
        if self.cache is not None:
            self.cache.close()

    async def _close_own_client(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.close()

    def __enter__(self) -> FeedbackClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _cache_key(self, card: Card, answer: str) -> str:
        return cache_key(self.settings.model, endpoint(self.settings), self.prompts.version, card, answer)

    def _cache_get(self, key: str) -> CachedReply | None:
        if self.cache is None or not self.settings.cache:
            return None
        try:
            return self.cache.get(key)
        except CacheError as exc:
            self._cache_off(exc)
            return None

    def _cache_put(self, key: str, card: Card, reply: CachedReply) -> None:
        if self.cache is None or not self.settings.cache:
            return
        try:
            model, where, version = self.settings.model, endpoint(self.settings), self.prompts.version
            self.cache.put(key, model=model, base_url=where, prompt_version=version, card=card.id, reply=reply)
        except CacheError as exc:
            self._cache_off(exc)

    def _cache_off(self, exc: CacheError) -> None:
        self._notice(f"LLM cache off: {exc}")  # the error names the cache file
        self.cache = None

    def _cost(self, usage: Usage) -> float | None:
        price = self.settings.price()
        return price.cost(usage.prompt_tokens, usage.completion_tokens) if price else None

    def _count(self, result: LLMResult) -> LLMResult:
        self.totals.add(result)
        return result


def _worth_asking(card: Card, answer: str, grade: Grade) -> bool:
    """False for an image card or a non-answer ("I don't know"): the reference says it all, at no cost."""
    return card.gradable and bool(answer.strip()) and grade.answered


def open_feedback_client(settings: LLMSettings, grading: GradingSettings) -> FeedbackClient:
    """A FeedbackClient with the user's cache (unless ``settings.cache`` is off)."""
    from ..config import data_dir

    try:
        cache = LLMCache(data_dir() / CACHE_FILE) if settings.cache else None
    except CacheError as exc:
        client = FeedbackClient(settings, grading)
        client._cache_off(exc)
        return client
    return FeedbackClient(settings, grading, cache=cache)
