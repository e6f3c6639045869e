"""The trigger form draws a field per param from its schema, as Airflow 2's form does, and reads a
posted form back into typed values with every problem of every field."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from tradewind.master.webserver.markdown_text import render_markdown
from tradewind.master.webserver.trigger_fields import FIELD_PREFIX, REQUIRED, build_fields, read_fields
from tradewind.sdk.params import Param, ParamsDict

PARAMS = ParamsDict(
    {
        "rows": Param(10, type="integer", minimum=1, maximum=100, title="Rows to load"),
        "ratio": Param(0.5, type="number"),
        "dry_run": Param(False, type="boolean", description="Only print what would happen"),
        "env": Param("dev", type="string", enum=["dev", "prod"], values_display={"prod": "Production"}),
        "tables": Param(["a", "b"], type="array"),
        "regions": Param([], type="array", examples=["eu", "us", "ap"]),
        "options": Param({"x": 1}, type="object"),
        "day": Param("2024-01-01", type="string", format="date", section="When"),
        "at": Param("2024-01-01T06:00:00+00:00", type="string", format="date-time", section="When"),
        "note": Param(None, type=["null", "string"]),
        "owner": Param(type="string", minLength=3),
        "version": Param(2, const=2),
        "untyped": Param(7),
    }
)


def _form(**fields: object) -> MultiDict[str, str]:
    pairs: list[tuple[str, str]] = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((FIELD_PREFIX + name, str(item)))
    return MultiDict(pairs)


def test_each_param_type_gets_the_field_an_airflow_user_expects() -> None:
    fields = {f.name: f for f in build_fields(PARAMS.items())}
    kinds = {name: f.kind for name, f in fields.items()}
    assert kinds == {
        "rows": "integer",
        "ratio": "number",
        "dry_run": "boolean",
        "env": "select",
        "tables": "lines",
        "regions": "multiselect",
        "options": "json",
        "day": "date",
        "at": "datetime",
        "note": "text",
        "owner": "text",
        "version": "const",
        "untyped": "integer",
    }
    assert fields["rows"].label == "Rows to load" and (fields["rows"].minimum, fields["rows"].maximum) == (1, 100)
    assert fields["env"].options == (('"dev"', "dev"), ('"prod"', "Production"))
    assert fields["tables"].shown == "a\nb"
    assert fields["at"].shown == "2024-01-01T06:00:00", "a datetime-local box shows UTC without the offset"
    assert fields["day"].section == "When" and fields["rows"].section is None
    assert fields["owner"].required and not fields["note"].required and not fields["rows"].required
    assert fields["dry_run"].description == "Only print what would happen"


def test_a_posted_form_becomes_typed_conf() -> None:
    form = _form(
        rows="25",
        ratio="0.75",
        dry_run="true",
        env='"prod"',
        tables="orders\n\ncustomers\n",
        regions=["eu", "ap"],
        options='{"x": 2, "y": [1]}',
        day="2024-02-03",
        at="2024-02-03T04:05",
        note="",
        owner="ana",
        version="2",
        untyped="8",
    )
    conf, problems = read_fields(PARAMS.items(), form)
    assert problems == {}
    assert conf == {
        "rows": 25,
        "ratio": 0.75,
        "dry_run": True,
        "env": "prod",
        "tables": ["orders", "customers"],
        "regions": ["eu", "ap"],
        "options": {"x": 2, "y": [1]},
        "day": "2024-02-03",
        "at": "2024-02-03T04:05:00+00:00",
        "note": None,
        "owner": "ana",
        "version": 2,
        "untyped": 8,
    }


def test_an_unticked_switch_is_false_and_unposted_fields_keep_their_defaults() -> None:
    conf, problems = read_fields(PARAMS.items(), _form(owner="ana"))
    assert problems == {}
    assert conf == {"dry_run": False, "regions": [], "owner": "ana"}


def test_every_field_with_a_problem_is_named_with_all_its_reasons() -> None:
    form = _form(rows="0", ratio="lots", options="{oops", owner="", env='"staging"')
    _, problems = read_fields(PARAMS.items(), form)
    assert set(problems) == {"rows", "ratio", "options", "owner", "env"}
    assert any("less than the minimum of 1" in p for p in problems["rows"])
    assert problems["ratio"] == ["'lots' is not a number"]
    assert problems["options"][0].startswith("not valid JSON")
    assert problems["owner"] == [REQUIRED]
    assert problems["env"] == ["'\"staging\"' is not one of the choices"]


def test_a_value_breaking_several_rules_lists_each_rule() -> None:
    params = ParamsDict({"code": Param("ab", type="string", minLength=3, pattern="^[A-Z]+$")})
    _, problems = read_fields(params.items(), _form(code="ab"))
    assert len(problems["code"]) == 2
    assert any("too short" in p for p in problems["code"]) and any("does not match" in p for p in problems["code"])


def test_posted_values_are_shown_again_with_their_problems() -> None:
    params = ParamsDict({"rows": Param(10, type="integer", minimum=1)})
    fields = build_fields(params.items(), {"rows": 0}, {"rows": ["0 is less than the minimum of 1"]})
    assert fields[0].shown == "0" and fields[0].errors == ("0 is less than the minimum of 1",)


def test_markdown_from_a_dag_file_is_shown_never_run() -> None:
    html = str(render_markdown("**bold** <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://a.example/)"))
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and 'href="https://a.example/"' in html
    assert str(render_markdown(None)) == ""
