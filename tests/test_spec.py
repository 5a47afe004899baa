"""The agent spec: the example is valid; every kind of mistake is one clear line naming the place."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from voice_agent.spec import SpecError, load_spec, parse_spec

from .conftest import EXAMPLE_SPEC


def _example() -> dict:
    return yaml.safe_load(EXAMPLE_SPEC.read_text())


def _error(data: object) -> str:
    with pytest.raises(SpecError) as err:
        parse_spec(data, "agent.yaml")
    message = str(err.value)
    assert "\n" not in message
    return message


def test_example_spec_is_complete() -> None:
    spec = load_spec(EXAMPLE_SPEC)
    assert [f.name for f in spec.required_fields] == ["caller_name", "date_of_birth", "callback_number", "reason"]
    assert spec.field("callback_number").read_back  # type: ignore[union-attr]
    assert spec.field("insurance_member_id").required is False  # type: ignore[union-attr]
    assert spec.languages.supported == ["en", "es"]
    assert spec.providers and spec.categories


def test_unknown_field_type_names_the_field() -> None:
    data = _example()
    data["fields"][1]["type"] = "birthday"
    message = _error(data)
    assert message.startswith("agent.yaml: fields[date_of_birth].type:")
    assert "'birthday'" in message and "person_name" in message


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(greting="hi"), "agent.yaml: greting: unknown key"),
        (lambda d: d["fields"][0].update(requried=True), "fields[caller_name].requried: unknown key"),
        (lambda d: d["languages"].update(default="fr"), "default language 'fr' is not in 'supported'"),
        (lambda d: d["fields"].append({"name": "plan", "type": "choice"}), "needs a non-empty 'choices'"),
        (lambda d: d["fields"].append(dict(d["fields"][0])), "duplicate field 'caller_name'"),
        (lambda d: d["fields"][3].update(read_back=True), "only supported on phone_number"),
        (lambda d: d.pop("closing"), "agent.yaml: closing: Field required"),
        (lambda d: d["limits"].update(idle_seconds=0), "limits.idle_seconds"),
        (lambda d: d["fields"][0].update(name="Caller Name"), "fields[Caller Name].name"),
    ],
)
def test_mistakes_are_one_clear_line(mutate, expected: str) -> None:
    data = _example()
    mutate(data)
    assert expected in _error(data)


def test_file_problems_are_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read the file"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML at line"):
        load_spec(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(SpecError, match="top level must be a mapping"):
        load_spec(bad)


def test_an_unknown_voice_is_refused_at_load_not_by_the_service_mid_call() -> None:
    data = _example()
    data["voice"] = "marvin"
    message = _error(data)
    assert message.startswith("agent.yaml: voice:") and "marin" in message
