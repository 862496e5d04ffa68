"""Getting one usable reply: ask, check it against the card and the answer, ask again with the problems fed back.

The asking itself (``complete``) is the client's, through the openai SDK; this
module knows nothing of the SDK. A reply that fails the checks is asked for
again ``repair_attempts`` times; a request that cannot give feedback raises
``RequestFailed``, whose notice the user sees.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from .schema import Context, LLMFeedback, Mode, Usage, one_line

Messages = list[dict[str, str]]
CUT_OFF = "the reply was cut off at the model's token limit"


class InvalidReply(Exception):
    """A reply that can be retried with the problem fed back."""


class RequestFailed(Exception):
    """A request that cannot give feedback; ``fatal`` ones stop asking for the rest of the run.

    ``status`` is the HTTP status the server answered with, when it answered.
    """

    def __init__(
        self, notice: str, fatal: bool = False, attempts: int = 0, usage: Usage | None = None, status: int | None = None
    ):
        super().__init__(notice)
        self.notice = notice
        self.fatal = fatal
        self.attempts = attempts
        self.usage = usage or Usage()
        self.status = status


async def ask_until_valid(
    complete: Callable[[Messages], Awaitable[tuple[str, Mode, Usage]]],
    messages: Callable[[], Messages],
    ctx: Context,
    repair_attempts: int,
) -> tuple[LLMFeedback, Mode, Usage, int]:
    """A valid reply, the mode it came in, the tokens spent and the attempts made; or RequestFailed.

    ``messages`` is called for every attempt, as the client's mode can change between them.
    """
    spent = Usage()
    problems = ""
    attempt = 0
    while attempt <= repair_attempts:
        attempt += 1
        conversation = messages()
        if problems:
            conversation.append(_repair_message(problems))
        try:
            content, mode, used = await complete(conversation)
            spent += used
            reply = LLMFeedback.model_validate_json(_unfence(content), context={"grading": ctx})
            return reply, mode, spent, attempt
        except InvalidReply as exc:
            problems = str(exc)
        except ValidationError as exc:
            problems = _problems(exc)
        except RequestFailed as exc:
            exc.attempts, exc.usage = attempt, spent + exc.usage
            raise
    tries = f"{attempt} tries" if attempt > 1 else "1 try"
    raise RequestFailed(f"no valid reply in {tries} (last problem: {problems})", attempts=attempt, usage=spent)


def reply_text(completion: Any) -> str:
    """The text of an SDK completion's reply; a refusal or an empty reply is a failure of its own."""
    message = completion.choices[0].message
    if getattr(message, "refusal", None):
        raise RequestFailed(f"the model refused: {one_line(message.refusal, 100)}", usage=Usage.of(completion))
    if not message.content:
        raise InvalidReply("the reply was empty")
    return message.content


def check_schema(content: str) -> str:
    """The reply, if it fits the schema alone (as the SDK's parse checks it when given the model class)."""
    try:
        LLMFeedback.model_validate_json(content)
    except ValidationError as exc:
        raise InvalidReply(_problems(exc)) from None
    return content


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
