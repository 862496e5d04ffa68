"""``grader llm check``: whether the endpoint answers, the model exists, and structured output works.

It asks the server directly (a blocking SDK client, no cache, no retries of
its own) so that each line says what one request found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from ..config import LLMSettings
from .client import endpoint, make_client, sdk_request
from .reply import RequestFailed

HTTP_BAD_REQUEST = 400
HTTP_NOT_FOUND = 404


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
    where = endpoint(settings)
    if not settings.key_value() and not settings.base_url:
        return [CheckLine("endpoint", False, "no OPENAI_API_KEY is set and no base URL names a local server")]
    client = client or make_client(settings, sync=True)
    lines: list[CheckLine] = []
    try:
        served = sdk_request(settings, lambda: [m.id for m in client.models.list()])
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
    lines.append(_structured_output(settings, client))
    return lines


def _structured_output(settings: LLMSettings, client: Any) -> CheckLine:
    """json_schema if the server takes it; else whether JSON mode (what the client falls back to) works."""
    messages = [{"role": "user", "content": 'Reply with the JSON object {"ok": true}.'}]
    try:
        reply = sdk_request(
            settings, lambda: client.chat.completions.parse(model=settings.model, messages=messages, response_format=_Ping)
        )
    except RequestFailed as exc:
        if exc.status != HTTP_BAD_REQUEST:
            return CheckLine("structured output", False, exc.notice)
    except ValidationError:
        return CheckLine("structured output", False, "invalid JSON")
    else:
        works = reply.choices[0].message.parsed is not None
        return CheckLine("structured output", works, "json_schema" if works else "json_schema reply unusable")
    try:
        reply = sdk_request(
            settings,
            lambda: client.chat.completions.create(
                model=settings.model, messages=messages, response_format={"type": "json_object"}
            ),
        )
        _Ping.model_validate_json(reply.choices[0].message.content or "")
    except RequestFailed as exc:
        detail = exc.notice
    except ValidationError:
        detail = "invalid JSON"
    else:
        return CheckLine("structured output", True, "json_object only (no json_schema): JSON mode is used")
    return CheckLine("structured output", False, f"neither json_schema nor JSON mode works ({detail})")
