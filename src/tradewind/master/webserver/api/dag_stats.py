"""``/api/v1/dagStats?dag_ids=a,b``: how many runs of each DAG are in each run state."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.request_check import arg
from tradewind.master.webserver.api.spec import (
    BAD_REQUEST,
    array,
    collection,
    integer,
    obj,
    operation,
    query_param,
    ref,
    string,
)
from tradewind.master.webserver.db import get_session
from tradewind.metastore import dag_overview
from tradewind.states import DagRunState

bp = Blueprint("api_dag_stats", __name__, url_prefix=f"{API_PREFIX}/dagStats")


@bp.get("")
def get_dag_stats() -> ResponseReturnValue:
    dag_ids = [d.strip() for d in (arg("dag_ids") or "").split(",") if d.strip()]
    if not dag_ids:
        abort(400, description="dag_ids is needed: DAG ids separated by commas")
    stats = dag_overview.dag_stats(get_session(), dag_ids)
    answer = [
        {
            "dag_id": dag_id,
            "stats": [
                {"state": state.value, "count": stats[dag_id].run_states.get(state.value, 0) if dag_id in stats else 0}
                for state in DagRunState
            ],
        }
        for dag_id in dag_ids
    ]
    return jsonify(dags=answer, total_entries=len(answer))


OPENAPI_SCHEMAS: dict[str, Any] = {
    "DagStatsStateCollectionItem": obj({"state": string(), "count": integer()}),
    "DagStatsCollectionItem": obj(
        {"dag_id": string(), "stats": array(ref("DagStatsStateCollectionItem"), nullable=True)}
    ),
    "DagStatsCollectionSchema": collection("dags", "DagStatsCollectionItem"),
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/dagStats": {
        "get": operation(
            "get_dag_stats",
            "How many runs of each DAG are in each state",
            "DagStats",
            ok="DagStatsCollectionSchema",
            params=(query_param("dag_ids", string(), description="DAG ids separated by commas (needed)."),),
            errors=(BAD_REQUEST,),
        )
    }
}
