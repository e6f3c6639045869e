"""Rendering of templated operator fields, checked against what Airflow 2 renders."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import jinja2
import jinja2.ext
import pytest

from tradewind.sdk.context import RunInfo, build_context
from tradewind.sdk.templating import (
    TemplateRenderError,
    make_environment,
    render_task_fields,
    render_template,
)

LOGICAL = datetime(2024, 3, 5, tzinfo=UTC)


def make_dag(**attrs):
    defaults = dict(
        dag_id="etl",
        fileloc=None,
        template_searchpath=None,
        user_defined_macros=None,
        render_template_as_native_obj=False,
    )
    return SimpleNamespace(**{**defaults, **attrs})


def make_task(dag, template_fields=("cmd",), **fields):
    return SimpleNamespace(task_id="t1", dag=dag, template_fields=template_fields, **fields)


def make_context(dag, task, *, params=None, conf=None):
    conf = conf if conf is not None else {"target": "s3://bucket"}
    run = RunInfo(
        dag_id=dag.dag_id if dag else "etl",
        run_id="scheduled__2024-03-05T00:00:00+00:00",
        run_type="scheduled",
        logical_date=LOGICAL,
        data_interval_start=LOGICAL,
        data_interval_end=LOGICAL + timedelta(days=1),
        conf=conf,
    )
    ti = SimpleNamespace(task_id=task.task_id, try_number=1, map_index=-1)
    return build_context(dag=dag, task=task, run=run, ti=ti, params=params or {"n": 3})


def render_one(template, dag=None, **context_kwargs):
    dag = dag or make_dag()
    task = make_task(dag, cmd=template)
    render_task_fields(task, make_context(dag, task, **context_kwargs))
    return task.cmd


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ ds }}", "2024-03-05"),
        ("{{ ds_nodash }}", "20240305"),
        ("{{ ts }}", "2024-03-05T00:00:00+00:00"),
        ("{{ ts_nodash }}", "20240305T000000"),
        ("{{ ts_nodash_with_tz }}", "20240305T000000+0000"),
        ("{{ logical_date }}", "2024-03-05 00:00:00+00:00"),
        ("{{ execution_date }}", "2024-03-05 00:00:00+00:00"),
        ("{{ data_interval_start }}", "2024-03-05 00:00:00+00:00"),
        ("{{ data_interval_end }}", "2024-03-06 00:00:00+00:00"),
        ("{{ run_id }}", "scheduled__2024-03-05T00:00:00+00:00"),
        ("{{ dag_run.run_id }}", "scheduled__2024-03-05T00:00:00+00:00"),
        ("{{ params.n }}", "3"),
        ("{{ params['n'] + 1 }}", "4"),
        ("{{ dag_run.conf['target'] }}", "s3://bucket"),
        ("{{ dag_run.conf.target }}", "s3://bucket"),
        ("{{ macros.ds_add(ds, 7) }}", "2024-03-12"),
        ("{{ macros.ds_add(ds, -5) }}", "2024-02-29"),
        ("{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%Y') }}", "05/03/2024"),
        ("{{ macros.datetime(2024, 1, 2).strftime('%Y') }}", "2024"),
        ("{{ (macros.timedelta(days=2)).days }}", "2"),
        ("{{ macros.json.dumps({'a': 1}) }}", '{"a": 1}'),
        ("{{ data_interval_end | ds }}", "2024-03-06"),
        ("{{ logical_date.add(days=1).format('YYYY-MM-DD') }}", "2024-03-06"),
        ("{{ logical_date.add(hours=6) }}", "2024-03-05 06:00:00+00:00"),
        ("{{ macros.datetime(2024, 1, 2, 3) }}", "2024-01-02 03:00:00"),
        ("{{ logical_date.subtract(hours=1).strftime('%H') }}", "23"),
        ("{{ next_ds }} {{ yesterday_ds }}", "2024-03-06 2024-03-04"),
        ("{{ ti.try_number }} {{ task.task_id }}", "1 t1"),
        ("{% do params.update({'m': 1}) %}{{ params.m }}", "1"),
    ],
)
def test_renders_like_airflow(template, expected):
    assert render_one(template) == expected


def test_macros_random_is_the_function():
    assert 0 <= float(render_one("{{ macros.random() }}")) < 1
    assert len(render_one("{{ macros.uuid.uuid4() }}")) == 36


def test_user_defined_macros_and_filters():
    dag = make_dag(
        user_defined_macros={"env": "prod", "double": lambda x: x * 2},
        user_defined_filters={"shout": lambda s: s.upper() + "!"},
    )
    assert render_one("{{ env }}-{{ double(21) }}-{{ 'hi' | shout }}", dag=dag) == "prod-42-HI!"


def test_nested_list_and_dict_fields():
    dag = make_dag()
    task = make_task(
        dag,
        template_fields=("args", "env"),
        args=["--day", "{{ ds }}", ("{{ ds_nodash }}", 5)],
        env={"DAY": "{{ ds }}", "N": 1, "NESTED": {"RUN": "{{ run_id }}"}},
    )
    shown = render_task_fields(task, make_context(dag, task))
    assert task.args == ["--day", "2024-03-05", ("20240305", 5)]
    assert task.env == {
        "DAY": "2024-03-05",
        "N": 1,
        "NESTED": {"RUN": "scheduled__2024-03-05T00:00:00+00:00"},
    }
    assert shown["args"] == ["--day", "2024-03-05", ["20240305", 5]]


def test_nested_object_with_template_fields_is_rendered_in_place():
    inner = SimpleNamespace(template_fields=("path",), path="/data/{{ ds_nodash }}", other="{{ ds }}")
    dag = make_dag()
    task = make_task(dag, cmd=[inner])
    shown = render_task_fields(task, make_context(dag, task))
    assert task.cmd[0] is inner
    assert inner.path == "/data/20240305"
    assert inner.other == "{{ ds }}"  # not a template field of the inner object
    assert isinstance(shown["cmd"][0], str)


def test_non_string_scalars_pass_through():
    env = make_environment(None)
    when = datetime(2024, 1, 1, tzinfo=UTC)
    assert render_template(5, {}, env) == 5
    assert render_template(None, {}, env) is None
    assert render_template(when, {}, env) is when


def test_falsy_fields_are_left_alone():
    dag = make_dag()
    task = make_task(dag, template_fields=("cmd", "empty"), cmd="", empty=None)
    assert render_task_fields(task, make_context(dag, task)) == {"cmd": "", "empty": None}


def test_sh_template_file_is_loaded_from_search_path(tmp_path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "run.sh").write_text("echo {{ ds }} {{ params.n }}\n")
    dag = make_dag(template_searchpath=str(tmp_path))
    task = make_task(dag, cmd="scripts/run.sh")
    task.template_ext = (".sh", ".bash")
    render_task_fields(task, make_context(dag, task))
    assert task.cmd == "echo 2024-03-05 3"


def test_template_file_next_to_dag_file(tmp_path):
    (tmp_path / "query.sql").write_text("SELECT '{{ ds }}'")
    dag = make_dag(fileloc=str(tmp_path / "my_dag.py"), template_searchpath=[])
    task = make_task(dag, cmd="query.sql", template_ext=(".sql",))
    render_task_fields(task, make_context(dag, task))
    assert task.cmd == "SELECT '2024-03-05'"


def test_missing_template_file_names_file_and_search_path(tmp_path):
    dag = make_dag(template_searchpath=[str(tmp_path)])
    task = make_task(dag, cmd="missing.sh", template_ext=(".sh",))
    with pytest.raises(TemplateRenderError) as err:
        render_task_fields(task, make_context(dag, task))
    message = str(err.value)
    assert message.startswith("cannot render t1.cmd: template file 'missing.sh' not found")
    assert str(tmp_path) in message
    assert isinstance(err.value.__cause__, jinja2.TemplateNotFound)


def test_string_without_template_ext_is_rendered_inline(tmp_path):
    dag = make_dag(template_searchpath=[str(tmp_path)])
    task = make_task(dag, cmd="bash run.sh --day {{ ds }} ", template_ext=(".sh",))
    render_task_fields(task, make_context(dag, task))
    assert task.cmd == "bash run.sh --day 2024-03-05 "


def test_undefined_variable_names_task_and_field():
    with pytest.raises(TemplateRenderError, match="cannot render t1.cmd: 'ds_nodashx' is undefined"):
        render_one("echo {{ ds_nodashx }}")


def test_syntax_error_names_task_and_field():
    with pytest.raises(TemplateRenderError, match="cannot render t1.cmd: "):
        render_one("echo {{ ds ")


def test_error_inside_a_macro_names_task_and_field():
    with pytest.raises(TemplateRenderError, match="cannot render t1.cmd: ValueError: "):
        render_one("{{ macros.ds_add('not-a-date', 1) }}")


def test_missing_template_field_attribute_is_reported():
    dag = make_dag()
    task = SimpleNamespace(task_id="t1", dag=dag, template_fields=("nope",))
    with pytest.raises(TemplateRenderError, match="cannot render t1.nope: 'nope' is a template field"):
        render_task_fields(task, {})


def test_native_environment_returns_python_objects():
    dag = make_dag(render_template_as_native_obj=True)
    task = make_task(dag, template_fields=("items", "count"), items="{{ [ds, params.n] }}", count="{{ params.n + 1 }}")
    shown = render_task_fields(task, make_context(dag, task))
    assert task.items == ["2024-03-05", 3]
    assert task.count == 4
    assert shown == {"items": ["2024-03-05", 3], "count": 4}


def test_task_without_dag_uses_default_environment():
    task = SimpleNamespace(task_id="t1", dag=None, template_fields=["cmd"], cmd="{{ ds }}")
    render_task_fields(task, make_context(None, task))
    assert task.cmd == "2024-03-05"


def test_sandbox_blocks_dunder_attributes():
    with pytest.raises(TemplateRenderError, match="cannot render t1.cmd"):
        render_one("{{ ''.__class__.__mro__ }}")


def test_native_environment_keeps_datetimes():
    dag = make_dag(render_template_as_native_obj=True)
    task = make_task(dag, cmd="{{ data_interval_end }}")
    render_task_fields(task, make_context(dag, task))
    assert task.cmd == LOGICAL + timedelta(days=1)


def test_rendered_values_are_json_safe():
    dag = make_dag(render_template_as_native_obj=True)
    task = make_task(dag, template_fields=("when", "tags"), when="{{ logical_date }}", tags={"b", "a"})
    shown = render_task_fields(task, make_context(dag, task))
    assert shown == {"when": "2024-03-05T00:00:00+00:00", "tags": ["a", "b"]}


# --- texts with nothing to render ------------------------------------------------------------------


class ShoutingExtension(jinja2.ext.Extension):
    """An extension that rewrites every template's source, braces or not."""

    def preprocess(self, source, name, filename=None):
        return source.upper()


class Colour(str, enum.Enum):  # noqa: UP042 - the mixin DAG code often has; its str() is not its value
    RED = "red"


PLAIN_AND_NOT = [
    "true",
    "echo done && exit 0",
    "SELECT 1 FROM t WHERE a = 'x'",
    "trailing newline\n",
    "windows\r\nline",
    "{{ ds }}",
    "{% if true %}x{% endif %}",
    "{# a comment #}kept",
    "a { brace",
    "%% line statement",
    "## line comment",
    "42",
]


@pytest.mark.parametrize(
    "dag_attrs",
    [
        {},
        {"render_template_as_native_obj": True},
        {"jinja_environment_kwargs": {"keep_trailing_newline": True}},
        {"jinja_environment_kwargs": {"line_statement_prefix": "%%", "line_comment_prefix": "##"}},
        {"jinja_environment_kwargs": {"variable_start_string": "<<", "variable_end_string": ">>"}},
        {"jinja_environment_kwargs": {"extensions": ["jinja2.ext.do", __name__ + ".ShoutingExtension"]}},
    ],
    ids=["default", "native", "keep-newline", "line-prefixes", "other-delimiters", "source-rewriting-extension"],
)
def test_a_field_renders_to_what_jinja_renders_whether_or_not_it_holds_a_template(dag_attrs):
    dag = make_dag(**dag_attrs)
    env = make_environment(dag)
    for text in PLAIN_AND_NOT:
        task = make_task(dag, cmd=text)
        try:
            expected = env.from_string(text).render(make_context(dag, task))
        except jinja2.TemplateError as err:
            with pytest.raises(TemplateRenderError, match=str(err)):
                render_task_fields(task, make_context(dag, task))
            continue
        render_task_fields(task, make_context(dag, task))
        assert task.cmd == expected, repr(text)


def test_a_str_subclass_comes_out_as_jinja_renders_it():
    """An Enum member that is a str is rendered by Jinja to its str(), not kept as the member."""
    dag = make_dag()
    task = make_task(dag, cmd=Colour.RED)
    render_task_fields(task, make_context(dag, task))
    assert type(task.cmd) is str and task.cmd == make_environment(dag).from_string(Colour.RED).render()


def test_a_dag_whose_environment_cannot_be_made_fails_even_tasks_with_nothing_to_render():
    """As in Airflow, the DAG's environment is made for each task it renders: broken macros fail
    the task, whether or not its fields hold a template."""
    dag = make_dag()
    task = make_task(dag, cmd="true")
    context = make_context(dag, task)
    dag.user_defined_macros = ["not", "a", "mapping"]
    with pytest.raises((TypeError, ValueError)):
        render_task_fields(task, context)


def test_a_command_with_nothing_to_render_needs_no_jinja_environment(monkeypatch):
    """A ``bash_command="true"`` renders as itself without a Jinja environment being made or the
    text compiled (what most of a fresh task process's templating time went to)."""
    import tradewind.sdk.templating as templating

    def no_environment(dag=None):
        raise AssertionError("a Jinja environment was made for a text with nothing to render")

    monkeypatch.setattr(templating, "make_environment", no_environment)
    dag = make_dag()
    task = make_task(dag, template_fields=("cmd", "args", "env"), cmd="true", args=["--quiet", 3], env={"A": "b"})
    shown = render_task_fields(task, make_context(dag, task))
    assert shown == {"cmd": "true", "args": ["--quiet", 3], "env": {"A": "b"}}
    task = make_task(dag, cmd="echo {{ ds }}")
    with pytest.raises(TemplateRenderError, match="was made"):
        render_task_fields(task, make_context(dag, task))
