"""A tiny second domain, built only from the public plugin API: match a short target vector.

Goal: {"name", "domain": "toy", "target": [v0, ..., vk]} with values in [0, 1] and k < 4.
Design: {"values": [...]} of the same length; merit = RMS error / 0.05, solved when <= 1.
It offers two of the optional capabilities (Optimizer, Curves), so their conformance cases run
on a domain other than photonics too; without Synthetic, its learner has no spectrum phase.
"""

from __future__ import annotations

import json

import numpy as np

from specialist.domain import END, Spec

BINS, LENGTH = 20, 4


class ToyDomain:
    spec = Spec("toy", vocab_size=3 + BINS, max_tokens=LENGTH + 1, cond_dim=LENGTH + 1)

    def curriculum(self, seed):
        rng = np.random.default_rng(seed)
        goals = [{"name": f"toy-{i}", "domain": "toy",
                  "target": rng.uniform(0, 1, int(rng.integers(1, LENGTH + 1))).round(3).tolist()}
                 for i in range(40)]
        unique = list({json.dumps(g["target"]): g for g in goals}.values())
        return unique[:30], unique[30:]

    def encode(self, goal, design=None):
        t = goal["target"]
        cond = np.zeros(self.spec.cond_dim, np.float32)
        cond[:len(t)], cond[-1] = t, len(t) / LENGTH
        if design is None:
            return cond, None
        bins = np.clip((np.asarray(design["values"]) * BINS).astype(int), 0, BINS - 1)
        return cond, [3 + int(b) for b in bins] + [END]

    def decode(self, goal, tokens):
        values = []
        for tok in tokens:
            if tok == END or len(values) == len(goal["target"]):
                break
            if tok >= 3:
                values.append((tok - 3 + 0.5) / BINS)
        return {"values": values}

    def verify(self, goal, designs):
        out = []
        for d in designs:
            v = d.get("values", [])
            if len(v) != len(goal["target"]):
                out.append({"rejected": f"needs {len(goal['target'])} values, got {len(v)}"})
                continue
            m = float(np.sqrt(np.mean((np.asarray(v) - goal["target"]) ** 2)) / 0.05)
            out.append({"merit": m, "solved": m <= 1.0})
        return out

    def refine(self, goal, designs, budget):
        """Halve the distance to the target per evaluation (a stand-in for a local optimizer)."""
        spent, out = 0, []
        for d in designs:
            v = np.asarray(d.get("values", []), float)
            if len(v) == len(goal["target"]) and spent < budget:
                v = v + 0.5 * (np.asarray(goal["target"]) - v)
                spent += 1
            out.append({"values": v.tolist()})
        return out, self.verify(goal, out), spent

    methods = ("random",)

    def starts(self, goal, count, seed=0):
        """Where the random method starts: uniform random designs."""
        rng = np.random.default_rng(seed)
        return [{"values": rng.uniform(0, 1, len(goal["target"])).tolist()} for _ in range(count)]

    def optimize(self, goal, method, budget, seed=0):
        """Random designs within the budget; the best one."""
        designs = self.starts(goal, budget, seed)
        scored = [(v["merit"], d, v["solved"]) for d, v in zip(designs, self.verify(goal, designs))]
        if not scored:
            return {"design": None, "merit": None, "solved": False, "evaluations": 0}
        merit, design, solved = min(scored, key=lambda s: s[0])
        return {"design": design, "merit": merit, "solved": solved, "evaluations": len(designs)}

    def curves(self, goal, design):
        x = list(range(len(goal["target"])))
        return [{"panel": "values", "label": "goal", "kind": "goal", "x": x, "y": goal["target"], "xlabel": "index"},
                {"panel": "values", "label": "design", "kind": "design", "x": x, "y": design["values"],
                 "xlabel": "index"}]

    def from_record(self, record):
        target = record.get("target")
        return {"goals": [{"name": record.get("id", "toy"), "domain": "toy", "target": target}] if target else [],
                "claims": [], "measurements": []}
