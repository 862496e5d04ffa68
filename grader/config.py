"""Where grader keeps its files, and the user's settings (``[llm]``, ``[grading]``, ``[practice]``).

Files live in the user's config and data dirs (platformdirs); ``GRADER_HOME``
puts all of them in one directory instead (tests use it, and so can a portable
setup). The settings file is ``settings.toml`` in the config dir. Each setting
is taken from the first of these that gives it:

    command-line flags  >  environment  >  settings file  >  defaults

The environment is the openai library's own (``OPENAI_API_KEY``,
``OPENAI_BASE_URL``) plus ``GRADER_MODEL``, ``GRADER_LLM``, ``GRADER_OFFLINE``,
``GRADER_LLM_TIMEOUT`` and ``GRADER_LLM_CONCURRENCY``. The API key is only read
from the environment, never from the file, and never shown unmasked.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .errors import InputError

if TYPE_CHECKING:
    from .schedule import ScheduleSettings
    from .scoring import GradingSettings

APP_NAME = "grader"
SETTINGS_FILE = "settings.toml"
TABLES = ("llm", "grading", "practice")  # the settings file's tables; anything else in it is a mistake

# Environment variable -> setting. Read as the openai library reads its own.
ENV_VARS = {
    "OPENAI_API_KEY": "api_key",
    "OPENAI_BASE_URL": "base_url",
    "GRADER_MODEL": "model",
    "GRADER_LLM": "enabled",
    "GRADER_OFFLINE": "offline",
    "GRADER_LLM_TIMEOUT": "timeout",
    "GRADER_LLM_CONCURRENCY": "concurrency",
}


def config_dir() -> Path:
    """The directory of the settings file (``GRADER_HOME`` if set)."""
    home = os.environ.get("GRADER_HOME")
    if home:
        return Path(home)
    import platformdirs

    return platformdirs.user_config_path(APP_NAME)


def data_dir() -> Path:
    """The directory of grader's databases (``GRADER_HOME`` if set)."""
    home = os.environ.get("GRADER_HOME")
    if home:
        return Path(home)
    import platformdirs

    return platformdirs.user_data_path(APP_NAME)


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def read_settings_file(path: Path | None = None) -> dict[str, Any]:
    """The settings file as a dict of tables (empty when there is no file).

    Each module validates its own table; a TOML syntax error is reported with
    the file and line.
    """
    from .files import may_exist, read_text

    path = path or settings_path()
    if not may_exist(path):
        return {}
    text = read_text(path, what="settings file")  # an error names the line of a bad byte, refuses a pipe
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        tables = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise InputError(f"invalid TOML: {message}", path=path, line=int(found[1]) if found else None) from None
    for name, value in tables.items():  # a misspelt table, or a setting above every table, would be ignored
        if name in TABLES:
            continue
        if isinstance(value, dict):
            message = f"the settings file has no table [{name}] (its tables: {', '.join(f'[{t}]' for t in TABLES)})"
        else:
            message = f"{name} is not in a table: settings go under [llm], [grading] or [practice]"
        raise InputError(message, path=path, line=_key_line(path, name, ()))
    return tables


class Price(BaseModel):
    """What a model costs, in US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0, description="USD per million prompt tokens.")
    output: float = Field(ge=0, description="USD per million completion tokens.")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


def _http_url(value: str | None) -> str | None:
    """A base URL the openai library can send to: without a scheme or host (``localhost:11434/v1``) every request
    would fail as a broken connection, retried, instead of one line saying what is wrong."""
    from urllib.parse import urlparse

    from .llm.secrets import shown_url

    if not value:
        return value
    try:
        parsed = urlparse(value)
        sendable = parsed.scheme in ("http", "https") and bool(parsed.hostname)
    except ValueError:  # "http://[::1": an unclosed IPv6 address
        sendable = False
    if not sendable:
        raise ValueError(f"{shown_url(value)!r} is not an http:// or https:// URL with a host (like http://localhost:11434/v1)")
    try:
        parsed.port  # noqa: B018 - raises for a port that is not a number from 0 to 65535
    except ValueError:  # else every request fails deep in the HTTP client, with a traceback
        raise ValueError(f"{shown_url(value)!r} has a port that is not a number up to 65535") from None
    if parsed.query or parsed.fragment or value.rstrip().endswith(("?", "#")):
        # The SDK appends each path after the query ("/v1?api-key=...chat/completions"), and a query often holds a key.
        shown = shown_url(re.split(r"[?#]", value, maxsplit=1)[0]) + "?…"
        raise ValueError(f"{shown!r} has a query string or fragment, which the openai library would put before each request's path: remove it")
    return value


class LLMFileSettings(BaseModel):
    """The ``[llm]`` table of the settings file: what users may write there."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = Field(None, description="Give LLM feedback without --llm.")
    model: str | None = None
    base_url: str | None = None
    timeout: float | None = Field(None, gt=0, allow_inf_nan=False)
    max_retries: int | None = Field(None, ge=0, le=10)
    concurrency: int | None = Field(None, ge=1, le=64)
    repair_attempts: int | None = Field(None, ge=0, le=5)
    cache: bool | None = None
    prices: dict[str, Price] = Field(default_factory=dict)

    _base_url = field_validator("base_url")(_http_url)


class LLMSettings(BaseModel):
    """The resolved LLM settings and where each came from (``sources``)."""

    enabled: bool = Field(False, description="LLM feedback requested (--llm, GRADER_LLM or the file).")
    offline: bool = Field(False, description="Keyword-only, whatever else says (--offline).")
    model: str = "gpt-4o-mini"
    base_url: str | None = Field(None, description="None means the openai library's default (api.openai.com).")
    api_key: SecretStr | None = None
    timeout: float = Field(
        60.0, gt=0, allow_inf_nan=False, description="Seconds to wait for one reply (local models can be slow)."
    )
    max_retries: int = Field(2, ge=0, le=10, description="The SDK's retries with backoff on 429, 5xx, timeouts.")
    concurrency: int = Field(4, ge=1, le=64, description="Requests in flight at once in a batch.")
    repair_attempts: int = Field(2, ge=0, le=5, description="Retries of an invalid reply with the error fed back.")
    cache: bool = True
    prices: dict[str, Price] = Field(default_factory=dict)
    sources: dict[str, str] = Field(default_factory=dict, exclude=True)

    _base_url = field_validator("base_url")(_http_url)

    @property
    def active(self) -> bool:
        """Whether LLM feedback is to be asked for at all."""
        return self.enabled and not self.offline

    def key_value(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key else None

    def masked_key(self) -> str:
        """The key as it may be shown: its last four characters at most."""
        key = self.key_value()
        if not key:
            return "(none)"
        return "****" + key[-4:] if len(key) >= 16 else "****"

    def redact(self, text: str) -> str:
        """``text`` with the API key masked wherever it appears."""
        key = self.key_value()
        return text.replace(key, self.masked_key()) if key else text

    def price(self) -> Price | None:
        return self.prices.get(self.model)


def load_llm_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> LLMSettings:
    """LLM settings from flags, environment, settings file and defaults, in that order.

    ``flags`` holds command-line values; None means "not given".
    """
    env = os.environ if env is None else env
    path = path or settings_path()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    file_table = settings_table("llm", path)
    try:
        from_file = LLMFileSettings.model_validate(file_table)
    except ValidationError as exc:
        raise _table_error("llm", exc, path) from None
    for name, value in from_file.model_dump(exclude_none=True).items():
        if name != "prices":
            values[name], sources[name] = value, f"settings file {path}"
    values["prices"] = from_file.prices

    for var, name in ENV_VARS.items():
        if env.get(var):
            values[name], sources[name] = env[var], f"environment {var}"
    for name, value in (flags or {}).items():
        if value is not None:
            values[name], sources[name] = value, "command line"
    try:
        settings = LLMSettings.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "?"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "bool_parsing":  # GRADER_OFFLINE=maybe: say which values are taken
            message = f"{err['input']!r} is not true or false (use 1/0, true/false, yes/no or on/off)"
        raise InputError(f"setting {name!r} from {sources.get(name, 'defaults')}: {message}") from None
    settings.sources = {name: sources.get(name, "default") for name in LLMSettings.model_fields if name != "sources"}
    return settings


_TOML_TYPES = {list: "an array", str: "a string", bool: "a boolean", int: "an integer", float: "a float"}


def settings_table(name: str, path: Path) -> dict[str, Any]:
    """The ``[name]`` table of the settings file (empty when absent); a value that is not a table is an InputError."""
    table = read_settings_file(path).get(name, {})
    if not isinstance(table, dict):
        kind = _TOML_TYPES.get(type(table), "a date or time")
        raise InputError(
            f"{name} must be a table ([{name}] with its settings under it), not {kind}",
            path=path,
            line=_key_line(path, name, ()),
        )
    return table


def _table_error(table: str, exc: ValidationError, path: Path) -> InputError:
    """A one-line error naming the table's key and, when it can be found, its line."""
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"])
    if err["type"] == "extra_forbidden" and loc == "api_key":
        message = "api_key does not belong in the settings file: set OPENAI_API_KEY in the environment"
    elif err["type"] == "extra_forbidden":
        message = f"[{table}] has no setting {loc!r}"
    elif loc:
        message = f"[{table}] {loc}: {err['msg'].removeprefix('Value error, ')}"
    else:
        message = f"[{table}] {err['msg'].removeprefix('Value error, ')}"
    return InputError(message, path=path, line=_key_line(path, table, err["loc"]))


_HEADER = re.compile(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")


def _key_line(path: Path, table: str, loc: tuple) -> int | None:
    """The line of the settings file where ``loc`` in ``table`` is set, as best as it can be told.

    The key is looked for under the table's headers first (``[table]``, ``[table.sub]``);
    with no key, or none found there, the line that sets the table itself.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None

    def sets(key: str, text: str) -> bool:
        return re.match(rf"\s*[\"']?{re.escape(key)}[\"']?\s*[=.]", text) is not None

    key = str(loc[-1]) if loc else None
    section, table_line, in_table = None, None, False
    for number, text in enumerate(lines, start=1):
        header = _HEADER.match(text)
        if header:
            section = re.sub(r"[\"'\s]", "", header[1])
            in_table = section == table or section.startswith(table + ".")
            if section == table and table_line is None:
                table_line = number
            elif key is not None and section == f"{table}.{key}":  # [table.key]: a sub-table where a setting belongs
                return number
        elif section is None and sets(table, text):  # table = ... at the top level
            table_line = table_line or number
        elif key is not None and in_table and sets(key, text):
            return number
    return table_line


def load_grading_settings(flags: Mapping[str, Any] | None = None, path: Path | None = None) -> GradingSettings:
    """The keyword grader's thresholds from flags, then the ``[grading]`` table, then defaults.

    Built once per command and passed to everything that grades, so the LLM
    prompt, the judge and the evaluation harness all use the same thresholds.
    """
    from .scoring import GradingSettings

    path = path or settings_path()
    table = settings_table("grading", path)
    try:
        from_file = GradingSettings.model_validate(table)
    except ValidationError as exc:
        raise _table_error("grading", exc, path) from None
    given = {name: value for name, value in (flags or {}).items() if value is not None}
    if not given:
        return from_file
    try:
        return GradingSettings(**{**from_file.model_dump(exclude_unset=True), **given})  # a threshold given alone sets its kin
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"setting {'.'.join(map(str, err['loc']))!r} from command line: {err['msg']}") from None


def load_schedule_settings(flags: Mapping[str, Any] | None = None, path: Path | None = None) -> ScheduleSettings:
    """Practice settings from flags, then the ``[practice]`` table of the settings file, then defaults."""
    from .schedule import settings_from

    path = path or settings_path()
    table = settings_table("practice", path)
    try:
        return settings_from(table, flags)
    except ValidationError as exc:
        raise _table_error("practice", exc, path) from None


def unused_table_mistakes(used: Collection[str], path: Path | None = None) -> list[tuple[str, InputError]]:
    """The mistakes in the tables of the settings file a command does not read (``used``: those it does), by table.

    A command's own tables are checked as it loads them, and their mistakes stop it; these are returned for a warning,
    so that a mistake in the file is heard of from any command that reads the file, not only from those that use the
    table. Each table is checked by its own loader, so that it is said as those commands say it.
    """
    path = path or settings_path()
    loaders = {
        "llm": lambda: load_llm_settings(env={}, path=path),
        "grading": lambda: load_grading_settings(path=path),
        "practice": lambda: load_schedule_settings(path=path),
    }
    mistakes = []
    written = read_settings_file(path)  # a file that cannot be read at all is each command's error, as before
    for name in TABLES:
        if name in written and name not in used:
            try:
                loaders[name]()
            except InputError as exc:
                mistakes.append((name, exc))
    return mistakes
