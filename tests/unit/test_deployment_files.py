"""The deployment files a cluster user edits and runs: docker-compose.yml, the env example and
the Dockerfile. (The compose test in tests/e2e runs them for real; these catch a broken edit in
a second.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tradewind.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
ENV_EXAMPLE = (REPO / "deploy" / "tradewind.env.example").read_text()
SERVICES = COMPOSE["services"]


def test_the_cluster_has_every_role_as_a_service() -> None:
    assert set(SERVICES) == {"postgres", "redis", "init", "webserver", "scheduler", "worker", "triggerer"}


def test_workers_scale_they_have_no_fixed_name_and_no_host_port() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"] == ["worker"]


def test_only_the_webserver_publishes_a_port_so_the_hosts_postgres_and_redis_keep_theirs() -> None:
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    assert published == {"webserver"}
    assert SERVICES["webserver"]["ports"] == ["${TRADEWIND_HOST_PORT:-8080}:8080"]


def test_the_roles_start_after_the_metastore_is_migrated() -> None:
    for role in ("webserver", "scheduler", "worker", "triggerer"):
        depends = SERVICES[role]["depends_on"]
        assert depends["init"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    assert "healthcheck" in SERVICES["postgres"] and "healthcheck" in SERVICES["redis"]
    assert "/health" in " ".join(SERVICES["webserver"]["healthcheck"]["test"])


def test_redis_never_evicts_queued_messages() -> None:
    command = SERVICES["redis"]["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_scheduler_workers_and_triggerer_share_the_dag_folder() -> None:
    mounts = {role: SERVICES[role]["volumes"] for role in ("scheduler", "worker", "triggerer")}
    assert mounts["scheduler"] == mounts["worker"] == mounts["triggerer"]
    assert mounts["worker"][0].endswith(":/opt/tradewind-home/dags:ro")


def _compose_variables() -> set[str]:
    text = (REPO / "docker-compose.yml").read_text()
    return set(re.findall(r"\$\{([A-Z0-9_]+)", text))


@pytest.mark.parametrize("variable", sorted(_compose_variables()))
def test_every_variable_compose_reads_is_in_the_env_example(variable: str) -> None:
    assert re.search(rf"^#?\s*{variable}=", ENV_EXAMPLE, re.MULTILINE), f"{variable} is not in the env example"


@pytest.mark.parametrize("variable", [name for name, _ in Settings.describe()])
def test_every_tradewind_setting_is_in_the_env_example(variable: str) -> None:
    assert re.search(rf"^#?\s*{variable}=", ENV_EXAMPLE, re.MULTILINE), f"{variable} is not in the env example"


def test_compose_only_variables_are_not_mistaken_for_settings() -> None:
    settings = {name for name, _ in Settings.describe()}
    assert not (_compose_variables() & settings) - {"TRADEWIND_SECRET_KEY", "TRADEWIND_FERNET_KEY"}


def test_the_secrets_are_required_not_defaulted() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    for secret in ("POSTGRES_PASSWORD", "TRADEWIND_SECRET_KEY", "TRADEWIND_FERNET_KEY", "TRADEWIND_ADMIN_PASSWORD"):
        assert f"${{{secret}:?" in text, secret


def test_the_image_runs_as_a_non_root_user_and_installs_the_checkout_not_editable() -> None:
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim" in dockerfile
    assert re.search(r"^USER tradewind$", dockerfile, re.MULTILINE)
    assert "pip install --quiet --no-deps /src" in dockerfile and " -e " not in dockerfile
