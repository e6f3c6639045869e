"""Run a task's callable in another Python interpreter: a virtual environment built for the task
(``PythonVirtualenvOperator``) or one already on the worker (``ExternalPythonOperator``), and their
branching forms.

Airflow 2.10's behaviour: the callable's source runs in a script in that interpreter
(``python_script``); ``op_args``/``op_kwargs`` and the serializable context keys the callable names go
in, the return value comes back, both by the ``serializer``; the interpreter is asked first whether
it has pendulum, and the run's dates cross only if it does. The script's output is the task's log;
an exit code in ``skip_on_exit_code`` skips the task, any other non-zero one fails it with the
exception the callable raised.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import subprocess
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar

from tradewind.errors import AirflowException, AirflowSkipException, DagDefinitionError
from tradewind.sdk.operators.bash import BashProcess
from tradewind.sdk.operators.python import BranchMixIn, PythonOperator
from tradewind.sdk.operators.python_script import (
    BASE_SERIALIZABLE_CONTEXT_KEYS,
    PENDULUM_SERIALIZABLE_CONTEXT_KEYS,
    check_serializer,
    load_serializer,
    render_script,
)
from tradewind.sdk.operators.venv_builder import VenvSpec, cached_venv, is_venv_installed, prepare_venv
from tradewind.sdk.variable import Variable

__all__ = [
    "BranchExternalPythonOperator",
    "BranchPythonVirtualenvOperator",
    "ExternalPythonOperator",
    "PythonVirtualenvOperator",
    "is_venv_installed",
]

log = logging.getLogger("tradewind.task.operators")

#: The Variable whose value is part of every cached environment's hash: change it to rebuild them all.
CACHE_KEY_VARIABLE = "PythonVirtualenvOperator.cache_key"


def _exit_codes(value: int | Container[int] | None) -> Container[int]:
    if value is None:
        return ()
    return (value,) if isinstance(value, int) else value


def _serializer_name(serializer: str | None, use_dill: bool) -> str:
    if use_dill:
        warnings.warn(
            "`use_dill` is deprecated and will be removed in a future version. "
            "Please provide serializer='dill' instead.",
            DeprecationWarning,
            stacklevel=4,
        )
        if serializer:
            raise DagDefinitionError("Both 'use_dill' and 'serializer' parameters are set. Please set only one of them")
        return "dill"
    return serializer or "pickle"


_PROBE_CODE = (
    "import importlib.util, json, sys; print(json.dumps({'major': sys.version_info[0], "
    "'pendulum': importlib.util.find_spec('pendulum') is not None, "
    "'tradewind': importlib.util.find_spec('tradewind') is not None}))"
)


def _probe(python: Path) -> dict[str, Any]:
    """The interpreter's major version and whether it can import pendulum and tradewind."""
    try:
        output = subprocess.run(
            [str(python), "-c", _PROBE_CODE], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        probed: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as err:
        raise AirflowException(f"the Python at {python} could not be run: {err}") from err
    return probed


class _BasePythonVirtualenvOperator(PythonOperator):
    """What both interpreters share: the script, the files that cross, the subprocess."""

    template_fields: ClassVar[Sequence[str]] = ("templates_dict", "op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        serializer: str | None = None,
        use_dill: bool = False,
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        string_args: Iterable[str] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: list[str] | None = None,
        expect_airflow: bool = True,
        skip_on_exit_code: int | Container[int] | None = None,
        env_vars: dict[str, str] | None = None,
        inherit_env: bool = True,
        use_airflow_context: bool = False,
        **kwargs: Any,
    ) -> None:
        name = type(self).__name__
        if use_airflow_context:
            # Airflow 2.10 sends the whole context to the other interpreter through its internal API.
            raise DagDefinitionError(f"{name}: use_airflow_context=True is not supported by tradewind")
        if not isinstance(python_callable, types.FunctionType) or python_callable.__name__ == "<lambda>":
            raise DagDefinitionError(f"{name} only supports functions for python_callable arg")
        if inspect.isgeneratorfunction(python_callable):
            raise DagDefinitionError(f"{name} does not support using 'yield' in python_callable")
        super().__init__(
            python_callable=python_callable,
            op_args=list(op_args or []),
            op_kwargs=op_kwargs,
            templates_dict=templates_dict,
            templates_exts=templates_exts,
            **kwargs,
        )
        self.serializer = check_serializer(_serializer_name(serializer, use_dill))
        self.string_args = list(string_args or [])
        self.expect_airflow = expect_airflow
        self.skip_on_exit_code = _exit_codes(skip_on_exit_code)
        self.env_vars = dict(env_vars or {})
        self.inherit_env = inherit_env
        self._process = BashProcess()
        self._python = Path(sys.executable)

    # -- what crosses --------------------------------------------------------------------------

    def _interpreter(self) -> AbstractContextManager[Path]:
        """The interpreter to run the callable with, for as long as the context lasts."""
        raise NotImplementedError

    def _check_target(self, probed: dict[str, Any]) -> None:
        """Refuse (or warn about) a target interpreter that cannot run this task as configured."""
        if probed["major"] != sys.version_info.major and (self.op_args or self.op_kwargs):
            raise AirflowException(
                "Passing op_args or op_kwargs is not supported across different Python major versions "
                f"for {type(self).__name__}. Please use string_args."
            )

    def execute(self, context: dict[str, Any]) -> Any:
        with self._interpreter() as python:
            probed = _probe(python)
            self._check_target(probed)
            # Pendulum dates cross only into an interpreter that can load them.
            keys = BASE_SERIALIZABLE_CONTEXT_KEYS
            if probed["pendulum"]:
                keys = keys | PENDULUM_SERIALIZABLE_CONTEXT_KEYS
            self._python = python
            return super().execute({key: value for key, value in context.items() if key in keys})

    def execute_callable(self) -> Any:
        return self._execute_in_interpreter(self._python)

    # -- running -------------------------------------------------------------------------------

    def _run_command(self, command: list[str], env: dict[str, str] | None = None) -> int:
        exit_code, _ = self._process.run(command, env=dict(os.environ) if env is None else env, cwd=os.getcwd())
        return exit_code

    def _environment(self) -> dict[str, str]:
        return {**os.environ, **self.env_vars} if self.inherit_env else dict(self.env_vars)

    def _execute_in_interpreter(self, python: Path) -> Any:
        serializer = load_serializer(self.serializer)
        has_arguments = bool(self.op_args or self._call_kwargs)
        with tempfile.TemporaryDirectory(prefix="tradewind-venv-call") as tmp:
            folder = Path(tmp)
            paths = [folder / name for name in ("script.in", "script.out", "string_args.txt", "termination.log")]
            input_path, output_path, string_args_path, termination_path = paths
            if has_arguments:
                with open(input_path, "wb") as file:
                    serializer.dump({"args": self.op_args, "kwargs": self._call_kwargs}, file)
            string_args_path.write_text("".join(f"{arg}\n" for arg in self.string_args), encoding="utf-8")
            script = folder / "script.py"
            script.write_text(
                render_script(self.python_callable, self.serializer, has_arguments=has_arguments), encoding="utf-8"
            )
            exit_code = self._run_command([str(python), str(script), *map(str, paths)], self._environment())
            if exit_code in self.skip_on_exit_code:
                # Also for 0: Airflow skips a task that exits normally when 0 is listed.
                raise AirflowSkipException(f"Process exited with code {exit_code}. Skipping.")
            if exit_code != 0:
                message = f"Process returned non-zero exit status {exit_code}."
                if termination_path.exists() and termination_path.stat().st_size:
                    message += "\n" + termination_path.read_text(encoding="utf-8")
                raise AirflowException(message)
            if not output_path.exists() or output_path.stat().st_size == 0:
                return None
            with open(output_path, "rb") as file:
                try:
                    return serializer.load(file)
                except Exception as err:
                    raise AirflowException(f"the callable's return value could not be read back: {err}") from err

    def on_kill(self) -> None:
        self._process.kill()


class PythonVirtualenvOperator(_BasePythonVirtualenvOperator):
    """Run the callable in a virtual environment with ``requirements`` installed.

    Without ``venv_cache_path`` the environment is built for each try in a temporary folder and
    removed after it; with it, it is built once per worker and reused while the requirements, pip
    options, index URLs, Python version and ``system_site_packages`` stay the same.
    """

    template_fields: ClassVar[Sequence[str]] = (
        "templates_dict",
        "op_args",
        "op_kwargs",
        "requirements",
        "index_urls",
        "venv_cache_path",
    )
    template_ext: ClassVar[Sequence[str]] = (".txt",)

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        requirements: None | Iterable[str] | str = None,
        python_version: str | None = None,
        system_site_packages: bool = True,
        pip_install_options: list[str] | None = None,
        index_urls: None | Collection[str] | str = None,
        venv_cache_path: None | os.PathLike[str] | str = None,
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """``kwargs``: ``serializer``, ``string_args``, ``templates_dict``, ``expect_airflow``,
        ``skip_on_exit_code``, ``env_vars``, ``inherit_env``, ``use_dill`` and BaseOperator's."""
        if python_version and str(python_version)[0] != str(sys.version_info.major) and (op_args or op_kwargs):
            raise DagDefinitionError(
                "Passing op_args or op_kwargs is not supported across different Python major versions "
                "for PythonVirtualenvOperator. Please use string_args."
            )
        if not is_venv_installed():
            raise DagDefinitionError("PythonVirtualenvOperator requires uv or the venv module with ensurepip")
        if not requirements:
            self.requirements: list[str] = []
        elif isinstance(requirements, str):
            self.requirements = [requirements]
        else:
            self.requirements = list(requirements)
        self.python_version = str(python_version) if python_version else None
        self.system_site_packages = system_site_packages
        self.pip_install_options = list(pip_install_options or [])
        self.index_urls = [index_urls] if isinstance(index_urls, str) else list(index_urls) if index_urls else None
        self.venv_cache_path = venv_cache_path
        super().__init__(python_callable=python_callable, op_args=op_args, op_kwargs=op_kwargs, **kwargs)
        if not self.system_site_packages and self.serializer != "pickle" and self.serializer not in self.requirements:
            self.requirements.append(self.serializer)

    def _spec(self) -> VenvSpec:
        # A requirements file rendered by its ``.txt`` extension arrives as its text: one line each.
        lines = [line.strip() for requirement in self.requirements for line in str(requirement).splitlines()]
        return VenvSpec(
            requirements=tuple(line for line in lines if line and not line.startswith("#")),
            python_version=self.python_version,
            system_site_packages=self.system_site_packages,
            pip_install_options=tuple(self.pip_install_options),
            index_urls=tuple(self.index_urls) if self.index_urls else None,
            cache_variable=str(Variable.get(CACHE_KEY_VARIABLE, default_var="")) if self.venv_cache_path else "",
        )

    @contextmanager
    def _interpreter(self) -> Iterator[Path]:
        spec = self._spec()
        if self.venv_cache_path:
            yield cached_venv(Path(self.venv_cache_path), spec, self._run_command)
            return
        with tempfile.TemporaryDirectory(prefix="venv") as tmp:
            yield prepare_venv(Path(tmp) / "venv", spec, self._run_command)


class BranchPythonVirtualenvOperator(PythonVirtualenvOperator, BranchMixIn):
    """A ``PythonVirtualenvOperator`` whose callable returns the task id(s) to follow."""

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, super().execute(context))


class ExternalPythonOperator(_BasePythonVirtualenvOperator):
    """Run the callable with the interpreter at ``python`` (an absolute path), e.g. a virtual
    environment prepared on the worker beforehand."""

    template_fields: ClassVar[Sequence[str]] = ("templates_dict", "op_args", "op_kwargs", "python")

    def __init__(
        self, *, python: str, python_callable: Callable[..., Any], expect_pendulum: bool = False, **kwargs: Any
    ) -> None:
        if not python:
            raise DagDefinitionError("Python Path must be defined in ExternalPythonOperator")
        self.python = python
        self.expect_pendulum = expect_pendulum
        super().__init__(python_callable=python_callable, **kwargs)

    def _check_python(self) -> Path:
        path = Path(self.python)
        if not path.is_absolute():
            raise AirflowException(f"Python Path '{path}' must be an absolute path.")
        if not path.exists():
            raise AirflowException(f"Python Path '{path}' must exist")
        if not path.is_file():
            raise AirflowException(f"Python Path '{path}' must be a file")
        return path

    @contextmanager
    def _interpreter(self) -> Iterator[Path]:
        yield self._check_python()

    def _check_target(self, probed: dict[str, Any]) -> None:
        super()._check_target(probed)
        if self.expect_pendulum and not probed["pendulum"]:
            log.warning(
                "Pendulum is not installed in %s: the run's dates are not passed to the callable. "
                "Install pendulum there to have them.",
                self.python,
            )
        if self.expect_airflow and not probed["tradewind"]:
            log.warning(
                "expect_airflow=True but %s cannot import tradewind (or Airflow); the callable gets only the "
                "context keys that need neither. Set expect_airflow=False to silence this warning.",
                self.python,
            )


class BranchExternalPythonOperator(ExternalPythonOperator, BranchMixIn):
    """An ``ExternalPythonOperator`` whose callable returns the task id(s) to follow."""

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, super().execute(context))
