"""The daemon: the loop's parts as Ray actors, fed and watched by one driver. The only module
that imports ray.

    code = run(cfg, data_dir, ray_address)    # until SIGINT/SIGTERM, or ``seconds`` if given

The driver keeps ``rounds_in_flight`` rounds going (propose -> check on the actors, results to
the learner), pushes each new parameter version to the proposer without waiting for it, polls
the feeds, and writes metrics, figures and a heartbeat. Every call on an actor has a timeout.
Proposing and checking are idempotent, so their actors retry tasks after a restart; the
learner's updates are not, so a restarted learner resumes from its last checkpoint instead.

The module is longer than the house limit: as the one place that talks to actors, it holds
every scheduling decision (rounds, updates, evaluations, feed polls, shutdown) side by side.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import time
from collections import deque
from pathlib import Path

if os.environ.get("RAY_AUTH_MODE", "token") != "token":
    logging.getLogger("specialist").warning("RAY_AUTH_MODE=%s ignored: the daemon always uses token "
                                            "authentication", os.environ["RAY_AUTH_MODE"])
os.environ["RAY_AUTH_MODE"] = "token"  # read when ray is imported, so set before

import ray  # noqa: E402
from ray._private import ray_constants  # noqa: E402
from ray.exceptions import GetTimeoutError, RayError  # noqa: E402

from feeds import labgoals  # noqa: E402
from specialist.app import actors, figures, processes, retention, schedule, status as status_mod, tracking  # noqa: E402
from specialist.config import Config  # noqa: E402
from specialist.core import Checked, Learned, Polled  # noqa: E402
from specialist.paths import Paths  # noqa: E402
from specialist.store import Store  # noqa: E402

log = logging.getLogger("specialist")

# Each worker's host as an actor class: calls run one at a time, except ``pid``, which the driver
# asks in the "control" group so that it answers beside a running call.
_CONTROL = {"control": 1}
FeedsActor = ray.remote(concurrency_groups=_CONTROL)(actors.FeedsHost)
LearnerActor = ray.remote(concurrency_groups=_CONTROL)(actors.LearnerHost)
ExperimentsActor = ray.remote(concurrency_groups=_CONTROL)(actors.ExperimentsHost)
ProposerActor = ray.remote(concurrency_groups=_CONTROL)(actors.ProposerHost)
EvaluationActor = ray.remote(concurrency_groups=_CONTROL)(actors.EvaluationHost)


def run(cfg: Config, data_dir: str | Path, ray_address: str = "", seconds: float | None = None) -> int:
    """Run the daemon on ``data_dir`` until a signal (or for ``seconds``); returns an exit code."""
    paths = Paths(Path(data_dir))
    paths.logs.mkdir(parents=True, exist_ok=True)
    lock = processes.lock(paths)
    _log_to(paths, cfg)
    processes.reap_previous(paths)
    store = Store(paths.store)
    logger = tracking.open_run(cfg, paths.data_dir, store)  # the experiment exists before any actor
    log.info("tracking run %s at %s", logger.run_id, logger.uri)
    _start_ray(cfg, ray_address or cfg.ray.address)
    processes.record_children(paths)
    driver = None
    try:
        driver = Driver(cfg, paths, store, logger)
        signal.signal(signal.SIGINT, driver.stop)
        signal.signal(signal.SIGTERM, driver.stop)
        driver.loop(seconds)
        return 0
    finally:
        if driver is not None:
            driver.shutdown()
        ray.shutdown()
        lock.close()


class Driver:
    """Schedules rounds on the actors and reports; see the module docstring."""

    def __init__(self, cfg: Config, paths: Paths, store: Store, logger: tracking.MlflowLogger):
        self.cfg, self.paths, self.store, self.logger = cfg, paths, store, logger
        self.timeout = cfg.ray.get_timeout_s
        self.stopping, self.started = False, time.time()
        self.actors: dict[str, object] = {}
        # Built side by side; the proposer last, from the checkpoint the learner restores or writes.
        self.feeds = self._actor(FeedsActor, "feeds", retries=-1)
        self.learner = self._actor(LearnerActor, "learner", retries=0)
        self.experiments = [self._actor(ExperimentsActor, f"experiments-{i}", retries=-1)
                            for i in range(cfg.experiments.workers)]
        polled, version = self.feeds.poll.remote(only="curriculum"), self.learner.version.remote()
        self._get(polled)
        self.version = self._get(version)
        for note in self._get(self.learner.notes.remote()):  # e.g. an unreadable checkpoint set aside
            log.warning(note)
        self.proposer = self._actor(ProposerActor, "proposer", retries=-1)
        self.evaluator = self._actor(EvaluationActor, "evaluation", retries=-1)  # evaluating is idempotent
        self.evaluating = None  # ObjectRef of the evaluation in flight
        self.baseline = None  # ObjectRef of the reference optimizer's held-out figures (cached in the store)
        every = cfg.evaluation.every_steps
        evaluated = store.query("SELECT MAX(version) FROM evaluations")[0][0]
        self.next_eval = 0 if evaluated is None else (evaluated // every + 1) * every
        self.goals = schedule.train_goals(store, cfg.daemon.skip_families)
        self.round = schedule.next_round(store)
        self.rounds: deque = deque()  # (round, ObjectRef of the check)
        self.learns: deque = deque()
        self.params = None  # ObjectRef of the learner's newest (version, params), not yet pushed
        self.report = status_mod.Report(store)
        self.lab = status_mod.LabWatch(store)
        self.clock = {"log": 0.0, "figure": time.time() + min(30.0, cfg.tracking.figure_every_s), "feeds": 0.0}
        self.polling = None  # ObjectRef of the feeds' poll in flight (arXiv may take minutes)
        log.info("daemon up: round %d, parameter version %d, %d training goals", self.round, self.version,
                 len(self.goals))

    def _actor(self, actor_class, name: str, retries: int):
        # The XLA thread flags reach every actor through the job's runtime_env (see _start_ray).
        opts = {"max_restarts": self.cfg.ray.max_restarts, "max_task_retries": retries, "num_cpus": 0}
        actor = actor_class.options(**opts).remote(self.cfg, self.paths)
        self.actors[name] = actor
        return actor

    def _pids(self) -> dict[str, int | None]:
        """Each actor's process id (None for one that does not answer within 2 s)."""
        refs = {name: actor.pid.options(concurrency_group="control").remote() for name, actor in self.actors.items()}
        ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=2.0)
        out = {}
        for name, ref in refs.items():
            try:
                out[name] = ray.get(ref, timeout=0) if ref in ready else None
            except RayError:
                out[name] = None
        return out

    def _get(self, ref):
        return ray.get(ref, timeout=self.timeout)

    def stop(self, signum=None, frame=None) -> None:
        if self.stopping:  # a second signal: stop waiting for in-flight work
            raise KeyboardInterrupt
        log.info("signal %s: finishing in-flight work, then a checkpoint", signum)
        self.stopping = True

    def loop(self, seconds: float | None = None) -> None:
        end = None if seconds is None else time.time() + seconds
        while not self.stopping and (end is None or time.time() < end):
            while len(self.rounds) < self.cfg.daemon.rounds_in_flight:
                self._submit()
            self._collect(timeout=0.5)
            self._push_params()
            self._periodic()

    def _submit(self) -> None:
        tasks = schedule.round_goals(self.goals, self.round, self.cfg, lab=labgoals.active(self.store))
        proposals = self.proposer.propose.remote(self.round, tasks)
        worker = self.experiments[self.round % len(self.experiments)]
        self.rounds.append((self.round, worker.check.remote(proposals)))
        self.round += 1

    def _collect(self, timeout: float) -> None:
        """Wait until something is ready, then take every finished round and update, oldest first.

        Readiness is asked of all pending objects at once: which one a single-object wait returns
        among several ready ones is not the oldest, and waiting for one kind alone could stall.
        """
        pending = [ref for _, ref in self.rounds] + list(self.learns)
        pending += [r for r in (self.params, self.evaluating) if r is not None]
        ray.wait(pending, num_returns=1, timeout=timeout, fetch_local=False)
        done = set(ray.wait(pending, num_returns=len(pending), timeout=0, fetch_local=False)[0])
        while self.rounds and self.rounds[0][1] in done:
            self._checked(*self.rounds.popleft())
        while self.learns and self.learns[0] in done:
            self._learned(self.learns.popleft())
        if self.evaluating in done:
            self._evaluated()

    def _checked(self, round_: int, ref) -> None:
        try:
            checked: Checked = self._get(ref)
        except (RayError, GetTimeoutError) as err:  # its goals come round again; nothing was half-written
            log.warning("round %d was not checked and is skipped: %s", round_, err)
            return
        self.report.add(checked)
        while len(self.learns) >= 2:  # the learner keeps up with the checks, or checks wait
            self._learned(self.learns.popleft())
        self.learns.append(self.learner.learn.remote(ref))

    def _learned(self, ref) -> None:
        try:
            learned: Learned = self._get(ref)
        except (RayError, GetTimeoutError) as err:  # the restarted learner resumes from its checkpoint
            log.warning("a learner update failed and is skipped: %s", err)
            return
        before = self.report.learner.contaminated_refused if self.report.learner else 0
        if learned.contaminated_refused > before:
            log.warning("the learner refused %d held-out goals offered for training (matching hashes)",
                        learned.contaminated_refused)
        self.report.learner = learned
        self.version = learned.step
        if learned.checkpoint is not None:
            log.info("checkpoint at step %d", learned.checkpoint)
        if self.params is None:  # handed to the proposer once ready: a proposer task waiting on
            self.params = self.learner.params.remote()  # the learner would stall sampling
        if self.evaluating is None and self.version >= self.next_eval:
            self.evaluating = self.evaluator.evaluate.remote(self.learner.params.remote())
            if self.baseline is None:  # queued behind the first evaluation, computed once
                self.baseline = self.evaluator.baseline.remote(self.cfg.evaluation.baseline)
            self.next_eval = (self.version // self.cfg.evaluation.every_steps + 1) * self.cfg.evaluation.every_steps

    def _evaluated(self) -> None:
        """Log a held-out evaluation, register a promoted version, redraw the learning curve."""
        ref, self.evaluating = self.evaluating, None
        try:
            report = self._get(ref)
        except (RayError, GetTimeoutError) as err:
            log.warning("a held-out evaluation failed and is skipped: %s", err)
            return
        values = {f"heldout_{k}_b{b}": v for b, fig in report["budgets"].items() for k, v in fig.items()}
        values.update(heldout_forgetting_mean=report["forgetting_mean"], heldout_forgetting_max=report["forgetting_max"],
                      heldout_backward_transfer=report["backward_transfer"], heldout_elapsed_s=report["elapsed_s"],
                      champion_version=report["champion"], promoted=float(report["promoted"]))
        values.update({f"heldout_family_{f}": sr for f, sr in report["families"].items()})
        self.logger.write(values, step=report["version"])
        log.info("held-out evaluation of version %d: %s; %s", report["version"],
                 ", ".join(f"budget {b}: {f['solve_rate']:.0%}" for b, f in report["budgets"].items()), report["gate"])
        if report["promoted"]:
            name = self.cfg.evaluation.registry_name or f"specialist-{self.cfg.daemon.domain}"
            registered = self.logger.register(name, self.paths.champion, report["version"])
            log.info("version %d promoted: model %s version %s, alias champion", report["version"], name, registered)
        self._learning_curve()

    def _learning_curve(self) -> None:
        ready = ray.wait([self.baseline], timeout=0, fetch_local=False)[0] if self.baseline is not None else []
        baseline = self._get(self.baseline) if ready else None
        history = self.store.evaluations()
        fig = figures.learning_curve(history, baseline, self.cfg.learner.pretrain_steps)
        self.logger.write({"figures/learning_curve": fig}, step=history[-1]["version"])
        figures.close(fig)

    def _push_params(self) -> None:
        if self.params is not None and ray.wait([self.params], timeout=0, fetch_local=False)[0]:
            self.proposer.set_params.remote(self.params)
            self.params = None

    def _periodic(self) -> None:
        now = time.time()
        if self.polling is None and now - self.clock["feeds"] >= self.cfg.feeds.poll_every_s:
            self.clock["feeds"] = now
            self.polling = self.feeds.poll.remote()
        elif self.polling is not None and ray.wait([self.polling], timeout=0)[0]:
            self._polled(self._get(self.polling))
            self.polling = None
        if now - self.clock["log"] >= self.cfg.tracking.log_every_s:
            self.clock["log"] = now
            self._write_status(running=True)
        if now >= self.clock["figure"] and self.report.rounds:
            self.clock["figure"] = now + self.cfg.tracking.figure_every_s
            self._figure()
        retention.tick(self.cfg, self.store, self.logger, now)  # at the first call, then every retention.every_minutes

    def _polled(self, report: Polled) -> None:
        for feed, error in report.errors.items():
            log.warning("feed %s: %s", feed, error)
        if any(report.new.values()):
            log.info("feeds: %s", ", ".join(f"{n} new records from {feed}" for feed, n in report.new.items() if n))
            self.goals = schedule.train_goals(self.store, self.cfg.daemon.skip_families)
        checked = report.after.get("claims") or {}
        if checked.get("checked"):
            log.info("claims checked: %d (%d inconsistent)", checked["checked"], checked["inconsistent"])
        cal = report.after.get("calibration")
        if cal:
            log.info("calibration v%d on %d measurements: RMS %.4g -> %.4g", cal["version"], cal["measurements"],
                     cal["rms_before"], cal["rms_after"])

    def _write_status(self, running: bool) -> None:
        improved, lines = self.lab.update()
        for line in lines:
            log.info(line)
        metrics = self.report.metrics()
        self.logger.write({**metrics, **self.lab.metrics(), "params_version": self.version}, step=self.round)
        self._lab_figures(improved)
        self.store.put("cursors", {"stream": status_mod.CURSOR, "position": {
            "running": running, "pid": os.getpid(), "host": socket.gethostname(), "started_at": self.started,
            "heartbeat": time.time(), "round": self.round, "params_version": self.version,
            "run_id": self.logger.run_id, "actors": self._pids(), "metrics": metrics}})
        processes.record_children(self.paths)

    def _figure(self) -> None:
        items = []
        for best in self.report.best_designs(self.cfg.tracking.figure_goals):
            series = self._get(self.experiments[0].curves.remote(best.goal, best.design))
            if series:
                items.append((f"{best.goal.get('name', best.goal_hash[:12])}: merit {best.merit:.3g}", series))
        if items:
            fig = figures.designs_against_goals(items)
            self.logger.write({"figures/best_designs": fig}, step=self.round)
            figures.close(fig)

    def _lab_figures(self, improved: dict) -> None:
        """A figure per lab goal whose best design improved: that design against its targets."""
        for task in labgoals.active(self.store):
            name = task.goal["name"]
            found = labgoals.best_design(self.store, task.goal_hash) if name in improved else None
            series = self._get(self.experiments[0].curves.remote(task.goal, found[0])) if found else None
            if series:
                fig = figures.designs_against_goals([(f"{name}: merit {found[1]:.3g}", series)])
                self.logger.write({f"figures/lab_{name}": fig}, step=self.round)
                figures.close(fig)

    def shutdown(self) -> None:
        """Finish what is in flight, checkpoint, write the last status and end the run."""
        try:
            while self.rounds:
                self._checked(*self.rounds.popleft())
            while self.learns:
                self._learned(self.learns.popleft())
            if self.evaluating is not None:  # its report is in the store; log it and any promotion
                self._evaluated()
            step = self._get(self.learner.checkpoint.remote())
            log.info("shutdown checkpoint at step %d", step)
            self._write_status(running=False)
            if self.report.rounds:
                self._figure()
            self.logger.close("FINISHED")
        except KeyboardInterrupt:
            self.logger.close("KILLED")


# A local cluster serves this machine alone. Ray binds every server of a node (GCS, raylet, each
# worker's gRPC server, its agents, the autoscaler's metrics) to loopback when the node's address is
# loopback, and its one switch for that is the single-machine mode it uses on macOS and Windows.
# Set before ray.init, so that the GCS and raylet inherit them and hand them on to the workers.
LOCAL_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # single machine: the node's address is 127.0.0.1
    "RAY_USAGE_STATS_ENABLED": "0",  # nothing is reported to Ray's usage statistics server
    "RAY_enable_metrics_collection": "0",  # no metrics from Ray's own processes: nobody reads them
}


def _start_ray(cfg: Config, address: str) -> None:
    """Join the cluster at ``address``, else start a local one that listens on loopback only."""
    env = {"env_vars": {"XLA_FLAGS": actors.THREAD_FLAGS}}
    if address:  # a cluster's nodes must reach this driver: its network is the cluster's business
        ray.init(address=address, runtime_env=env, logging_level=logging.WARNING, log_to_driver=False)
        return
    os.environ.update(LOCAL_ENV)
    # Ray read the switch when it was imported (a joining daemon must not have it); it looks the
    # constant up when ray.init picks the node's address, so setting it here is enough.
    ray_constants.ENABLE_RAY_CLUSTER = False
    ray.init(address="local", num_cpus=cfg.ray.num_cpus or None, include_dashboard=False, runtime_env=env,
             logging_level=logging.WARNING, log_to_driver=False)  # "local": never a RAY_ADDRESS cluster
    node = ray.util.get_node_ip_address()
    if not ipaddress.ip_address(node).is_loopback:
        log.warning("the local Ray cluster runs on address %s, not loopback: its ports are reachable from the "
                    "network (token authentication still guards them)", node)


def _log_to(paths: Paths, cfg: Config) -> None:
    handler = retention.log_handler(paths.daemon_log, cfg.retention)  # rotated: weeks of running stay bounded
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.handlers[:] = [handler, console]
    log.propagate = False  # its own handlers; a library that set up the root logger would print each line twice
    log.setLevel(logging.INFO)
