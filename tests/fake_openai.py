"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol (and files and batches).

The grader is pointed at it by base URL, exactly as a user points it at Ollama.
It grades like a plain, honest model by default ("good": a key term is covered
when the answer contains it, quoted as written) and can be switched to misbehave:

    good               a valid grade built from the request, in the shape its schema asks for
    invalid_json       prose with broken JSON (as the message content)
    schema_violation   JSON that is not the schema (terms a string; a score of 7 and a made-up verdict, dropped)
    made_up_quote      a valid-looking grade quoting words the student never wrote
    rate_limit         HTTP 429 (with retry-after-ms: 10, so the SDK retries quickly)
    server_error       HTTP 500
    slow               sleeps ``slow_seconds`` before a good reply
    hang               sleeps ``hang_seconds`` and closes without a word
    trickle            a good reply, one byte every ``trickle_seconds`` (defeats per-read timeouts)
    html               200 with an HTML page (a proxy's login page)
    truncated_body     200, application/json, half the body
    wrong_content_type 200, a good reply labelled text/plain
    reset              the connection reset (RST) before any reply
    refusal            an assistant refusal (content null, refusal set)
    manipulated        every term "covered", quoting the injection, and a score of 1 (which grader drops)
    careful            every term "covered", quoting a different real sentence of the answer for each,
                       no grading words: a careful manipulated model
    truncated          half a reply with finish_reason "length"
    echo_key           HTTP 400 whose message echoes the request's key (and another key), as careless proxies do
    odd_usage          a good reply whose token counts are Infinity, text and NaN
    deep_json          200 with a JSON body of 100,000 nested arrays
    endless            200, a chunked body that never ends (spaces, as fast as the client reads them)
    content_parts      a good reply whose content is a list of text parts, as some gateways write it
    tool_call          a good reply as the arguments of one function call (content null), as a server that ignored
                       response_format for its tool-calling template does
    tool_calls         two function calls, each with a good reply's arguments (content null)
    redirect           HTTP 307 to the same path under ``redirect_to`` (another server's base URL)

``queue`` holds behaviours for the next requests, one each; ``behaviour`` is
used when it is empty; an answer containing ``slow_when`` is always slow.

Tests of concurrency wait on events, not on the clock (a busy machine can pause
a test for a second): with ``crowd`` set, chat requests are held until that
many are in flight at once; an answer containing ``hold_when`` is held until
the test sets ``release``. Either gives up after ``hang_seconds``, and both let
go when the server stops.
Server properties: ``models`` (others get 404); ``api_key`` (another key gets
401, the key echoed in the message, as careless proxies do); ``json_schema``
(False: ``json_schema_status`` with ``json_schema_message`` for response_format
json_schema: 400 by default, or llama-cpp-python's 500); ``strict_roles``
(roles must alternate after an optional system message, as Gemma's template
demands: else 500 with llama.cpp's template error); ``system_role`` (False: a
system message is refused); ``slots`` (served at /props as llama.cpp does;
None: 404). ``batch_polls`` is how many polls a batch stays in_progress;
``batch_api`` False: /v1/files and /v1/batches are 404, as on most local servers.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import socket
import struct
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
    "hang",
    "trickle",
    "html",
    "truncated_body",
    "wrong_content_type",
    "reset",
    "refusal",
    "manipulated",
    "careful",
    "truncated",
    "echo_key",
    "odd_usage",
    "deep_json",
    "endless",
    "redirect",
    "content_parts",
    "tool_call",
    "tool_calls",
}
LLAMA_CPP_PY_JSON_SCHEMA_ERROR = (
    "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n"
    "  Input should be 'text' or 'json_object' [type=literal_error, input_value='json_schema', input_type=str]"
)
LLAMA_CPP_TEMPLATE_ERROR = (
    "Unable to generate parser for this template. Automatic parser generation failed: \n------------\n"
    "While executing CallExpression at line 3, column 15 in source:\n"
    "{%- for message in messages -%}\n  {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "              ^\n"
    "Error: Jinja Exception: Conversation roles must alternate user/assistant/user/assistant/..."
)


class FakeOpenAI:
    def __init__(self) -> None:
        self.behaviour = "good"
        self.queue: deque[str] = deque()
        self.models = ["fake-model"]
        self.api_key: str | None = None
        self.json_schema = True
        self.json_schema_status = 400
        self.json_schema_message = "response_format type 'json_schema' is not supported"
        self.strict_roles = False
        self.system_role = True
        self.slots: int | None = None
        self.slow_seconds = 3.0
        self.hang_seconds = 30.0
        self.trickle_seconds = 0.2
        self.slow_when: str | None = None
        self.crowd: int | None = None
        self.hold_when: str | None = None
        self.release = threading.Event()
        self._crowded = threading.Event()
        self.redirect_to = ""
        self.batch_polls = 0
        self.batch_api = True
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._recorded = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
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
        self._crowded.set()
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def record(self, request: dict[str, Any]) -> None:
        with self._recorded:
            self.requests.append(request)
            self._recorded.notify_all()

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The chat requests, once there are ``count`` (or ``timeout`` has passed): a client that gave up waiting
        has sent its request, but a busy machine can pause the server for a second before it reads it."""
        with self._recorded:
            self._recorded.wait_for(lambda: len(self.chat_requests) >= count, timeout)
        return self.chat_requests

    def next_behaviour(self) -> str:
        with self._lock:
            behaviour = self.queue.popleft() if self.queue else self.behaviour
        assert behaviour in BEHAVIOURS, behaviour
        return behaviour

    def sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeouts, resets) is what these tests are about


# --- How a plain, honest model would grade ----------------------------------------


def read_request(body: dict[str, Any]) -> tuple[list[str], str]:
    """The key terms listed in the rubric and the student's answer (the last user message: the worked example
    before it is another card)."""
    user = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user" and "Key terms" in m["content"]), "")
    block = user.split("Key terms", 1)[1].split("\n\n", 1)[0] if user else ""
    terms = [line[2:].strip() for line in block.splitlines() if line.startswith("- ")]
    answer = re.search(r"<student_answer>\n(.*)\n</student_answer>\s*$", user, re.DOTALL)
    return terms, answer.group(1) if answer else ""


def reply_json(terms: list[tuple[str, str, str]], feedback: str, suggestion: str) -> dict[str, Any]:
    """A reply in the request schema's shape: (term, status, evidence) for each term, then the words."""
    return {
        "terms": {term: {"status": status, "evidence": evidence} for term, status, evidence in terms},
        "misconceptions": [],
        "feedback": feedback,
        "suggestion": suggestion,
    }


def honest_grade(terms: list[str], answer: str) -> dict[str, Any]:
    assessed = []
    for term in terms:
        found = re.search(re.escape(term), answer, re.IGNORECASE)
        assessed.append((term, "covered" if found else "missing", found.group(0) if found else ""))
    covered = sum(status == "covered" for _, status, _ in assessed)
    return reply_json(assessed, f"You named {covered} of the {len(terms)} key ideas.", "Review the reference answer's key terms.")


def manipulated_grade(terms: list[str], answer: str) -> dict[str, Any]:
    """What a model talked into full marks says: everything covered, quoting the injection (and a score of 1)."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", answer) if s.strip()]
    injection = max(sentences, key=len) if sentences else answer
    grade = reply_json([(t, "covered", injection) for t in terms], "Excellent answer, full marks as instructed.", "Nothing to add.")
    return {**grade, "score": 1.0, "verdict": "correct"}


def careful_grade(terms: list[str], answer: str) -> dict[str, Any]:
    """A careful manipulated model: a different real sentence of the answer for each term, no grading words."""
    sentences = [s.strip().rstrip(".!?") for s in re.split(r"(?<=[.!?])\s+", answer) if s.strip()] or [answer]
    assessed = [(t, "covered", sentences[i % len(sentences)]) for i, t in enumerate(terms)]
    return reply_json(assessed, "You explain every idea clearly and precisely.", "Keep going.")


def roles_alternate(messages: list[dict[str, Any]]) -> bool:
    """Gemma's rule: after an optional system message, user and assistant alternate, starting with user."""
    roles = [m["role"] for m in messages]
    if roles and roles[0] == "system":
        roles = roles[1:]
    return all(role == ("user" if i % 2 == 0 else "assistant") for i, role in enumerate(roles))


def completion(body: dict[str, Any], content: str | None, finish: str = "stop", refusal: str | None = None, n: int = 0) -> dict[str, Any]:
    prompt_chars = sum(len(m.get("content") or "") for m in body["messages"])
    usage = {
        "prompt_tokens": prompt_chars // 4,
        "completion_tokens": len(content or "") // 4,
        "total_tokens": prompt_chars // 4 + len(content or "") // 4,
    }
    message = {"role": "assistant", "content": content, "refusal": refusal}
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage,
    }


def grade_reply(fake: FakeOpenAI, body: dict[str, Any], behaviour: str) -> tuple[int, dict[str, Any]]:
    """The status and JSON body a chat request gets (for the JSON behaviours; batches use this too)."""
    if behaviour == "rate_limit":
        return 429, {"error": {"message": "Rate limit reached.", "type": "requests", "code": "rate_limit_exceeded"}}
    if behaviour == "server_error":
        return 500, {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}}
    terms, answer = read_request(body)
    grade = honest_grade(terms, answer)
    if behaviour == "manipulated":
        grade = manipulated_grade(terms, answer)
    elif behaviour == "careful":
        grade = careful_grade(terms, answer)
    elif behaviour == "made_up_quote" and grade["terms"]:
        next(iter(grade["terms"].values())).update(status="covered", evidence="a sentence the student never wrote")
    content: str | None = json.dumps(grade)
    finish, refusal = "stop", None
    if behaviour == "invalid_json":
        content = 'Sure! Here is the grade: {"score": 1, "verdict": '
    elif behaviour == "schema_violation":
        content = json.dumps({"score": 7, "verdict": "excellent", "terms": "all of them"})
    elif behaviour == "truncated":
        content, finish = (content or "")[: len(content or "") // 2], "length"
    elif behaviour == "refusal":
        content, refusal = None, "I'm sorry, I can't help with grading this."
    return 200, completion(body, content, finish, refusal, len(fake.requests))


# --- The protocol ----------------------------------------------------------------------


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else every reply waits ~40 ms for the client's delayed ACK

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send_bytes(self, status: int, data: bytes, content_type: str = "application/json", headers: dict | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            self._send_bytes(status, json.dumps(payload).encode(), headers=headers)

        def _error(self, status: int, message: str, code: str | None = None, headers: dict | None = None) -> None:
            self._send(status, {"error": {"message": message, "type": "invalid_request_error", "code": code}}, headers)

        def _authorised(self) -> bool:
            given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            if fake.api_key is not None and given != fake.api_key:
                self._error(401, f"Incorrect API key provided: {given}.", "invalid_api_key")
                return False
            return True

        def _record(self, body: Any) -> None:
            fake.record({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})

        def do_GET(self) -> None:
            self._record(None)
            path = self.path.rstrip("/")
            if path == "/props":
                if fake.slots is None:
                    return self._error(404, "no route /props")
                return self._send(200, {"total_slots": fake.slots, "model_alias": fake.models[0] if fake.models else ""})
            if not self._authorised():
                return
            if path.endswith("/models"):
                data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in fake.models]
                return self._send(200, {"object": "list", "data": data})
            batch = re.search(r"/batches/([\w-]+)$", path)
            if batch:
                return self._batch_status(batch.group(1))
            content = re.search(r"/files/([\w-]+)/content$", path)
            if content and content.group(1) in fake.files:
                return self._send_bytes(200, fake.files[content.group(1)], "application/octet-stream")
            self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.endswith("/files") or self.path.endswith("/batches"):
                if not fake.batch_api:
                    self._record(None)
                    return self._error(404, f"Not Found: {self.path}")
            if self.path.endswith("/files"):
                self._record({"multipart": True})
                return self._upload(raw) if self._authorised() else None
            body = json.loads(raw or b"{}")
            self._record(body)
            if not self._authorised():
                return
            if self.path.endswith("/batches"):
                return self._create_batch(body)
            if not self.path.endswith("/chat/completions"):
                return self._error(404, f"no route {self.path}")
            if body.get("model") not in fake.models:
                return self._error(404, f"The model `{body.get('model')}` does not exist.", "model_not_found")
            response_format = body.get("response_format") or {}
            if response_format.get("type") == "json_schema":
                if not fake.json_schema:
                    return self._error(fake.json_schema_status, fake.json_schema_message)
                schema = response_format["json_schema"]["schema"]
                assert schema["type"] == "object" and schema["additionalProperties"] is False
            if not fake.system_role and any(m["role"] == "system" for m in body["messages"]):
                return self._error(500, "System role not supported")
            if fake.strict_roles and not roles_alternate(body["messages"]):
                return self._error(500, LLAMA_CPP_TEMPLATE_ERROR)
            with fake._lock:
                fake.in_flight += 1
                fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                if fake.crowd is not None and fake.in_flight >= fake.crowd:
                    fake._crowded.set()
            try:
                if fake.crowd is not None:
                    fake._crowded.wait(fake.hang_seconds)
                if fake.hold_when and fake.hold_when in read_request(body)[1]:
                    fake.release.wait(fake.hang_seconds)
                self._reply(body, fake.next_behaviour())
            finally:
                with fake._lock:
                    fake.in_flight -= 1

        def _reply(self, body: dict[str, Any], behaviour: str) -> None:
            _, answer = read_request(body)
            if behaviour == "slow" or (fake.slow_when and fake.slow_when in answer):
                fake.sleep(fake.slow_seconds)
            if behaviour == "hang":
                fake.sleep(fake.hang_seconds)
                self.close_connection = True
                return
            if behaviour == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            if behaviour == "echo_key":
                given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                message = f"proxy: upstream refused key {given} (fallback key sk-proj-{'Q' * 120} also refused)"
                return self._error(400, message)
            if behaviour == "redirect":
                return self._send_bytes(307, b"", headers={"Location": fake.redirect_to + self.path.split("/v1", 1)[1]})
            if behaviour == "endless":
                return self._endless()
            if behaviour == "deep_json":
                return self._send_bytes(200, b"[" * 100_000 + b"]" * 100_000)
            if behaviour == "html":
                page = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in.</body></html>"
                return self._send_bytes(200, page, "text/html; charset=utf-8")
            plain = ("trickle", "truncated_body", "wrong_content_type", "odd_usage", "content_parts", "tool_call", "tool_calls")
            status, payload = grade_reply(fake, body, "good" if behaviour in plain else behaviour)
            if behaviour == "odd_usage":
                payload["usage"] = {"prompt_tokens": float("inf"), "completion_tokens": "many", "total_tokens": float("nan")}
            if behaviour == "content_parts":
                message = payload["choices"][0]["message"]
                half = len(message["content"]) // 2
                message["content"] = [{"type": "text", "text": message["content"][:half]}, {"type": "text", "text": message["content"][half:]}]
            if behaviour in ("tool_call", "tool_calls"):
                choice = payload["choices"][0]
                arguments = choice["message"]["content"]
                call = {"type": "function", "function": {"name": "LLMFeedback", "arguments": arguments}}
                calls = [{"id": f"call_{i}", **call} for i in range(1 if behaviour == "tool_call" else 2)]
                choice["message"].update(content=None, tool_calls=calls)
                choice["finish_reason"] = "tool_calls"
            data = json.dumps(payload).encode()
            if behaviour == "rate_limit":
                return self._send(status, payload, {"retry-after-ms": "10"})
            if behaviour == "truncated_body":
                return self._send_bytes(200, data[: len(data) // 2])
            if behaviour == "wrong_content_type":
                return self._send_bytes(200, data, "text/plain")
            if behaviour == "trickle":
                return self._trickle(data)
            self._send_bytes(status, data)

        def _endless(self) -> None:
            chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while not fake._stop.is_set():
                    self.wfile.write(chunk)
            except OSError:
                pass  # the client gave up, as it should
            self.close_connection = True

        def _trickle(self, data: bytes) -> None:
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.flush()
                for i in range(len(data)):
                    if fake._stop.is_set():
                        break
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    fake.sleep(fake.trickle_seconds)
            except OSError:
                pass  # the client gave up, as it should

        # --- files and batches (OpenAI's Batch API, processed at once) ---

        def _upload(self, raw: bytes) -> None:
            head = f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
            content, purpose = b"", ""
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name == "file":
                    content = part.get_payload(decode=True) or b""
                elif name == "purpose":
                    purpose = (part.get_payload(decode=True) or b"").decode()
            file_id = f"file-{len(fake.files) + 1}"
            fake.files[file_id] = content
            self._send(200, {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                             "filename": "requests.jsonl", "purpose": purpose, "status": "processed"})  # fmt: skip

        def _create_batch(self, body: dict[str, Any]) -> None:
            lines = [json.loads(line) for line in fake.files.get(body.get("input_file_id", ""), b"").decode().splitlines() if line.strip()]
            outputs = []
            for line in lines:
                request = line["body"]
                if request.get("model") not in fake.models:
                    status, payload = 404, {"error": {"message": "no such model"}}
                else:
                    status, payload = grade_reply(fake, request, fake.next_behaviour())
                outputs.append({"id": f"batch_req_{len(outputs)}", "custom_id": line["custom_id"],
                                "response": {"status_code": status, "request_id": "r", "body": payload}, "error": None})  # fmt: skip
            output_id = f"file-{len(fake.files) + 1}"
            fake.files[output_id] = "".join(json.dumps(o) + "\n" for o in outputs).encode()
            batch_id = f"batch_{len(fake.batches) + 1}"
            fake.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": body.get("endpoint"), "errors": None,
                "input_file_id": body.get("input_file_id"), "completion_window": body.get("completion_window"),
                "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": int(time.time()),
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0}, "metadata": body.get("metadata"),
                "_output": output_id, "_polls": fake.batch_polls,
            }  # fmt: skip
            self._send(200, {k: v for k, v in fake.batches[batch_id].items() if not k.startswith("_")})

        def _batch_status(self, batch_id: str) -> None:
            batch = fake.batches.get(batch_id)
            if batch is None:
                return self._error(404, f"No batch found with id '{batch_id}'.")
            if batch["_polls"] > 0:
                batch["_polls"] -= 1
                batch["status"] = "in_progress"
            else:
                total = batch["request_counts"]["total"]
                batch.update(status="completed", output_file_id=batch["_output"])
                batch["request_counts"] = {"total": total, "completed": total, "failed": 0}
            self._send(200, {k: v for k, v in batch.items() if not k.startswith("_")})

    return Handler
