"""The task message: what crosses Redis decodes to exactly what was encoded, and nothing else does."""

from __future__ import annotations

import json

import pytest

from tradewind.queue.messages import SCHEMA_VERSION, MessageError, TaskMessage

MESSAGE = TaskMessage(
    dag_id="etl", run_id="manual__2024-03-01T00:00:00+00:00", task_id="load", map_index=-1, try_number=2
)


def test_encode_decode_round_trip_through_json():
    wire = json.loads(json.dumps(MESSAGE.encode()))
    assert TaskMessage.decode(wire) == MESSAGE
    assert wire["version"] == SCHEMA_VERSION


def test_mapped_task_message_keeps_its_map_index():
    mapped = TaskMessage("etl", "r", "load", map_index=3, try_number=1)
    assert TaskMessage.decode(mapped.encode()).map_index == 3
    assert "load[3]" in mapped.describe()


@pytest.mark.parametrize("version", [None, 0, SCHEMA_VERSION + 1, "1"])
def test_other_schema_version_is_refused(version):
    data = {**MESSAGE.encode(), "version": version}
    with pytest.raises(MessageError, match="schema version"):
        TaskMessage.decode(data)


@pytest.mark.parametrize("field", ["dag_id", "run_id", "task_id", "map_index", "try_number"])
def test_missing_field_is_refused(field):
    data = MESSAGE.encode()
    del data[field]
    with pytest.raises(MessageError, match=field):
        TaskMessage.decode(data)


def test_non_numeric_try_number_is_refused():
    with pytest.raises(MessageError):
        TaskMessage.decode({**MESSAGE.encode(), "try_number": "two"})


@pytest.mark.parametrize("data", [None, "etl.load", ["etl", "load"], 7])
def test_message_that_is_not_an_object_is_refused(data):
    with pytest.raises(MessageError, match="JSON object"):
        TaskMessage.decode(data)
