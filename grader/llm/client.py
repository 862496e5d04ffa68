"""Asking an OpenAI-compatible server for rubric feedback: the only module that imports openai.

One answer goes through these steps:

    messages (prompts.py): system prompt | one user message: rubric, graded examples, the fenced answer
      -> chat.completions.create(response_format=<the card's bounded JSON schema>, max_tokens=<from the card>)
                                                                                mode "json_schema"
         or, for an endpoint that has said it lacks json_schema (endpoint.py), response_format=json_object
                                                                                mode "json_object"
      -> the raw body read as a chat completion (reply.py: an HTML page is a notice, not a crash)
      -> LLMFeedback validated against the card and the answer (schema.py, with its Context);
         an invalid reply is asked for again with the errors fed back (reply.py)
      -> the acceptance rule (judge.py, support.py): ok, rejected (flagged), or failed

What an endpoint lacks (json_schema, a system role, max_tokens) is learnt from
its error's content, whatever the status, and remembered per endpoint
(endpoint.py; across runs in the cache). Every HTTP attempt is bounded as a
whole by the timeout: a server trickling a byte at a time cannot hold a run.

Nothing here raises for an LLM reason: every failure becomes an ``LLMResult``
with status "failed" and a notice (secrets masked, then cut), and the keyword
grade stands. openai is imported inside functions, only once a request is made,
so keyword-only runs never load it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Generator, Sequence
from string import Template
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import ValidationError

from ..config import LLMSettings
from ..errors import CacheError, LLMError
from ..models import Card, Grade
from ..scoring import GradingSettings
from .cache import CACHE_FILE, CachedReply, LLMCache, cache_key
from .endpoint import EndpointInfo, Lesson, is_local, lesson_from_error, probe_slots
from .judge import judge
from .prompts import Example, Prompts
from .reply import Messages, RequestFailed, ask_until_valid, read_completion, reply_text
from .runner import LoopRunner
from .schema import Context, LLMFeedback, LLMResult, Mode, Totals, Usage, max_reply_tokens, request_schema
from .secrets import mask_secrets, server_cause, shown_url
from .support import QuoteSupport, Similarity

# What was learnt about endpoints in this process, by (base URL, model).
_KNOWN_ENDPOINTS: dict[tuple[str, str], EndpointInfo] = {}


class ExampleSource(Protocol):
    """Graded answers to show the model beside an answer (few-shot): ``evaluation`` builds one from --train."""

    def nearest(self, card: Card, answer: str) -> list[Example]: ...


def make_client(settings: LLMSettings) -> Any:
    """An async openai client for the settings: the SDK retries with backoff; each HTTP attempt is bounded as a whole."""
    import openai

    # Local servers (Ollama, vLLM, llama.cpp) need no key, but the SDK insists on one.
    return openai.AsyncOpenAI(
        api_key=settings.key_value() or "not-needed",
        base_url=settings.base_url,
        timeout=settings.timeout,
        max_retries=sdk_retries(settings),
        http_client=_bounded_http_client(settings.timeout),
    )


def sdk_retries(settings: LLMSettings) -> int:
    """The SDK's retries: the setting; but none for a local server unless set (a local server that timed out
    will time out again, and its 429s and 5xx are rare: a slow model retried twice makes a run three times as long)."""
    if settings.sources.get("max_retries") == "default" and is_local(settings.base_url):
        return 0
    return settings.max_retries


def _bounded_http_client(seconds: float) -> Any:
    """The SDK's own async HTTP client, with each request (headers and the whole body) bounded by ``seconds``.

    httpx's timeouts bound each read, so a server that trickles a byte every
    0.2 s never trips a 2 s timeout; this bounds the reply as a whole and
    reports it as the timeout the SDK already knows how to retry and describe.
    """
    import httpx2
    import openai

    class BoundedAsyncClient(openai.DefaultAsyncHttpxClient):
        async def send(self, request: Any, **kwargs: Any) -> Any:
            try:
                return await asyncio.wait_for(self._send_capped(request, **kwargs), seconds)
            except asyncio.TimeoutError:
                raise httpx2.ReadTimeout(f"no complete reply within {seconds:g} s", request=request) from None

        async def _send_capped(self, request: Any, *, stream: bool = False, **kwargs: Any) -> Any:
            """The reply read as its bytes arrive, up to MAX_REPLY_BYTES once decoded: a body that never ends
            (or a small gzip that inflates to gigabytes) was held in memory until the timeout. A provider
            batch's output file (``/files/``) is the one reply allowed to be large."""
            response = await super().send(request, stream=True, **kwargs)
            if stream:
                return response
            if "/files/" in request.url.path:
                await response.aread()
                return response
            body = bytearray()
            try:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_REPLY_BYTES:
                        raise ReplyTooLarge(f"the server's reply is over {MAX_REPLY_BYTES >> 20} MB: not a chat completion")
            finally:
                await response.aclose()
            headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
            read = httpx2.Response(
                response.status_code, headers=headers, content=bytes(body), request=request, extensions=response.extensions
            )
            read.elapsed = response.elapsed
            return read

    # Redirects are not followed: a 307 to another host would send it the rubric and the student's answer.
    return BoundedAsyncClient(timeout=seconds, follow_redirects=False)


# A chat completion is a few KB (the token cap bounds it); a models list, tens of KB.
MAX_REPLY_BYTES = 8 << 20


class ReplyTooLarge(Exception):
    """A reply past ``MAX_REPLY_BYTES``; not an httpx error, so the SDK neither retries it nor hides its message."""


def endpoint(settings: LLMSettings) -> str:
    """The endpoint as shown, stored and keyed: credentials in the base URL are masked (``shown_url``)."""
    return shown_url(settings.base_url or "https://api.openai.com/v1")


def describe_api_error(exc: Exception, settings: LLMSettings) -> RequestFailed:
    """A one-line notice for an SDK error: secrets masked first, then the server's message cut so its cause shows."""
    import openai

    where = endpoint(settings)
    retries = sdk_retries(settings)
    retried = f" after {retries} retries" if retries else ""
    server_says = ""
    if isinstance(exc, openai.APIStatusError):
        server_says = _server_message(exc, settings)
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
    elif isinstance(exc, openai.APIStatusError) and 300 <= exc.status_code < 400:
        to = _redirect_target(exc.response.headers.get("location", ""))
        failed = RequestFailed(
            f"{where} redirects{to} (HTTP {exc.status_code}): redirects are not followed, set the base URL to the server itself",
            fatal=True,
        )
    elif isinstance(exc, openai.BadRequestError):
        failed = RequestFailed(f"the server refused the request (HTTP 400){server_says}")
    elif isinstance(exc, openai.APIStatusError):
        failed = RequestFailed(f"server error at {where} (HTTP {exc.status_code}){retried}{server_says}")
    elif isinstance(exc, openai.APITimeoutError):
        failed = RequestFailed(f"no reply from {where} within {settings.timeout:g} s{retried} (setting: timeout)", timed_out=True)
    elif isinstance(exc, openai.APIConnectionError) and _refused(exc):
        failed = RequestFailed(f"cannot reach {where}: is the server running, and is the base URL right?", fatal=True)
    elif isinstance(exc, openai.APIConnectionError):
        cause = type(exc.__cause__).__name__ if exc.__cause__ else "connection error"
        failed = RequestFailed(f"the connection to {where} broke off{retried} ({cause})")
    elif isinstance(exc, openai.ContentFilterFinishReasonError):
        failed = RequestFailed("the reply was blocked by the server's content filter")
    else:
        failed = RequestFailed(f"the openai library failed: {server_cause(mask_secrets(str(exc), settings.key_value()), 200)}")
    failed.notice = mask_secrets(failed.notice, settings.key_value())
    failed.status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
    return failed


def _redirect_target(location: str) -> str:
    """Where a redirect points, as " to scheme://host:port" (no credentials, path or query); "" if it cannot say."""
    try:
        target = urlsplit(location)
    except ValueError:
        return ""
    host = target.netloc.rsplit("@", 1)[-1]
    return f" to {target.scheme}://{host}" if target.scheme and host else ""


def _refused(exc: BaseException) -> bool:
    """Whether a connection error is the server not being there at all (refused, no such host), not a broken reply."""
    import httpx2

    seen = exc
    while seen is not None:
        if isinstance(seen, (httpx2.ConnectError, ConnectionRefusedError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def error_text(exc: Any) -> str:
    """Everything an SDK status error carries from the server, as text (for masking and for ``lesson_from_error``)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        message = body.get("message")
        text = message if isinstance(message, str) else json.dumps(body, ensure_ascii=False)
    elif isinstance(body, str):
        text = body
    else:
        text = ""
    if not text:
        response = getattr(exc, "response", None)
        try:
            text = response.text if response is not None else ""
        except Exception:  # noqa: BLE001 - a body that cannot be read says nothing
            text = ""
    return text


def _server_message(exc: Any, settings: LLMSettings) -> str:
    """What the server said about an error: masked, then cut with its cause kept."""
    message = error_text(exc)
    if not message.strip():
        return ""
    return f' (server: "{server_cause(mask_secrets(message, settings.key_value()), 240)}")'


# A server that takes connections and never answers would cost the whole timeout for every answer left (two hours
# for 117 answers at 60 s): after this many requests in a row with no reply in time, feedback is off for the run.
TIMEOUTS_BEFORE_OFF = 3


class FeedbackClient:
    """Asks for feedback on graded answers, one at a time or as a concurrent batch.

    ``grading`` is the settings the keyword grades were made with: the prompt
    states their thresholds and replies are checked against them. ``client`` is
    an openai ``AsyncOpenAI`` (or anything with its interface); by default one
    is made from the settings. ``cache`` None means no caching. ``similarity``
    is the meaning check for quotes (``support.py``: the semantic tier's
    ``similarity`` once it exists); ``examples`` gives graded answers to show
    the model (few-shot).
    """

    def __init__(
        self,
        settings: LLMSettings,
        grading: GradingSettings,
        *,
        client: Any = None,
        cache: LLMCache | None = None,
        prompts: Prompts | None = None,
        similarity: Similarity | None = None,
        examples: ExampleSource | None = None,
    ):
        self.settings = settings
        self.grading = grading
        self.cache = cache
        # With a price, a run that paid nothing (every answer cached) costs $0, not an unknown sum.
        self.totals = Totals(cost=0.0 if settings.price() else None)
        self.notices: list[str] = []  # one each, for the user, in order of first appearance
        self.disabled: str | None = None
        self.last_failure: RequestFailed | None = None  # why the latest request gave no reply (llm check says)
        self._timeouts_in_a_row = 0  # requests with no reply in time since the last reply (see TIMEOUTS_BEFORE_OFF)
        self.support = QuoteSupport(grading, similarity)
        self.examples = examples
        self._client = client
        self._own_client = client is None  # a client we were given is the caller's to close
        self._runner = LoopRunner()
        self._plain_format: Any = None  # the plain json_schema response format, built once
        self._preloaded: dict[str, CachedReply] = {}  # replies from a provider batch, by cache key
        self._preload_discount = 1.0
        self._concurrency: int | None = None
        self.info = self._endpoint_info()
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

    @property
    def mode(self) -> Mode:
        """How replies are asked for at this endpoint: json_schema, or JSON mode where it lacks it."""
        return "json_schema" if self.info.json_schema else "json_object"

    @property
    def concurrency(self) -> int:
        """Requests in flight in a batch: the setting, but 1 for a local server that reports one slot (unless set)."""
        if self._concurrency is None:
            wanted = self.settings.concurrency
            if wanted > 1 and self.settings.sources.get("concurrency", "default") == "default" and not self.disabled:
                slots = probe_slots(self.settings.base_url)
                if slots is not None and slots < wanted:
                    self._notice(
                        f"{endpoint(self.settings)} serves {slots} request{'s' if slots > 1 else ''} at a time: "
                        f"concurrency {slots} (set --concurrency to override)"
                    )
                    wanted = slots
            self._concurrency = wanted
        return self._concurrency

    def _disable(self, notice: str) -> None:
        self.disabled = f"LLM feedback off: {notice}"
        self._notice(self.disabled)

    def _notice(self, notice: str) -> None:
        if notice not in self.notices:
            self.notices.append(notice)

    # -- what the endpoint accepts

    def _endpoint_key(self) -> tuple[str, str]:
        return endpoint(self.settings), self.settings.model

    def _endpoint_info(self) -> EndpointInfo:
        key = self._endpoint_key()
        info = _KNOWN_ENDPOINTS.get(key)
        if info is None and self.cache is not None:
            try:
                stored = self.cache.endpoint_info("\0".join(key))
            except CacheError as exc:
                self._cache_off(exc)
                stored = None
            if stored:
                info = EndpointInfo.from_json(stored)
        info = info or EndpointInfo()
        _KNOWN_ENDPOINTS[key] = info
        return info

    def _learn(self, lesson: Lesson) -> bool:
        """Take a lesson from an error; whether it changed anything (else the error stands)."""
        notice = self.info.learn(lesson)
        if notice is None:
            return False
        self._notice(f"{endpoint(self.settings)} {notice}")
        if self.cache is not None:
            try:
                self.cache.set_endpoint_info("\0".join(self._endpoint_key()), self.info.to_json())
            except CacheError as exc:
                self._cache_off(exc)
        return True

    # -- one answer

    def feedback(self, card: Card, answer: str, grade: Grade) -> LLMResult | None:
        """Feedback on one answer (blocking); None when there is nothing to ask (a non-answer, an image card)."""
        return self._runner.run(self.afeedback(card, answer, grade))

    def is_cached(self, card: Card, answer: str, grade: Grade) -> bool:
        """Whether ``feedback`` would find a stored reply for this answer rather than ask the server."""
        if not _worth_asking(card, answer, grade):
            return False
        card = card.as_graded(grade)
        return self._cache_get(self._cache_key(card, answer, self._examples_for(card, answer))) is not None

    def messages_for(self, card: Card, answer: str, grade: Grade) -> list[dict[str, str]]:
        """The messages a request for this answer sends (in the current mode), e.g. to estimate its tokens."""
        card = card.as_graded(grade)
        return self.prompts.messages(card, answer, grade, self.mode, self._examples_for(card, answer))

    def _examples_for(self, card: Card, answer: str) -> list[Example]:
        return self.examples.nearest(card, answer) if self.examples is not None else []

    async def afeedback(self, card: Card, answer: str, grade: Grade) -> LLMResult | None:
        if not _worth_asking(card, answer, grade):
            return None
        card = card.as_graded(grade)  # the terms the keyword grade used, the other answers shown as such
        meta = {"model": self.settings.model, "prompt_version": self.prompts.version}
        ctx = Context.of(card, answer, self.grading)
        examples = self._examples_for(card, answer)
        key = self._cache_key(card, answer, examples)
        fetched = self._preloaded.pop(key, None)
        if fetched is not None:
            try:
                reply = LLMFeedback.model_validate_json(fetched.output, context={"grading": ctx})
            except ValidationError:
                pass  # an invalid batch reply: ask again, with the usual repairs
            else:
                usage = Usage(prompt_tokens=fetched.prompt_tokens, completion_tokens=fetched.completion_tokens)
                cost = self._cost(usage)
                cost = cost * self._preload_discount if cost is not None else None
                self._cache_put(key, card, fetched)
                return self._count(
                    judge(reply, card, answer, grade, self.support, mode=fetched.mode, usage=usage, attempts=1, cost=cost, **meta)
                )
        hit = self._cache_get(key)
        if hit is not None:
            try:
                reply = LLMFeedback.model_validate_json(hit.output, context={"grading": ctx})
            except ValidationError:
                pass  # stale or damaged entry: ask again
            else:
                usage = Usage(prompt_tokens=hit.prompt_tokens, completion_tokens=hit.completion_tokens)
                return self._count(
                    judge(reply, card, answer, grade, self.support, mode=hit.mode, cached=True, usage=usage, **meta)
                )
        if self.disabled:
            return self._count(LLMResult(status="failed", notice=self.disabled, **meta))

        def messages() -> Messages:
            return self.prompts.messages(card, answer, grade, self.mode, examples)

        try:
            reply, mode, usage, attempts = await ask_until_valid(
                lambda conversation: self._complete(conversation, card, answer), messages, ctx, self.settings.repair_attempts
            )
        except RequestFailed as exc:
            notice = mask_secrets(exc.notice, self.settings.key_value())
            self.last_failure = exc
            self._timeouts_in_a_row = self._timeouts_in_a_row + 1 if exc.timed_out else 0
            silent = self._timeouts_in_a_row >= TIMEOUTS_BEFORE_OFF
            if exc.fatal:
                self._disable(notice)
            elif silent and not self.disabled:
                self._disable(f"{notice}, {self._timeouts_in_a_row} requests in a row")
            return self._count(
                LLMResult(
                    status="failed",
                    notice=self.disabled if exc.fatal or silent else f"LLM feedback skipped: {notice}",
                    attempts=exc.attempts,
                    usage=exc.usage,
                    cost=self._cost(exc.usage),
                    **meta,
                )
            )
        self._timeouts_in_a_row = 0
        cost = self._cost(usage)
        self._cache_put(key, card, CachedReply(reply.model_dump_json(), mode, usage.prompt_tokens, usage.completion_tokens))
        return self._count(
            judge(reply, card, answer, grade, self.support, mode=mode, usage=usage, attempts=attempts, cost=cost, **meta)
        )

    async def _complete(self, conversation: Callable[[], Messages], card: Card, answer: str) -> tuple[str, Mode, Usage]:
        """The reply's text, the mode it was asked in, and the tokens used.

        An error that says what the endpoint lacks (json_schema, a system role,
        max_tokens) is learnt and the request made again without it, at most
        once per lesson.
        """
        while True:
            try:
                return await self._request(conversation(), card, answer)
            except _Unsupported as exc:  # noqa: PERF203 - at most one per lesson
                if not self._learn(exc.lesson):
                    raise exc.failed from None

    async def _request(self, messages: Messages, card: Card, answer: str) -> tuple[str, Mode, Usage]:
        import httpx2
        import openai

        mode = self.mode
        request = self.request_body(messages, card, answer)
        try:
            raw = await self.client.chat.completions.with_raw_response.create(**request)
            body, content_type = raw.http_response.text, raw.http_response.headers.get("content-type", "")
        except openai.APIStatusError as exc:
            failed = describe_api_error(exc, self.settings)
            lesson = lesson_from_error(exc.status_code, error_text(exc))
            if lesson is not None:
                raise _Unsupported(lesson, failed) from None
            raise failed from None
        except openai.OpenAIError as exc:
            raise describe_api_error(exc, self.settings) from None
        except ReplyTooLarge as exc:
            raise RequestFailed(str(exc)) from None
        except (httpx2.HTTPError, UnicodeError, ValueError) as exc:
            raise RequestFailed(f"the server's reply could not be read: {type(exc).__name__}") from None
        completion = read_completion(body, content_type)
        return reply_text(completion), mode, completion.usage

    def request_body(self, messages: Messages, card: Card, answer: str | None = None) -> dict[str, Any]:
        """The body of a chat-completions request for a card (and answer: the quotes it offers), shaped for what
        the endpoint accepts."""
        info = self.info
        if not info.system_role:
            messages = _fold_system(messages)
        request: dict[str, Any] = {"model": self.settings.model, "messages": messages, info.token_param: max_reply_tokens(card)}
        request["response_format"] = self._schema_format(card, answer) if self.mode == "json_schema" else {"type": "json_object"}
        return request

    def batch_line(self, card: Card, answer: str, grade: Grade) -> dict[str, Any] | None:
        """One line of a provider batch (OpenAI's Batch API) asking about this answer; None if there is nothing
        to ask or its reply is cached. The line's ``custom_id`` is the reply's cache key."""
        if not _worth_asking(card, answer, grade) or self.is_cached(card, answer, grade):
            return None
        card = card.as_graded(grade)
        body = self.request_body(self.messages_for(card, answer, grade), card, answer)
        key = self._cache_key(card, answer, self._examples_for(card, answer))
        return {"custom_id": key, "method": "POST", "url": "/v1/chat/completions", "body": body}

    def preload(self, replies: dict[str, CachedReply], discount: float = 1.0) -> None:
        """Replies fetched another way (a provider batch), by cache key: used before asking, and counted as spent
        (at ``discount`` times the price), not as cached."""
        self._preloaded.update(replies)
        self._preload_discount = discount

    def _schema_format(self, card: Card, answer: str | None) -> Any:
        """The json_schema response format for an answer: bounded for its card, offering as each term's quotes the
        pieces of the answer about it (``request_schema``), or the plain schema (built once) for an endpoint that
        rejects the bounds."""
        if self.info.schema_bounds:
            schema = request_schema(card, answer, self.support)
            return {"type": "json_schema", "json_schema": {"name": "LLMFeedback", "schema": schema, "strict": True}}
        if self._plain_format is None:
            from openai.lib._parsing import type_to_response_format_param  # what parse() itself calls

            self._plain_format = type_to_response_format_param(LLMFeedback)
        return self._plain_format

    def list_models(self) -> list[str]:
        """The ids of the models the endpoint serves; RequestFailed if it cannot say (``status`` 404: no list)."""
        return self._runner.run(self._list_models())

    async def _list_models(self) -> list[str]:
        import httpx2
        import openai

        try:
            raw = await self.client.models.with_raw_response.list()
            data = json.loads(raw.http_response.text)
            return [str(m["id"]) for m in data["data"]]
        except openai.OpenAIError as exc:
            raise describe_api_error(exc, self.settings) from None
        except ReplyTooLarge as exc:
            raise RequestFailed(f"{endpoint(self.settings)}: {exc}") from None
        except (httpx2.HTTPError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise RequestFailed(f"{endpoint(self.settings)} answered, but not with a list of models ({type(exc).__name__})") from None

    # -- many answers

    def iter_feedback(
        self, items: Sequence[tuple[Card, str, Grade]], on_progress: Callable[[], None] | None = None
    ) -> Generator[LLMResult | None, None, None]:
        """Feedback on many answers, ``concurrency`` requests at a time, yielded in
        input order, each as soon as it and every one before it are final."""
        try:
            yield from self._runner.in_order(self.afeedback, items, self.concurrency, on_progress)
        finally:
            self._cache_flush()

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
            try:
                self.cache.close()
            except CacheError as exc:
                self._cache_off(exc)

    async def _close_own_client(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.close()

    def __enter__(self) -> FeedbackClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _cache_key(self, card: Card, answer: str, examples: list[Example] | None = None) -> str:
        # Examples shape the reply, so they are part of the key (an empty list keys as before).
        shown = answer if not examples else json.dumps([answer, [[e.answer, e.score, e.verdict] for e in examples]])
        return cache_key(self.settings.model, endpoint(self.settings), self.prompts.version, card, shown)

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

    def _cache_flush(self) -> None:
        if self.cache is None:
            return
        try:
            self.cache.flush()
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


class _Unsupported(Exception):
    """An error that says what the endpoint lacks; ``failed`` is what to report if nothing can be learnt from it."""

    def __init__(self, lesson: Lesson, failed: RequestFailed):
        super().__init__(lesson)
        self.lesson = lesson
        self.failed = failed


def _fold_system(messages: Messages) -> Messages:
    """The conversation for a template without a system role: the instructions open the first user message."""
    if not messages or messages[0]["role"] != "system":
        return messages
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    if rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
        return rest
    return [{"role": "user", "content": system}, *rest]


def _worth_asking(card: Card, answer: str, grade: Grade) -> bool:
    """False for an image card or a non-answer ("I don't know"): the reference says it all, at no cost."""
    return card.gradable and bool(answer.strip()) and grade.answered


def open_feedback_client(settings: LLMSettings, grading: GradingSettings, **options: Any) -> FeedbackClient:
    """A FeedbackClient with the user's cache (always opened: it also remembers what endpoints accept;
    ``settings.cache`` off only stops replies being read or stored). ``options`` go to ``FeedbackClient``."""
    from ..config import data_dir

    try:
        cache = LLMCache(data_dir() / CACHE_FILE)
    except CacheError as exc:
        client = FeedbackClient(settings, grading, **options)
        client._cache_off(exc)
        return client
    return FeedbackClient(settings, grading, cache=cache, **options)
