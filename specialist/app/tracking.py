"""Tracking: the one module that imports mlflow, behind ``write(dict)`` and ``close()``.

    logger = open_run(cfg, paths, store)     # the daemon's run: created once, continued after
    logger.write({"solve_rate": 0.4, "figures/best": fig}, step=round)      # numbers, figures
    logger.close()                           # FINISHED; a killed daemon leaves it RUNNING
    prune_champions(logger.client, name, keep=5)   # older promoted versions: registry and artifacts

The run's id is kept in the store (cursor "tracking"), so a restarted daemon writes into the same
run. The default tracking URI is an absolute sqlite file under the data directory, with the
artifacts beside it.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Protocol

os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"  # never unpickle what a store holds

import mlflow  # noqa: E402
from mlflow.entities import Metric, Param, RunStatus  # noqa: E402
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from specialist.config import Config, as_params  # noqa: E402
from specialist.paths import Paths  # noqa: E402
from specialist.store import Store  # noqa: E402

CURSOR = "tracking"


class Logger(Protocol):
    """Where the stages' figures go."""

    def write(self, values: dict[str, Any], step: int = 0) -> None:
        """Numbers become metrics, matplotlib figures become PNG artifacts named by their key."""

    def close(self, status: str = "FINISHED") -> None:
        """End the run."""


def default_uri(data_dir: Path) -> str:
    return "sqlite:///" + str(Paths(data_dir).mlflow_db)


class MlflowLogger:
    """One MLflow run; writes go through one client, batched per call."""

    def __init__(self, uri: str, experiment: str, artifacts: Path, run_id: str | None = None,
                 params: dict[str, str] | None = None):
        self.client = MlflowClient(tracking_uri=uri)
        self.uri = uri
        found = self.client.get_experiment_by_name(experiment)
        exp_id = found.experiment_id if found else self.client.create_experiment(
            experiment, artifact_location=Path(artifacts).absolute().as_uri())
        if run_id is not None:
            self.run_id = run_id
            self.client.update_run(run_id, status=RunStatus.to_string(RunStatus.RUNNING))
        else:
            self.run_id = self.client.create_run(exp_id, run_name="specialist-daemon").info.run_id
            self.client.log_batch(self.run_id, params=[Param(k, v[:6000]) for k, v in (params or {}).items()])

    def write(self, values: dict[str, Any], step: int = 0) -> None:
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, step) for k, v in values.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)
        for k, v in values.items():
            if hasattr(v, "savefig"):
                self.client.log_figure(self.run_id, v, f"{k}.png")

    def register(self, name: str, directory: Path, version: int, alias: str = "champion") -> str:
        """Log ``directory`` as the run's artifacts ``champion/v<version>``, register them as a new
        version of the model ``name`` and point ``alias`` at it; returns the registry's version."""
        path = f"champion/v{version}"
        self.client.log_artifacts(self.run_id, str(directory), path)
        try:
            self.client.create_registered_model(name, description="specialist versions promoted by the gate")
        except mlflow.exceptions.MlflowException as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        source = f"{self.client.get_run(self.run_id).info.artifact_uri}/{path}"
        registered = self.client.create_model_version(name, source, run_id=self.run_id,
                                                      tags={"params_version": str(version)})
        self.client.set_registered_model_alias(name, alias, registered.version)
        return str(registered.version)

    def close(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status=status)


def prune_champions(client: MlflowClient, name: str, keep: int) -> list[str]:
    """Remove the daemon's champion versions of model ``name`` beyond the newest ``keep``: their
    artifacts first, then their registry entries (a process killed between the two leaves an entry
    that the next call removes).

    The daemon's own versions are those ``register`` made: tagged ``params_version`` alone, with
    their source at ``champion/v<params_version>``. Kept whatever their age: a version any alias
    points at (``champion`` included), one registered by hand or carrying any other tag, and the
    artifacts that a kept version's source also names.

    Returns:
        The registry versions removed, oldest first.
    """
    try:
        aliased = {str(v) for v in client.get_registered_model(name).aliases.values()}
    except mlflow.exceptions.MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            return []  # nothing promoted yet
        raise
    versions = sorted(_versions(client, name), key=lambda v: int(v.version))
    own = [v for v in versions if _is_daemons(v)]
    doomed = [v for v in own[:max(0, len(own) - keep)] if str(v.version) not in aliased]
    gone = {v.version for v in doomed}
    kept_sources = {v.source.rstrip("/") for v in versions if v.version not in gone}
    removed = []
    for v in doomed:
        source = v.source.rstrip("/")
        if not any(k == source or k.startswith(source + "/") or source.startswith(k + "/") for k in kept_sources):
            get_artifact_repository(source).delete_artifacts()
        client.delete_model_version(name, v.version)
        removed.append(str(v.version))
    return removed


def _versions(client: MlflowClient, name: str) -> list:
    """Every version of a registered model, page by page."""
    out, token = [], None
    while True:
        page = client.search_model_versions(f"name = '{name}'", max_results=1000, page_token=token)
        out += list(page)
        token = page.token
        if not token:
            return out


def _is_daemons(version) -> bool:
    tags = dict(version.tags or {})
    return (set(tags) == {"params_version"} and bool(version.run_id)
            and str(version.source or "").rstrip("/").endswith(f"/champion/v{tags['params_version']}"))


def open_run(cfg: Config, data_dir: Path, store: Store) -> MlflowLogger:
    """The daemon's run under ``data_dir``: continued if the store names one, else a new one."""
    uri = cfg.tracking.uri or default_uri(data_dir)
    cursor = store.get("cursors", CURSOR)
    run_id = cursor["position"]["run_id"] if cursor and cursor["position"].get("uri") == uri else None
    if run_id is not None and not _exists(uri, run_id):
        run_id = None  # the tracking database was removed or replaced: start a new run
    logger = MlflowLogger(uri, cfg.tracking.experiment, Paths(data_dir).mlflow_artifacts, run_id,
                          as_params(cfg))
    store.put("cursors", {"stream": CURSOR, "position": {"uri": uri, "run_id": logger.run_id}})
    return logger


def _exists(uri: str, run_id: str) -> bool:
    try:
        MlflowClient(tracking_uri=uri).get_run(run_id)
        return True
    except mlflow.exceptions.MlflowException:
        return False
