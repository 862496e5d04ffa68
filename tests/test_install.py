"""grader as its wheel installs it, away from the repository: the files it ships are found there, and only there."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

SHIPPED = ("decks", "prompts", "eval/seed_dev.jsonl")  # what the code asks resources.bundled for
WHERE = "from grader.resources import bundled; print(*(bundled(name) for name in {names!r}), sep='\\n')"


def installed_layout(site: Path) -> Path:
    """The package laid out in ``site`` as the wheel installs it: ``grader/`` with pyproject's force-include inside."""
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    shutil.copytree(ROOT / "grader", site / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    for source, target in wheel["force-include"].items():
        copy = shutil.copytree if (ROOT / source).is_dir() else shutil.copy2
        (site / target).parent.mkdir(parents=True, exist_ok=True)
        copy(ROOT / source, site / target)
    return site


def where_bundled(tmp_path: Path, import_path: Path, names=SHIPPED) -> list[str]:
    """What ``bundled`` answers for ``names`` in a process importing grader from ``import_path``, outside the repository."""
    env = {**os.environ, "PYTHONPATH": str(import_path), "GRADER_HOME": str(tmp_path / "home")}
    code = "import grader; assert grader.__file__.startswith(" + repr(str(import_path)) + "); " + WHERE.format(names=names)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_an_installed_package_reads_its_own_copy_not_a_folder_of_that_name_beside_it(tmp_path):
    """Beside an installed package is site-packages: another distribution's ``decks/`` there was practised as the
    bundled deck, and its ``prompts/`` turned LLM feedback off ("the prompt files are missing")."""
    site = installed_layout(tmp_path / "site-packages")
    (site / "decks").mkdir()
    (site / "decks" / "theirs.md").write_text("1. <details><summary>Whose?</summary>\n\n==theirs==\n</details>\n")
    (site / "prompts").mkdir()
    (site / "eval").mkdir()
    (site / "eval" / "seed_dev.jsonl").write_text("{}\n")
    assert where_bundled(tmp_path, site) == [str(site / "grader" / "_bundled" / name) for name in SHIPPED]


def test_a_package_imported_from_a_zip_file_finds_what_it_ships(tmp_path):
    """Imported from a zip (a wheel on PYTHONPATH), the bundled deck, prompts and seed set were 'missing from this
    installation': they were looked for as files. They are copied out into grader's data folder, the same every run."""
    site = installed_layout(tmp_path / "site")
    archive = tmp_path / "grader.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(site.rglob("*")):
            zipped.write(path, path.relative_to(site).as_posix())
    unpacked = tmp_path / "home" / "bundled"
    expected = [str(unpacked / name) for name in SHIPPED]
    assert where_bundled(tmp_path, archive) == expected
    assert where_bundled(tmp_path, archive) == expected  # again, over the copy already made
    for name in ("decks/virtualization.md", "prompts/system.md", "prompts/rubric.md", "prompts/worked_example.yaml"):
        assert (unpacked / name).read_bytes() == (ROOT / name).read_bytes(), name
    assert (unpacked / "eval/seed_dev.jsonl").read_bytes() == (ROOT / "eval/seed_dev.jsonl").read_bytes()
    assert where_bundled(tmp_path, archive, names=("no-such-file",)) == ["None"]


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_a_bundled_file_whose_copy_fails_leaves_nothing_behind(tmp_path, monkeypatch, failure):
    """Copying a bundled file out of a zip import left its half-written '.part' file in the data folder when the
    write failed (a full disk) or was interrupted: a text file written whole never did."""
    from grader import resources

    source = tmp_path / "zip" / "decks"
    source.mkdir(parents=True)
    (source / "deck.md").write_bytes(b"1. <details><summary>Q</summary>\n\n==A==\n\n</details>\n" * 1000)
    real_write_bytes = Path.write_bytes

    def fails_halfway(self, data):
        real_write_bytes(self, data[: len(data) // 2])
        raise failure

    monkeypatch.setattr(Path, "write_bytes", fails_halfway)
    target = tmp_path / "data" / "bundled" / "decks"
    with pytest.raises(type(failure)):
        resources._copy(source, target)
    assert list(target.iterdir()) == []
