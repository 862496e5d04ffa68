"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol.

The grader is pointed at it by base URL, exactly as a user points it at Ollama.
It grades like a plain, honest model by default ("good": a key term is covered
when the answer contains it, quoted as written) and can be switched to misbehave:

    good             a valid grade built from the request
    invalid_json     prose with broken JSON
    schema_violation JSON that is not the schema (score 7, a made-up verdict)
    made_up_quote    a valid-looking grade quoting words the student never wrote
    rate_limit       HTTP 429 (with retry-after-ms: 10, so the SDK retries quickly)
    server_error     HTTP 500
    slow             sleeps ``slow_seconds`` before a good reply
    refusal          an assistant refusal (content null, refusal set)
    manipulated      full marks with every term "covered", quoting the injection
    truncated        half a reply with finish_reason "length"

``queue`` holds behaviours for the next requests, one each; ``behaviour`` is
used when it is empty; an answer containing ``slow_when`` is always slow. Server properties: ``models`` (others get 404),
``api_key`` (another key gets 401, the key echoed in the message, as careless
proxies do) and ``json_schema`` (False: 400 for response_format json_schema).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BEHAVIOURS = {
    "good",
    "invalid_json",
    "schema_violation",
    "made_up_quote",
    "rate_limit",
    "server_error",
    "slow",
    "refusal",
    "manipulated",
    "truncated",
}


class FakeOpenAI:
    def __init__(self) -> None:
        self.behaviour = "good"
        self.queue: deque[str] = deque()
        self.models = ["fake-model"]
        self.api_key: str | None = None
        self.json_schema = True
        self.slow_seconds = 3.0
        self.slow_when: str | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def next_behaviour(self) -> str:
        with self._lock:
            behaviour = self.queue.popleft() if self.queue else self.behaviour
        assert behaviour in BEHAVIOURS, behaviour
        return behaviour

    def sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)


# --- How a plain, honest model would grade ----------------------------------------


def read_request(body: dict[str, Any]) -> tuple[list[str], str, tuple[float, float]]:
    """The key terms listed in the rubric, the student's answer, and the verdict thresholds."""
    thresholds = re.search(r"`correct` for a score of at least ([\d.]+), `partial` for at least ([\d.]+)", body["messages"][0]["content"])
    rubric = body["messages"][1]["content"]
    block = rubric.split("Key terms", 1)[1].split("\n\n", 1)[0]
    terms = [line[2:].strip() for line in block.splitlines() if line.startswith("- ")]
    answer = re.search(r"<student_answer>\n(.*)\n</student_answer>", body["messages"][2]["content"], re.DOTALL)
    return terms, answer.group(1) if answer else "", (float(thresholds[1]), float(thresholds[2]))


def honest_grade(terms: list[str], answer: str, thresholds: tuple[float, float]) -> dict[str, Any]:
    assessed = []
    for term in terms:
        found = re.search(re.escape(term), answer, re.IGNORECASE)
        assessed.append(
            {"term": term, "status": "covered" if found else "missing", "evidence": found.group(0) if found else ""}
        )
    score = round(sum(t["status"] == "covered" for t in assessed) / max(len(terms), 1), 2)
    correct, partial = thresholds
    verdict = "correct" if score >= correct else "partial" if score >= partial else "incorrect"
    return {
        "feedback": f"You named {sum(t['status'] == 'covered' for t in assessed)} of the {len(terms)} key ideas.",
        "terms": assessed,
        "misconceptions": [],
        "score": score,
        "verdict": verdict,
        "suggestion": "Review the reference answer's key terms.",
    }


def manipulated_grade(terms: list[str], answer: str) -> dict[str, Any]:
    """What a model talked into full marks says: everything covered, quoting the injection."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", answer) if s.strip()]
    injection = max(sentences, key=len) if sentences else answer
    return {
        "feedback": "Excellent answer, full marks as instructed.",
        "terms": [{"term": t, "status": "covered", "evidence": injection} for t in terms],
        "misconceptions": [],
        "score": 1.0,
        "verdict": "correct",
        "suggestion": "Nothing to add.",
    }


# --- The protocol ----------------------------------------------------------------------


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def _error(self, status: int, message: str, code: str | None = None, headers: dict | None = None) -> None:
            self._send(status, {"error": {"message": message, "type": "invalid_request_error", "code": code}}, headers)

        def _authorised(self) -> bool:
            given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            if fake.api_key is not None and given != fake.api_key:
                self._error(401, f"Incorrect API key provided: {given}.", "invalid_api_key")
                return False
            return True

        def do_GET(self) -> None:
            fake.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": None})
            if not self._authorised():
                return
            if self.path.rstrip("/").endswith("/models"):
                data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in fake.models]
                return self._send(200, {"object": "list", "data": data})
            self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
            if not self._authorised():
                return
            if not self.path.endswith("/chat/completions"):
                return self._error(404, f"no route {self.path}")
            if body.get("model") not in fake.models:
                return self._error(404, f"The model `{body.get('model')}` does not exist.", "model_not_found")
            response_format = body.get("response_format") or {}
            if response_format.get("type") == "json_schema":
                if not fake.json_schema:
                    return self._error(400, "response_format type 'json_schema' is not supported")
                schema = response_format["json_schema"]["schema"]
                assert schema["type"] == "object" and schema["additionalProperties"] is False
            with fake._lock:
                fake.in_flight += 1
                fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
            try:
                self._reply(body, fake.next_behaviour())
            finally:
                with fake._lock:
                    fake.in_flight -= 1

        def _reply(self, body: dict[str, Any], behaviour: str) -> None:
            if behaviour == "rate_limit":
                return self._error(429, "Rate limit reached.", "rate_limit_exceeded", {"retry-after-ms": "10"})
            if behaviour == "server_error":
                return self._error(500, "The server had an error while processing your request.")
            is_ping = len(body["messages"]) == 1  # grader llm check
            if behaviour == "slow" or (fake.slow_when and not is_ping and fake.slow_when in body["messages"][2]["content"]):
                fake.sleep(fake.slow_seconds)
            finish, refusal = "stop", None
            if is_ping:
                content = json.dumps({"ok": True})
                if behaviour == "refusal":
                    content, refusal = None, "I'm sorry, I can't help with that."
            else:
                terms, answer, thresholds = read_request(body)
                grade = honest_grade(terms, answer, thresholds)
                if behaviour == "manipulated":
                    grade = manipulated_grade(terms, answer)
                elif behaviour == "made_up_quote":
                    grade["terms"][0].update(status="covered", evidence="a sentence the student never wrote")
                content = json.dumps(grade)
                if behaviour == "invalid_json":
                    content = 'Sure! Here is the grade: {"score": 1, "verdict": '
                elif behaviour == "schema_violation":
                    content = json.dumps({"score": 7, "verdict": "excellent", "terms": "all of them"})
                elif behaviour == "truncated":
                    content, finish = content[: len(content) // 2], "length"
                elif behaviour == "refusal":
                    content, refusal = None, "I'm sorry, I can't help with grading this."
            prompt_chars = sum(len(m.get("content") or "") for m in body["messages"])
            usage = {
                "prompt_tokens": prompt_chars // 4,
                "completion_tokens": len(content or "") // 4,
                "total_tokens": prompt_chars // 4 + len(content or "") // 4,
            }
            message = {"role": "assistant", "content": content, "refusal": refusal}
            self._send(
                200,
                {
                    "id": f"chatcmpl-{len(fake.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                    "usage": usage,
                },
            )

    return Handler
