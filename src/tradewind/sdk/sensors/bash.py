"""``BashSensor`` (Airflow's ``airflow.sensors.bash``): poke by running a Bash command until it
exits 0.

Any other exit code means "not yet", unless ``retry_exit_code`` is set: then only that code means
"not yet" and any other fails the task at once (no retries). The command runs as a
``BashOperator``'s does: in a temporary directory, in its own session, its output in the task log.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, ClassVar

from tradewind.errors import AirflowFailException
from tradewind.sdk.operators.bash import BashProcess, context_to_env_vars, working_directory
from tradewind.sdk.sensors.base import BaseSensorOperator, log


class BashSensor(BaseSensorOperator):
    """Done when ``bash_command`` exits with code 0."""

    template_fields: ClassVar[tuple[str, ...]] = ("bash_command", "env")
    template_ext: ClassVar[tuple[str, ...]] = (".sh", ".bash")

    def __init__(
        self,
        *,
        bash_command: str,
        env: dict[str, str] | None = None,
        output_encoding: str = "utf-8",
        retry_exit_code: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.output_encoding = output_encoding
        self.retry_exit_code = retry_exit_code
        self._process = BashProcess(output_encoding)

    def poke(self, context: dict[str, Any]) -> bool:
        env = dict(os.environ) if self.env is None else dict(self.env)
        env.update(context_to_env_vars(context))
        log.info("Tmp dir root location: %s", os.environ.get("TMPDIR", "/tmp"))
        with working_directory(None) as cwd:
            exit_code, _ = self._process.run(
                [shutil.which("bash") or "bash", "-c", self.bash_command], env=env, cwd=cwd
            )
        if exit_code == 0:
            return True
        if self.retry_exit_code is None:
            log.info("Non-zero return code and no retry code set, will retry later")
            return False
        if exit_code == self.retry_exit_code:
            log.info("Return code matches retry code, will retry later")
            return False
        raise AirflowFailException(f"Command exited with return code {exit_code}")

    def on_kill(self) -> None:
        self._process.kill()
