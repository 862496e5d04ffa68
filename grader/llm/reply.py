"""Getting one usable reply: ask, check it against the card and the answer, ask again with the problems fed back.

The asking itself (``complete``) is the client's, through the openai SDK; this
module knows nothing of the SDK. It reads the raw body of a reply itself
(``read_completion``), so a body that is not a chat completion (an HTML page
from a proxy, half a JSON document) is a notice, never a crash. A reply that
fails the checks is asked for again ``repair_attempts`` times, as the model's
own reply (assistant) followed by the problems (user), so roles alternate; a
request that cannot give feedback raises ``RequestFailed``, whose notice the
user sees.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import ValidationError

from .schema import Context, LLMFeedback, Mode, Usage, one_line

Messages = list[dict[str, str]]
CUT_OFF = "the reply was cut off at the model's token limit"
# The model's previous reply, fed back with the problems, is cut to this many characters.
_ECHO_CHARS = 4000


class InvalidReply(Exception):
    """A reply that can be retried with the problem fed back; ``content`` is the reply as it came."""

    def __init__(self, problem: str, content: str | None = None, usage: Usage | None = None):
        super().__init__(problem)
        self.content = content
        self.usage = usage or Usage()


class RequestFailed(Exception):
    """A request that cannot give feedback; ``fatal`` ones stop asking for the rest of the run.

    ``status`` is the HTTP status the server answered with, when it answered;
    ``model_replied`` says the model did reply, but not usably (a refusal, a
    reply cut off, invalid after every retry), rather than the request failing;
    ``timed_out``: no reply came within the timeout.
    """

    def __init__(
        self,
        notice: str,
        fatal: bool = False,
        attempts: int = 0,
        usage: Usage | None = None,
        status: int | None = None,
        model_replied: bool = False,
        timed_out: bool = False,
    ):
        super().__init__(notice)
        self.notice = notice
        self.fatal = fatal
        self.attempts = attempts
        self.usage = usage or Usage()
        self.status = status
        self.model_replied = model_replied
        self.timed_out = timed_out


async def ask_until_valid(
    complete: Callable[[Callable[[], Messages]], Awaitable[tuple[str, Mode, Usage]]],
    messages: Callable[[], Messages],
    ctx: Context,
    repair_attempts: int,
) -> tuple[LLMFeedback, Mode, Usage, int]:
    """A valid reply, the mode it came in, the tokens spent and the attempts made; or RequestFailed.

    ``complete`` is given a function that builds the conversation, as the
    client's mode can change between attempts (and within one, when the server
    says what it lacks).
    """
    spent = Usage()
    problems = ""
    previous: str | None = None
    attempt = 0
    while attempt <= repair_attempts:
        attempt += 1
        tail: Messages = []
        if problems:
            echo = (previous or "").strip()[:_ECHO_CHARS] or "(no usable reply)"
            tail = [{"role": "assistant", "content": echo}, _repair_message(problems)]
        content = None

        def conversation(tail: Messages = tail) -> Messages:
            return messages() + tail

        try:
            content, mode, used = await complete(conversation)
            spent += used
            reply = LLMFeedback.model_validate_json(_unfence(content), context={"grading": ctx})
            return reply, mode, spent, attempt
        except InvalidReply as exc:
            problems, previous = str(exc), exc.content
            spent += exc.usage
        except ValidationError as exc:
            problems, previous = _problems(exc), content
        except RequestFailed as exc:
            exc.attempts, exc.usage = attempt, spent + exc.usage
            raise
    tries = f"{attempt} tries" if attempt > 1 else "1 try"
    raise RequestFailed(
        f"no valid reply in {tries} (last problem: {problems})", attempts=attempt, usage=spent, model_replied=True
    )


@dataclass(frozen=True)
class Completion:
    """What grader needs of a chat completion."""

    content: str | None
    refusal: str | None
    finish_reason: str | None
    usage: Usage
    tool_calls: int = 0  # function calls in the reply; the arguments of a single one are read as its content


def read_completion(body: str, content_type: str = "") -> Completion:
    """A chat completion read from a raw HTTP body; RequestFailed if the body is not one.

    A proxy's HTML page, a body cut off mid-way, JSON of another shape: each is
    a notice saying what came back, and grading goes on. The content type is
    not trusted either way: valid JSON under ``text/plain`` is read.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: arrays nested past the parser's depth
        kind = "an HTML page" if "<html" in body[:500].lower() or "html" in content_type else "not JSON"
        if body.lstrip().startswith("{"):
            kind = "incomplete JSON (the body was cut off)"
        raise RequestFailed(
            f"the server answered 200, but its reply is {kind} ({content_type or 'no content type'}, "
            f"{len(body):,} characters): is the base URL an OpenAI-compatible /v1 endpoint?"
        ) from None
    try:
        choice = data["choices"][0]
        message = choice["message"]
        content, refusal = message.get("content"), message.get("refusal")
        if isinstance(content, list) and content and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in content):
            content = "".join(p["text"] for p in content)  # text parts, as some gateways write the content
        elif content is not None and not isinstance(content, str):
            content = json.dumps(content)
        calls = _function_calls(message)
        if not (content or "").strip() and len(calls) == 1:
            content = calls[0]  # a server that ignored response_format and answered through a tool call
    except (KeyError, IndexError, TypeError, AttributeError):
        shape = ", ".join(list(data)[:5]) if isinstance(data, dict) else type(data).__name__
        raise RequestFailed(f"the server's reply is JSON but not a chat completion (it has: {shape or 'nothing'})") from None
    usage = data.get("usage") if isinstance(data, dict) else None
    tokens = Usage()
    if isinstance(usage, dict):
        tokens = Usage(prompt_tokens=_count(usage.get("prompt_tokens")), completion_tokens=_count(usage.get("completion_tokens")))
    return Completion(content, refusal if isinstance(refusal, str) else None, choice.get("finish_reason"), tokens, len(calls))


def _function_calls(message: dict) -> list[str]:
    """The arguments of each function call in a reply (``tool_calls``, or the older ``function_call``), as text."""
    calls = message.get("tool_calls")
    if not isinstance(calls, list):
        calls = [{"function": message["function_call"]}] if isinstance(message.get("function_call"), dict) else []
    arguments = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        given = function.get("arguments") if isinstance(function, dict) else None
        arguments.append(given if isinstance(given, str) else json.dumps(given))
    return arguments


def _count(value: object) -> int:
    """A token count as the server wrote it; 0 for anything that is not one (NaN, Infinity, text, negative),
    which would otherwise end the run or make the totals wrong."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return 0
    return int(value)


def reply_text(completion: Completion) -> str:
    """The text of a completion's reply; a refusal, a cut-off or an empty reply is a failure of its own."""
    if completion.refusal:
        raise RequestFailed(f"the model refused: {one_line(completion.refusal, 100)}", usage=completion.usage, model_replied=True)
    if completion.finish_reason == "length":
        raise RequestFailed(CUT_OFF, usage=completion.usage, model_replied=True)
    if not completion.content and completion.tool_calls > 1:
        raise InvalidReply(
            f"the reply was {completion.tool_calls} tool calls, not one JSON object in the message content", usage=completion.usage
        )
    if not completion.content:
        raise InvalidReply("the reply was empty", usage=completion.usage)
    return completion.content


def _repair_message(problems: str) -> dict[str, str]:
    return {
        "role": "user",
        "content": f"Your previous reply could not be used: {problems}. "
        "Reply again with the complete JSON object, following the rules.",
    }


def _problems(exc: ValidationError) -> str:
    """Validation errors as one line the model can act on."""
    lines = []
    for err in exc.errors()[:8]:
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)[:1500]


def _unfence(content: str) -> str:
    """The JSON inside a markdown code fence, which small local models like to add."""
    fenced = re.fullmatch(r"\s*```(?:json)?\s*(.*?)\s*```\s*", content, flags=re.DOTALL)
    return fenced.group(1) if fenced else content
