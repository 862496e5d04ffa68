"""What an OpenAI-compatible endpoint can do, learnt from what it says, and remembered per endpoint.

Servers differ in ways the protocol does not announce: llama-cpp-python answers
``json_schema`` with HTTP 500 ("Input should be 'text' or 'json_object'"),
others with 400 or 422; strict chat templates (Gemma 2) refuse a system
message; OpenAI's reasoning models refuse ``max_tokens`` and want
``max_completion_tokens``; some reject the bounds (``maxLength``...) of a
strict schema. Each is recognised from the error's content, whatever its
status (``lesson_from_error``), learnt once, and remembered for the endpoint
and model: for the rest of the process here, and across runs in the reply
cache's ``endpoints`` table.

A local llama.cpp server also says how many requests it serves at once
(``/props``: ``total_slots``; or ``/slots``). ``probe_slots`` asks it once per
process, with a short timeout: with one slot, more than one request in flight
only queues them into timeouts.
"""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import asdict, dataclass, fields
from typing import Literal
from urllib.parse import urlparse

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}

Lesson = Literal["no_json_schema", "no_schema_bounds", "no_system_role", "max_completion_tokens"]


@dataclass
class EndpointInfo:
    """What one endpoint (base URL and model) accepts; the defaults are OpenAI's."""

    json_schema: bool = True  # response_format json_schema (else JSON mode, schema in the prompt)
    schema_bounds: bool = True  # maxLength, minItems, enum scores... in the json_schema
    system_role: bool = True  # a system message (else the instructions open the user message)
    token_param: str = "max_tokens"  # or max_completion_tokens

    def learn(self, lesson: Lesson) -> str | None:
        """Apply a lesson; the notice to show, or None if it was known already."""
        if lesson == "no_json_schema" and self.json_schema:
            self.json_schema = False
            return "does not support json_schema: using JSON mode"
        if lesson == "no_schema_bounds" and self.schema_bounds and self.json_schema:
            self.schema_bounds = False
            return "rejects a bounded json_schema: using the plain schema"
        if lesson == "no_system_role" and self.system_role:
            self.system_role = False
            return "refuses system messages: the instructions open the user message"
        if lesson == "max_completion_tokens" and self.token_param != "max_completion_tokens":
            self.token_param = "max_completion_tokens"
            return "wants max_completion_tokens: using it"
        return None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EndpointInfo:
        """What was stored, as far as it is well formed: a damaged row or value falls back to the default."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        default = cls()
        kept = {f.name: data[f.name] for f in fields(cls) if type(data.get(f.name)) is type(getattr(default, f.name))}
        if kept.get("token_param", "max_tokens") not in ("max_tokens", "max_completion_tokens"):
            del kept["token_param"]
        return cls(**kept)


# Signs in an error message (status 400, 404, 422 or 500 alike), most specific first.
_LESSONS: list[tuple[Lesson, re.Pattern[str]]] = [
    ("max_completion_tokens", re.compile(r"max_completion_tokens|unsupported parameter:?\s*'?max_tokens", re.I)),
    ("no_system_role", re.compile(r"system (role|message)s? (is |are )?not supported|roles? must be (user|one of)", re.I)),
    (
        "no_schema_bounds",
        re.compile(r"invalid schema.*\b(maxLength|minLength|minItems|maxItems|enum|anyOf|not permitted)\b", re.I | re.S),
    ),
    (
        "no_json_schema",
        re.compile(
            r"json_schema.*(not supported|unsupported|not implemented|unknown|invalid|not allowed)"
            r"|(not supported|unsupported|unknown|invalid).*json_schema"
            r"|input should be 'text' or 'json_object'"
            r"|response_format.*(not supported|unsupported|unknown|must be|should be|invalid type)"
            r"|unrecognized request argument supplied: response_format",
            re.I | re.S,
        ),
    ),
]


def lesson_from_error(status: int | None, message: str) -> Lesson | None:
    """What an error says the endpoint cannot do, if it says so; None for any other error."""
    if status is not None and status not in (400, 404, 405, 415, 422, 500, 501):
        return None
    for lesson, pattern in _LESSONS:
        if pattern.search(message):
            return lesson
    return None


def is_local(base_url: str | None) -> bool:
    return bool(base_url) and (urlparse(base_url).hostname or "") in LOCAL_HOSTS


_SLOTS: dict[str, int | None] = {}  # per process, by base URL


def probe_slots(base_url: str | None, timeout: float = 1.5) -> int | None:
    """How many requests a local llama.cpp server serves at once (``/props``, else ``/slots``); None if it does not say.

    Asked once per process and base URL; never for a remote endpoint.
    """
    if not is_local(base_url):
        return None
    assert base_url is not None
    if base_url in _SLOTS:
        return _SLOTS[base_url]
    root = re.sub(r"/v1/?$", "", base_url.rstrip("/"))
    slots = None
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # a local server: never through a proxy
    for path, read in (("/props", _slots_from_props), ("/slots", _slots_from_list)):
        try:
            with direct.open(root + path, timeout=timeout) as response:
                slots = read(json.loads(response.read(1_000_000)))
        except (OSError, ValueError):
            slots = None
        if slots:
            break
    _SLOTS[base_url] = slots
    return slots


def _slots_from_props(data: object) -> int | None:
    value = data.get("total_slots") if isinstance(data, dict) else None
    return value if isinstance(value, int) and value > 0 else None


def _slots_from_list(data: object) -> int | None:
    return len(data) if isinstance(data, list) and data else None
