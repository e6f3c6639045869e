"""``/api/v1/version`` (no login, as in Airflow): tradewind's version, and the Airflow API it serves."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from tradewind.master.webserver.api import API_PREFIX
from tradewind.master.webserver.api.spec import obj, operation, string
from tradewind.master.webserver.auth import public
from tradewind.version import __version__

bp = Blueprint("api_version", __name__, url_prefix=f"{API_PREFIX}/version")

#: The Airflow release whose stable REST API this one serves.
AIRFLOW_API_VERSION = "2.10.5"


@bp.get("")
@public
def get_version() -> ResponseReturnValue:
    return jsonify(version=__version__, git_version=None, airflow_api_version=AIRFLOW_API_VERSION)


OPENAPI_SCHEMAS: dict[str, Any] = {
    "VersionInfo": obj(
        {
            "version": string(description="tradewind's version."),
            "git_version": string(nullable=True),
            "airflow_api_version": string(description="tradewind: the Airflow release whose REST API this serves."),
        }
    )
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{API_PREFIX}/version": {
        "get": operation(
            "get_version", "tradewind's version (no login needed)", "Monitoring", ok="VersionInfo", public=True
        )
    }
}
