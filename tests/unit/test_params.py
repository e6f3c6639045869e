"""Params: defaults, schema validation, conf overrides, and the serialized form."""

from __future__ import annotations

import copy
import json

import pytest

from tradewind.errors import ParamValidationError
from tradewind.sdk.params import NOTSET, Param, ParamsDict, merge_params


def test_param_resolves_to_its_default():
    assert Param(5, type="integer").resolve() == 5


def test_param_value_overrides_default():
    assert Param(5, type="integer").resolve(7) == 7


def test_param_without_default_or_value_is_an_error():
    with pytest.raises(ParamValidationError, match="param 'n' has no value and no default"):
        Param(type="integer").resolve(name="n")


def test_param_default_none_is_a_value():
    assert Param(None).resolve() is None


def test_schema_violation_names_param_and_reason():
    with pytest.raises(ParamValidationError) as err:
        Param(5, type="integer", minimum=3).resolve(1, name="n")
    assert str(err.value) == "param 'n': 1 is less than the minimum of 3"


def test_enum_and_type_errors_read_like_jsonschema():
    with pytest.raises(ParamValidationError, match=r"param 'env': 'qa' is not one of \['dev', 'prod'\]"):
        Param("dev", enum=["dev", "prod"]).resolve("qa", name="env")
    with pytest.raises(ParamValidationError, match="'abc' is not of type 'integer'"):
        Param(1, type="integer").resolve("abc", name="n")


def test_nested_schema_error_says_where():
    param = Param([1], type="array", items={"type": "integer"})
    with pytest.raises(ParamValidationError, match=r"'x' is not of type 'integer' \(at 1\)"):
        param.resolve([1, "x"], name="ids")


def test_format_is_checked():
    with pytest.raises(ParamValidationError, match="is not a 'date'"):
        Param("2024-01-01", type="string", format="date").resolve("yesterday", name="day")


def test_schema_keyword_argument_is_accepted():
    param = Param("a", schema={"type": "string", "minLength": 1})
    assert param.schema == {"type": "string", "minLength": 1}
    with pytest.raises(ParamValidationError, match="should be non-empty"):
        param.resolve("", name="s")


def test_params_dict_returns_values_not_params():
    params = ParamsDict({"n": Param(3, type="integer"), "plain": "x"})
    assert params["n"] == 3
    assert params["plain"] == "x"
    assert isinstance(params.get_param("plain"), Param)
    assert dict(params.items())["n"] == Param(3, type="integer")  # Airflow 2: items() yields Params


def test_params_dict_assignment_keeps_schema_and_validates():
    params = ParamsDict({"n": Param(3, type="integer")})
    params["n"] = 4
    assert params["n"] == 4
    assert params.get_param("n").schema == {"type": "integer"}
    with pytest.raises(ParamValidationError, match="param 'n': 'four' is not of type 'integer'"):
        params["n"] = "four"


def test_params_dict_update_merges():
    params = ParamsDict({"a": 1, "b": 2})
    params.update({"b": 20, "c": 30})
    params.update(ParamsDict({"d": Param(4, type="integer")}))
    assert params.validate() == {"a": 1, "b": 20, "c": 30, "d": 4}


def test_validate_raises_for_required_param():
    params = ParamsDict({"needed": Param(type="string")})
    with pytest.raises(ParamValidationError, match="param 'needed' has no value and no default"):
        params.validate()


def test_assignment_does_not_change_the_original_param():
    declared = Param(3, type="integer")
    params = ParamsDict({"n": declared})
    params["n"] = 9
    assert declared.value == 3


def test_deepcopy_is_independent():
    params = ParamsDict({"n": Param(3, type="integer")})
    clone = copy.deepcopy(params)
    clone["n"] = 5
    assert params["n"] == 3 and clone["n"] == 5


def test_merge_task_params_override_dag_params():
    dag = ParamsDict({"a": Param(1, type="integer"), "b": "dag"})
    assert merge_params(dag, {"b": "task"}, None) == {"a": 1, "b": "task"}


def test_merge_conf_overrides_both_and_adds_keys():
    dag = ParamsDict({"a": Param(1, type="integer"), "b": "dag"})
    merged = merge_params(dag, {"b": "task"}, {"a": 2, "b": "conf", "extra": [1]})
    assert merged == {"a": 2, "b": "conf", "extra": [1]}


def test_merge_conf_is_ignored_when_overrides_are_off():
    merged = merge_params({"a": 1}, None, {"a": 2}, conf_overrides_params=False)
    assert merged == {"a": 1}


def test_merge_conf_must_fit_declared_schema():
    dag = ParamsDict({"a": Param(1, type="integer", maximum=10)})
    with pytest.raises(ParamValidationError, match="param 'a': 11 is greater than the maximum of 10"):
        merge_params(dag, None, {"a": 11})


def test_merge_conf_supplies_required_param():
    dag = ParamsDict({"target": Param(type="string")})
    assert merge_params(dag, None, {"target": "s3://x"}) == {"target": "s3://x"}
    with pytest.raises(ParamValidationError, match="param 'target' has no value and no default"):
        merge_params(dag, None, {})


def test_merge_task_plain_value_keeps_dag_schema():
    dag = ParamsDict({"a": Param(1, type="integer")})
    with pytest.raises(ParamValidationError, match="param 'a'"):
        merge_params(dag, {"a": "not a number"}, None)


@pytest.mark.parametrize(("conf", "name"), [([1, 2], "list"), ("x", "str"), (3, "int")])
def test_merge_rejects_conf_that_is_not_an_object(conf, name):
    with pytest.raises(ParamValidationError, match=f"conf must be a JSON object, got {name}"):
        merge_params({}, {}, conf)


def test_param_dump_load_round_trip():
    param = Param(5, description="how many", type="integer", minimum=0, title="Count")
    dumped = param.dump()
    assert dumped["value"] == 5 and dumped["description"] == "how many"
    assert dumped["schema"] == {"type": "integer", "minimum": 0, "title": "Count"}
    assert Param.load(json.loads(json.dumps(dumped))) == param


def test_param_without_default_round_trips_as_required():
    loaded = Param.load(json.loads(json.dumps(Param(type="string").dump())))
    assert loaded.value is NOTSET
    assert Param.load(Param(None).dump()).value is None


def test_params_dict_dump_load_round_trip():
    params = ParamsDict({"n": Param(3, type="integer"), "s": "x", "req": Param(type="string")})
    loaded = ParamsDict.load(json.loads(json.dumps(params.dump())))
    assert loaded == params
    assert loaded["n"] == 3 and loaded["s"] == "x"
    assert loaded.get_param("req").value is NOTSET
