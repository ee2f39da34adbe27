"""The data directory: where a daemon keeps all its state, every part named once here.

    paths = Paths(data_dir)        # absolute from here on
    store = Store(paths.store)
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

DATA_DIR_ENV = "SPECIALIST_DATA_DIR"


def default_data_dir() -> str:
    """``$SPECIALIST_DATA_DIR``, else ``./specialist-data``."""
    return os.environ.get(DATA_DIR_ENV, "specialist-data")


@dataclasses.dataclass(frozen=True)
class Paths:
    """Where a daemon keeps its state: everything under one data directory."""

    data_dir: Path

    def __post_init__(self):
        object.__setattr__(self, "data_dir", Path(self.data_dir).absolute())

    @property
    def store(self) -> Path:
        return self.data_dir / "store.sqlite"

    @property
    def checkpoints(self) -> Path:
        return self.data_dir / "checkpoints"

    @property
    def champion(self) -> Path:
        return self.data_dir / "champion"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def daemon_log(self) -> Path:
        return self.logs / "daemon.log"

    @property
    def quarantine(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def drop(self) -> Path:
        """The lab's drop folder unless ``feeds.drop_dir`` names another."""
        return self.data_dir / "drop"

    @property
    def goals_drop(self) -> Path:
        """The lab goals' drop folder unless ``feeds.goals_dir`` names another."""
        return self.data_dir / "goals"

    @property
    def jax_cache(self) -> Path:
        return self.data_dir / "jax-cache"

    @property
    def mlflow_db(self) -> Path:
        return self.data_dir / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.data_dir / "mlflow-artifacts"

    @property
    def lock(self) -> Path:
        """Held while a daemon runs; holds its pid."""
        return self.data_dir / "daemon.lock"

    @property
    def ray_processes(self) -> Path:
        """The running daemon's Ray processes (pid, start time), for reaping after a kill -9."""
        return self.data_dir / "ray-processes.json"

    @property
    def disk_parts(self) -> dict[str, tuple[Path, ...]]:
        """The data directory's parts as ``specialist status`` counts their disk use, each with the
        paths it is made of (SQLite databases with their journal files); the rest is "other"."""
        def sqlite(db: Path) -> tuple[Path, ...]:
            return (db, *(db.with_name(db.name + tail) for tail in ("-wal", "-shm", "-journal")))

        return {"store": sqlite(self.store), "checkpoints": (self.checkpoints, self.champion),
                "mlflow": (*sqlite(self.mlflow_db), self.mlflow_artifacts), "logs": (self.logs,),
                "drop": (self.drop, self.goals_drop), "quarantine": (self.quarantine,)}
