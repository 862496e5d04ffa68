"""A provider's batch API (OpenAI's ``/v1/files`` + ``/v1/batches``): half the price, results within 24 hours.

``grader grade --llm --batch --output OUT`` grades every answer by key terms,
writes one chat-completions request per answer worth asking into a JSON Lines
file, uploads it and starts a batch, and records the batch beside the output
(``OUT.llm-batch.json``); nothing is written to OUT yet. ``grader grade ...
--output OUT --resume`` then asks how the batch is doing: while it runs, one
line says so; once it has completed, its replies go through the same checks as
any reply (a reply that fails them is asked for again directly, with the usual
repairs) and the results are written to OUT as a normal run writes them.

Each request's ``custom_id`` is its reply's cache key, so a reply is matched to
its answer however the provider orders its output, and a collected reply is
stored in the reply cache like any other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import GraderError
from .cache import CachedReply
from .reply import RequestFailed, read_completion
from .schema import LLMResult

if TYPE_CHECKING:
    from ..models import Card, Grade
    from .client import FeedbackClient

RECORD_SUFFIX = ".llm-batch.json"
RUNNING = {"validating", "in_progress", "finalizing", "cancelling"}
BATCH_DISCOUNT = 0.5  # OpenAI's batch price is half the synchronous one


def record_path(output: Path) -> Path:
    """Where the batch of an ``--output`` file is recorded."""
    return output.with_name(output.name + RECORD_SUFFIX)


@dataclass
class BatchRecord:
    """What ``--batch`` leaves beside the output, for ``--resume``.

    ``base_url`` is stored as shown (``shown_url``): a user name and password in
    it are masked, never written to the file, and ``--resume`` needs the same
    base URL given again (``credentials_withheld``).
    """

    batch_id: str
    input_file_id: str
    endpoint: str
    base_url: str | None  # masked
    model: str
    prompt_version: str
    requests: int
    submitted_at: float

    @property
    def credentials_withheld(self) -> bool:
        """Whether the base URL had a user name and password, which the record does not keep."""
        return self.base_url is not None and "****@" in self.base_url

    def save(self, path: Path) -> None:
        try:
            path.write_text(json.dumps(self.__dict__, indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            raise GraderError(f"cannot record the batch: {exc.strerror}", path=path) from None

    @classmethod
    def load(cls, path: Path) -> tuple[BatchRecord, bool]:
        """The record at ``path``, and whether it was just rewritten masked: an earlier grader kept the base URL's
        user name and password in the clear there. Masked, the record is resumed as any other (``credentials_withheld``)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            record = cls(**{k: data[k] for k in cls.__dataclass_fields__})
            masked = record.masked()
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise GraderError("not a batch record written by 'grader grade --batch'", path=path) from None
        if masked == record:
            return record, False
        masked.save(path)
        return masked, True

    def masked(self) -> BatchRecord:
        """This record as grader writes it: a user name and password in its URLs masked (``shown_url``)."""
        from .secrets import shown_url

        return replace(self, endpoint=shown_url(self.endpoint), base_url=shown_url(self.base_url) if self.base_url else self.base_url)


class BatchRequests:
    """Stands in for the feedback client while a file is graded: collects one batch line per answer worth asking."""

    def __init__(self, client: FeedbackClient):
        self.client = client
        self.settings = client.settings
        self.totals = client.totals
        self.notices = client.notices
        self.lines: list[dict[str, Any]] = []
        self.cached = 0

    def iter_feedback(
        self, items: Sequence[tuple[Card, str, Grade]], on_progress: Callable[[], None] | None = None
    ) -> Generator[LLMResult | None, None, None]:
        for card, answer, grade in items:
            line = self.client.batch_line(card, answer, grade)
            if line is not None:
                self.lines.append(line)
            elif self.client.is_cached(card, answer, grade):
                self.cached += 1
            yield None


def submit(client: FeedbackClient, lines: list[dict[str, Any]], record: Path) -> BatchRecord:
    """Upload the requests and start the batch; the record is saved beside the output. GraderError if the
    endpoint has no batch API (one line)."""
    from .client import endpoint
    from .secrets import shown_url

    if not lines:
        raise GraderError("nothing to send in a batch: every answer is cached or has nothing to ask (run without --batch)")
    data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()

    async def start() -> tuple[str, str]:
        uploaded = await client.client.files.create(file=("requests.jsonl", data, "application/jsonl"), purpose="batch")
        batch = await client.client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h", metadata={"made_by": "grader"}
        )
        return uploaded.id, batch.id

    file_id, batch_id = _call(client, start, "start a batch")
    saved = BatchRecord(
        batch_id=batch_id,
        input_file_id=file_id,
        endpoint=endpoint(client.settings),
        base_url=shown_url(client.settings.base_url) if client.settings.base_url else None,
        model=client.settings.model,
        prompt_version=client.prompt_version,
        requests=len(lines),
        submitted_at=time.time(),
    )
    saved.save(record)
    return saved


@dataclass(frozen=True)
class BatchState:
    status: str
    done: int
    total: int
    collected: int = 0  # replies handed to the client

    @property
    def ready(self) -> bool:
        return self.status == "completed"


def collect(client: FeedbackClient, record: BatchRecord) -> BatchState:
    """How the batch is doing; once completed, its replies are handed to the client (``preload``).

    GraderError if the batch failed, expired or was cancelled, or its output cannot be read; or if the batch's
    base URL had a password (not recorded) and the client's is not that URL.
    """
    from .client import endpoint

    if record.credentials_withheld and endpoint(client.settings) != record.endpoint:
        raise GraderError(
            f"LLM batch {record.batch_id} was sent to {record.endpoint}, whose password is not recorded: "
            "give the same base URL again (--base-url or OPENAI_BASE_URL) with --resume"
        )

    async def fetch() -> tuple[str, int, int, str | None]:
        batch = await client.client.batches.retrieve(record.batch_id)
        counts = batch.request_counts
        done = (counts.completed + counts.failed) if counts else 0
        total = counts.total if counts else record.requests
        text = None
        if batch.status == "completed" and batch.output_file_id:
            content = await client.client.files.content(batch.output_file_id)
            text = content.text if hasattr(content, "text") else content.read().decode()
        return batch.status, done, total, text

    status, done, total, text = _call(client, fetch, "ask about the batch")
    if status in RUNNING:
        return BatchState(status, done, total)
    if status != "completed":
        raise GraderError(
            f"LLM batch {record.batch_id} ended {status}: nothing to collect (run again with --batch, or without it)"
        )
    replies = read_batch_output(text or "", client.mode)
    client.preload(replies, BATCH_DISCOUNT)
    return BatchState(status, done, total, len(replies))


def read_batch_output(text: str, mode: str = "json_schema") -> dict[str, CachedReply]:
    """The usable replies of a batch's output file, by custom_id (= cache key); failed lines are left out."""
    replies: dict[str, CachedReply] = {}
    for line in text.splitlines():
        try:
            item = json.loads(line)
            response = item["response"]
            if response.get("status_code") != 200:
                continue
            completion = read_completion(json.dumps(response["body"]), "application/json")
        except (ValueError, KeyError, TypeError, AttributeError, RequestFailed):
            continue
        if completion.content and completion.finish_reason != "length" and not completion.refusal:
            replies[str(item["custom_id"])] = CachedReply(
                _unfenced(completion.content), mode, completion.usage.prompt_tokens, completion.usage.completion_tokens
            )
    return replies


def _unfenced(content: str) -> str:
    from .reply import _unfence

    return _unfence(content)


def _call(client: FeedbackClient, job: Callable[[], Any], what: str) -> Any:
    """Run one batch API call; an SDK error becomes a one-line GraderError (a missing endpoint says so)."""
    import openai

    from .client import describe_api_error, endpoint

    try:
        return client._runner.run(job())
    except openai.NotFoundError:
        raise GraderError(f"{endpoint(client.settings)} has no batch API (HTTP 404): run without --batch") from None
    except openai.OpenAIError as exc:
        raise GraderError(f"cannot {what}: {describe_api_error(exc, client.settings).notice}") from None
