"""Workspace loading and ``eventyard check``: errors name the file, the line and the field; exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eventyard.config.errors import WorkspaceError
from eventyard.config.loader import load_workspace

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "eventyard.yaml").write_text(text)
    return tmp_path


def check(directory: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "eventyard", "check", "-w", str(directory)],
                          capture_output=True, text=True, env=env)


def test_example_workspace_is_valid():
    result = check(REPO / "examples" / "workspace")
    assert result.returncode == 0, result.stderr
    assert "2 source(s), 1 destination(s)" in result.stdout


def test_unknown_key_is_one_line_naming_file_line_and_field(tmp_path):
    directory = write(tmp_path, "version: 1\nsources:\n  - name: web\n    write_key: k\n"
                                "    colour: red\n")
    result = check(directory)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: {directory / 'eventyard.yaml'}:5: sources[0].colour: "
                     "Extra inputs are not permitted"]


def test_destination_settings_are_validated_by_their_type(tmp_path):
    directory = write(tmp_path, "sources:\n  - {name: web, write_key: k}\ndestinations:\n"
                                "  - name: a\n    type: file\n    settings:\n      gzip: maybe\n"
                                "  - name: b\n    type: carrier-pigeon\n")
    with pytest.raises(WorkspaceError) as err:
        load_workspace(directory)
    found = [(p.line, p.field) for p in err.value.problems]
    assert found == [(7, "destinations[0].settings.gzip"), (9, "destinations[1].type")]
    assert "carrier-pigeon" in str(err.value) and "file" in str(err.value)


def test_env_references_resolve_or_fail(tmp_path):
    directory = write(tmp_path, "sources:\n  - name: web\n    write_key: ${WEB_KEY}\n"
                                "  - name: app\n    write_key: ${APP_KEY:-dev-key}\n")
    loaded = load_workspace(directory, env={"WEB_KEY": "from-env"})
    assert [s.write_key for s in loaded.model.sources] == ["from-env", "dev-key"]
    with pytest.raises(WorkspaceError) as err:
        load_workspace(directory, env={})
    assert str(err.value).endswith("eventyard.yaml:3: sources[0].write_key: "
                                   "environment variable WEB_KEY is not set")


@pytest.mark.parametrize("text,line,fragment", [
    ("sources: [\n", 2, "invalid YAML"),
    ("- just a list\n", 1, "must be a mapping"),
    ("sources:\n  - {name: Web Site, write_key: k}\n", 2, "sources[0].name"),
    ("sources:\n  - {name: a, write_key: k}\n  - {name: a, write_key: j}\n", 2, "duplicate name"),
    ("sources:\n  - {name: a, write_key: k}\ndestinations:\n  - {name: d, type: file, sources: [b]}\n",
     1, "unknown source 'b'"),
])
def test_broken_files_report_where(tmp_path, text, line, fragment):
    with pytest.raises(WorkspaceError) as err:
        load_workspace(write(tmp_path, text))
    [problem] = err.value.problems
    assert problem.line == line and fragment in str(problem)


def test_missing_file(tmp_path):
    result = check(tmp_path / "nowhere")
    assert result.returncode == 2 and "cannot read workspace file" in result.stderr


def test_topic_compression_defaults_to_zstd_and_names_the_field_when_unknown(tmp_path):
    loaded = load_workspace(write(tmp_path, "sources:\n  - {name: web, write_key: k}\n"))
    assert loaded.model.topics.compression_type == "zstd"
    assert loaded.model.topics.dest_linger_ms == 50
    loaded = load_workspace(write(tmp_path, "topics: {compression: none}\nsources:\n  - {name: web, write_key: k}\n"))
    assert loaded.model.topics.compression_type is None
    with pytest.raises(WorkspaceError) as err:
        load_workspace(write(tmp_path, "topics:\n  compression: brotli\nsources:\n  - {name: web, write_key: k}\n"))
    [problem] = err.value.problems
    assert (problem.line, problem.field) == (2, "topics.compression")
    assert "zstd" in str(problem)
