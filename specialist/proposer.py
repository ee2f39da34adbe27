"""Sampling designs from the specialist: one cached decoder pass per token, batched over goals."""

from __future__ import annotations

import itertools
import json
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from specialist.core import Proposals, Task
from specialist.domain import END, Optimizer
from specialist.model import ModelConfig, Specialist, empty_cache

# Budget per refined candidate at test time, as the gradient baseline spends per start; chosen
# on the validation split (budget 1000: 82 % solved refining 1 candidate, 87 % refining 3).
EVALS_PER_REFINED = 300
# Budgets from which the domain optimizer's own starts join the candidates (a portfolio: where
# the model knows little, refinement still starts where the optimizer would), and how many.
PORTFOLIO_FROM, PORTFOLIO_STARTS, PORTFOLIO_MARGIN = 30, 2, 0.5


VERIFY_DIVISOR = 10


def portfolio_starts(budget: int) -> int:
    """How many of the optimizer's starts a budget verifies: none below PORTFOLIO_FROM, then
    PORTFOLIO_STARTS, or one per EVALS_PER_REFINED evaluations where that is more (as many as
    the gradient baseline refines at that budget, at most 8)."""
    return 0 if budget < PORTFOLIO_FROM else min(8, max(PORTFOLIO_STARTS, budget // EVALS_PER_REFINED))


def verified(budget: int) -> int:
    """How many candidates a budget verifies before refining: all of a small budget, a fifth of
    a larger one (at least 10, at most 64), so refinement keeps most of it."""
    return budget if budget <= 10 else min(64, max(10, budget // VERIFY_DIVISOR))


@partial(jax.jit, static_argnames=("cfg",))
def sample(params, cfg: ModelConfig, cond_BxC, key, temperature=1.0):
    """(tokens_BxT, logp_B): tokens sampled autoregressively (T = cfg.max_tokens; read each row up
    to END) and each row's mean log-likelihood per token, END included (at temperature 1).

    Args:
        params: the model's parameters.
        cfg: its configuration (static: one compile per configuration and batch shape).
        cond_BxC: conditioning of each row's goal.
        key: a PRNG key; the same key gives the same samples.
        temperature: softmax temperature; 0 would be greedy, use small values instead.
    """
    model = Specialist(cfg)
    B = cond_BxC.shape[0]

    def step(carry, pos):
        token_B, caches, key, done_B, logp_B, count_B = carry
        key, sub = jax.random.split(key)
        logits_BxV, caches = model.apply(params, cond_BxC, token_B, pos, caches, method=Specialist.decode_step)
        token_B = jax.random.categorical(sub, logits_BxV / temperature).astype(jnp.int32)
        chosen_B = jnp.take_along_axis(jax.nn.log_softmax(logits_BxV), token_B[:, None], axis=1)[:, 0]
        live_B = ~done_B
        logp_B, count_B = logp_B + jnp.where(live_B, chosen_B, 0.0), count_B + live_B
        return (token_B, caches, key, done_B | (token_B == END), logp_B, count_B), token_B

    start = (jnp.zeros(B, jnp.int32), empty_cache(cfg, B), key, jnp.zeros(B, bool), jnp.zeros(B), jnp.zeros(B))
    (_, _, _, _, logp_B, count_B), tokens_TxB = jax.lax.scan(step, start, jnp.arange(cfg.max_tokens))
    return tokens_TxB.T, logp_B / jnp.maximum(count_B, 1)


def _trusted(scored: list) -> list:
    """The candidates refinement may start from: where the optimizer's own starts are among
    them, the model's only if one is clearly better than the best of those (merit below
    PORTFOLIO_MARGIN times it), since a many-layer design at a local minimum refines worse than
    a classical start of the same merit; else all of them."""
    classical = [s for s in scored if s[3] == "optimizer start"]
    if not classical:
        return scored
    bar = PORTFOLIO_MARGIN * min(s[0] for s in classical)
    return [s for s in scored if s[3] == "optimizer start" or s[0] < bar]


class Proposer:
    """Samples a group of designs per goal from the newest parameters it was handed.

        proposer.set_params((version, params))          # pushed by the learner, between rounds
        proposals = proposer.propose(round, tasks)      # tasks: [core.Task]
    """

    def __init__(self, domain, model_cfg: ModelConfig, params, version: int, seed: int, group: int,
                 temperature: float):
        self.domain, self.cfg, self.group, self.temperature = domain, model_cfg, group, temperature
        self.params, self.version, self.seed = params, version, seed

    def set_params(self, versioned: tuple) -> int:
        """Take (version, params) if newer than what is held; returns the version held."""
        version, params = versioned
        if version >= self.version:
            self.params, self.version = params, version
        return self.version

    def propose(self, round_: int, tasks: list[Task]) -> Proposals:
        """``group`` designs per task; the same round and parameters always give the same designs."""
        key = jax.random.fold_in(jax.random.key(self.seed), round_)
        designs = [[d for d, _ in ranked] for ranked in self.designs([t.goal for t in tasks], self.group, key)]
        return Proposals(round=round_, version=self.version, tasks=list(tasks), designs=designs)

    def designs(self, goals: list[dict], count: int, key, unique: bool = False) -> list[list[tuple[dict, float]]]:
        """``count`` sampled (design, mean log-likelihood per token) per goal from one batched
        call; with ``unique``, repeated designs dropped and the rest ranked most likely first."""
        cond_BxC = np.repeat(np.stack([self.domain.encode(g)[0] for g in goals]), count, axis=0)
        tokens, logp = sample(self.params, self.cfg, cond_BxC, key, self.temperature)
        tokens, logp = np.asarray(tokens), np.asarray(logp, np.float64)
        out = []
        for i, g in enumerate(goals):
            rows = [(self.domain.decode(g, tokens[i * count + j].tolist()), float(logp[i * count + j]))
                    for j in range(count)]
            if unique:
                seen: dict[str, tuple[dict, float]] = {}
                for design, lp in rows:
                    seen.setdefault(json.dumps(design, sort_keys=True), (design, lp))
                rows = sorted(seen.values(), key=lambda r: -r[1])
            out.append(rows)
        return out

    def best(self, goal: dict, budget: int, samples: int | None = None, retrieval=None,
             retrieved: int = 0, refine_top: int = 2, seed: int = 0) -> dict:
        """The best design for one goal within ``budget`` evaluations (``search`` of one)."""
        return self.search([goal], (budget,), samples, retrieval, retrieved, refine_top, seed)[0][budget]

    def search(self, goals: list[dict], budgets, samples: int | None = None, retrieval=None,
               retrieved: int = 0, refine_top: int = 2, seed: int = 0) -> list[dict[int, dict]]:
        """Test-time compute for goals at several budgets, with the same candidates for each.

        The model's own compute costs no evaluations: ``samples`` designs are sampled per goal
        (one batched call for all goals), repeats dropped, the rest ranked by the model's
        likelihood. Candidates alternate between the nearest known goals' best designs
        (``retrieval``, a ``learner.replay.Replay``; up to ``retrieved`` of them) and the
        ranked samples; from budget PORTFOLIO_FROM on, PORTFOLIO_STARTS of the domain
        optimizer's own starts (Optimizer capability) join them. Budget b verifies the first
        ``verified(b)`` in one batch, one evaluation each, then spends the rest refining the
        ``refine_top`` best through the domain (``refine_top`` more per ``EVALS_PER_REFINED``
        evaluations of budget: a long refinement gains from diverse starts).

        Returns:
            Per goal, per budget: {"design", "merit", "solved", "evaluations", "source"}
            ("sampled", "retrieved", "optimizer start" or "refined"); design None if nothing
            valid was found.
        """
        samples = samples or self.group
        sampled = self.designs(goals, samples, jax.random.key(seed), unique=True)
        portfolio = isinstance(self.domain, Optimizer) and max(budgets) >= PORTFOLIO_FROM
        out = []
        for goal, own in zip(goals, sampled):
            near = [(d, "retrieved") for d in (retrieval.nearest(goal, retrieved) if retrieval is not None else [])]
            mine = [(d, "sampled") for d, _ in own]
            ranked = [c for pair in itertools.zip_longest(near, mine) for c in pair if c is not None]
            starts = [(d, "optimizer start") for d in
                      self.domain.starts(goal, portfolio_starts(max(budgets)), seed)] if portfolio else []
            verdicts = self.domain.verify(goal, [d for d, _ in ranked + starts])
            out.append({b: self._spend(goal, ranked, starts[:portfolio_starts(b)], verdicts, b, refine_top)
                        for b in budgets})
        return out

    def _spend(self, goal: dict, ranked: list, starts: list, verdicts: list[dict], budget: int,
               refine_top: int) -> dict:
        # the optimizer's starts take the last places of the verified candidates
        n = min(verified(budget) - len(starts), len(ranked))
        chosen = list(zip(ranked[:n], verdicts[:n])) + list(zip(starts, verdicts[len(ranked):]))
        scored = [(v["merit"], d, v, source) for (d, source), v in chosen if "merit" in v]
        spent = len(chosen)
        if scored and budget > spent:
            top = refine_top * max(1, budget // EVALS_PER_REFINED)
            best = [d for _, d, _, _ in sorted(_trusted(scored), key=lambda s: s[0])[:top]]
            refined, rverdicts, used = self.domain.refine(goal, best, budget - spent)
            spent += used
            scored += [(v["merit"], d, v, "refined") for d, v in zip(refined, rverdicts) if "merit" in v]
        if not scored:
            return {"design": None, "merit": None, "solved": False, "evaluations": spent, "source": None}
        merit, design, verdict, source = min(scored, key=lambda s: s[0])
        return {"design": design, "merit": merit, "solved": bool(verdict["solved"]), "evaluations": spent,
                "source": source}
