"""LLM settings: where they come from, in which order, and how a bad file is reported."""

from __future__ import annotations

import pytest

from grader.config import (
    LLMSettings,
    config_dir,
    data_dir,
    load_llm_settings,
    settings_path,
)
from grader.errors import InputError

KEY = "sk-test-DO-NOT-LEAK-0123456789abcdef"

FILE = """
[llm]
model = "file-model"
base_url = "http://file:8000/v1"
timeout = 12
concurrency = 2

[llm.prices."file-model"]
input = 0.5
output = 1.5
"""


def write_settings(text: str):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_grader_home_holds_config_and_data(isolated_env):
    assert config_dir() == data_dir() == isolated_env
    assert settings_path() == isolated_env / "settings.toml"


def test_defaults_without_file_or_environment():
    s = load_llm_settings(env={})
    assert (s.model, s.base_url, s.api_key, s.timeout, s.max_retries, s.concurrency, s.cache) == (
        "gpt-4o-mini",
        None,
        None,
        60.0,
        2,
        4,
        True,
    )
    assert not s.active
    assert set(s.sources.values()) == {"default"}


# (setting, from file, from environment, from a flag, expected value, expected source)
PRECEDENCE = [
    ("model", True, {}, {}, "file-model", "settings file"),
    ("model", True, {"GRADER_MODEL": "env-model"}, {}, "env-model", "environment GRADER_MODEL"),
    ("model", True, {"GRADER_MODEL": "env-model"}, {"model": "flag-model"}, "flag-model", "command line"),
    ("base_url", True, {"OPENAI_BASE_URL": "http://env/v1"}, {}, "http://env/v1", "environment OPENAI_BASE_URL"),
    ("base_url", True, {"OPENAI_BASE_URL": "http://env/v1"}, {"base_url": "http://flag/v1"}, "http://flag/v1", "command line"),
    ("timeout", True, {"GRADER_LLM_TIMEOUT": "3.5"}, {}, 3.5, "environment GRADER_LLM_TIMEOUT"),
    ("concurrency", True, {}, {"concurrency": 9}, 9, "command line"),
    ("concurrency", False, {"GRADER_LLM_CONCURRENCY": "7"}, {}, 7, "environment GRADER_LLM_CONCURRENCY"),
    ("max_retries", True, {}, {}, 2, "default"),
    ("enabled", False, {"GRADER_LLM": "1"}, {}, True, "environment GRADER_LLM"),
    ("offline", False, {"GRADER_OFFLINE": "true"}, {"enabled": True}, True, "environment GRADER_OFFLINE"),
    ("cache", False, {}, {"cache": False}, False, "command line"),
]


@pytest.mark.parametrize("name, use_file, env, flags, value, source", PRECEDENCE)
def test_precedence_flags_env_file_defaults(name, use_file, env, flags, value, source):
    if use_file:
        write_settings(FILE)
    s = load_llm_settings(flags=flags, env=env)
    assert getattr(s, name) == value
    assert s.sources[name].startswith(source)


def test_prices_come_from_the_file():
    write_settings(FILE)
    s = load_llm_settings(flags={"model": "file-model"}, env={})
    assert s.price().cost(1_000_000, 2_000_000) == pytest.approx(3.5)
    assert load_llm_settings(flags={"model": "other"}, env={}).price() is None


def test_offline_wins_over_everything():
    s = load_llm_settings(flags={"enabled": True, "offline": True}, env={"OPENAI_API_KEY": KEY, "GRADER_LLM": "1"})
    assert s.enabled and s.offline and not s.active


@pytest.mark.parametrize(
    "text, message, line",
    [
        ('[llm]\nmodel = "x"\ntimeout = \n', "invalid TOML: ", 3),
        ('[llm]\nmodel = "x"\nmodle = "y"\n', "[llm] has no setting 'modle'", 3),
        ('[llm]\napi_key = "sk-123"\n', "api_key does not belong in the settings file: set OPENAI_API_KEY", 2),
        ('[llm]\n\nconcurrency = 0\n', "[llm] concurrency: Input should be greater than or equal to 1", 3),
        ('[llm.prices.m]\ninput = -1\noutput = 1\n', "[llm] prices.m.input: Input should be greater than or equal to 0", 2),
    ],
)
def test_a_bad_settings_file_is_one_line_with_file_and_line(text, message, line):
    path = write_settings(text)
    with pytest.raises(InputError) as caught:
        load_llm_settings(env={})
    assert caught.value.message.startswith(message)
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert "sk-123" not in str(caught.value)


def test_other_tables_of_the_settings_file_are_left_to_their_modules():
    write_settings('[practice]\nnew_per_day = 20\n\n[llm]\nmodel = "m"\n')
    assert load_llm_settings(env={}).model == "m"


def test_a_bad_value_from_the_environment_names_its_source():
    with pytest.raises(InputError, match="setting 'timeout' from environment GRADER_LLM_TIMEOUT"):
        load_llm_settings(env={"GRADER_LLM_TIMEOUT": "soon"})


@pytest.mark.parametrize(
    "key, masked",
    [(KEY, "****cdef"), ("short-key", "****"), (None, "(none)")],
)
def test_the_key_is_only_ever_shown_masked(key, masked):
    s = LLMSettings(api_key=key)
    assert s.masked_key() == masked
    assert s.redact(f"error: key {key} refused") == f"error: key {masked if key else None} refused"
    if key:
        assert key not in repr(s) and key not in str(s.model_dump()) and key not in s.model_dump_json()


def test_grading_thresholds_come_from_flags_then_the_grading_table_then_defaults():
    from grader.config import load_grading_settings
    from grader.scoring import GradingSettings

    assert load_grading_settings() == GradingSettings()
    write_settings("[grading]\ncorrect_threshold = 0.9\npartial_floor = 0.3\n")
    from_file = load_grading_settings()
    assert (from_file.correct_threshold, from_file.partial_floor, from_file.found_threshold) == (0.9, 0.3, 0.75)
    assert load_grading_settings({"correct_threshold": 0.8, "partial_floor": None}).correct_threshold == 0.8


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("[grading]\ncorect_threshold = 0.9\n", 2, "[grading] has no setting 'corect_threshold'"),
        ("[grading]\n\ncorrect_threshold = 2\n", 3, "[grading] correct_threshold: Input should be less than or equal to 1"),
        # Out of order, a verdict or a credit no answer can reach: said at the table's line, as neither key alone is wrong.
        ("[grading]\npartial_threshold = 0.8\n", 1, "[grading] partial_threshold (0.8) is above correct_threshold (0.7), so no answer could be partial"),
        ("[grading]\npartial_floor = 0.9\n", 1, "[grading] partial_floor (0.9) is above found_threshold (0.75), so no term could earn part of its credit"),
    ],
)
def test_a_bad_grading_table_is_one_line_with_file_and_line(text, line, message):
    from grader.config import load_grading_settings

    path = write_settings(text)
    with pytest.raises(InputError) as err:
        load_grading_settings()
    assert str(err.value) == f"{path}:{line}: {message}"


def test_the_grading_table_reaches_the_grade_command(seed_deck, tmp_path):
    from .conftest import SEED_DECK, run_cli

    answers = tmp_path / "a.jsonl"
    answers.write_text('{"card": 3, "answer": "sharing, aggregation, emulation"}\n', encoding="utf-8")
    before = run_cli("grade", str(SEED_DECK), str(answers), "--json")
    write_settings("[grading]\ncorrect_threshold = 0.9\n")
    after = run_cli("grade", str(SEED_DECK), str(answers), "--json")
    assert '"verdict": "correct"' in before.stdout and '"verdict": "partial"' in after.stdout
