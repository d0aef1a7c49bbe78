"""The configuration each family chose (res_NAME.json, which exp.py writes where it runs), run
again: leave-one-style-out Acc1 over the pooled fitting sets, the fitting styles under 70 % in
LOGO (each generator decided by the model fitted on the others), the held-out clips gained and
lost against the first name given, and for each held-out miss where the label's hypothesis
ranks and what the chosen tempo is over the label. usage: summary.py cl_base NAME ..."""
import json
import sys

import numpy as np

from common import acc, evaluate, ftl, load_all, loso_style
import models as M

TRAIN = {"cl": M.train_cl, "mlp": M.train_mlp, "hgb": M.train_hgb, "lgb": M.train_lgb,
         "pair": M.train_pair}
fit, held = load_all()
baseline = None
for name in sys.argv[1:]:
    p = json.load(open(f"res_{name}.json"))["chosen"]
    fn = TRAIN[name.split("_")[0]]
    low = {}
    for g in fit:
        by = evaluate(fit[g], fn([c for k, v in fit.items() if k != g for c in v], **p))
        low.update({f"{g}:{s}": f"{acc(by, s):.0f} % of {len(v)}" for s, v in by.items()
                    if s != "ALL" and acc(by, s) < 70})
    scorer = fn([c for v in fit.values() for c in v], **p)
    hits = {k: np.array([h[0] for h in evaluate(v, scorer)["ALL"]]) for k, v in held.items()}
    baseline = baseline or hits
    moved = ", ".join(f"{k} +{int((h & ~baseline[k]).sum())}/-{int((~h & baseline[k]).sum())}"
                      for k, h in hits.items())
    misses = {}
    for k, clips in held.items():
        for c in clips:
            if c["F"] is None or c["target"] < 0:
                continue
            s = np.where(c["elig"], scorer(c), -np.inf)
            chosen = ftl.pick(c, s)
            if not ftl.within(chosen, c["bpm"]):
                rank = 1 + int((s > s[c["target"]]).sum())
                ratio = "none" if chosen is None else f"{chosen / c['bpm']:.2f}"
                misses.setdefault(k, []).append(f"{rank}:{ratio}")
    print(f"{name} {p}: leave-one-style-out {loso_style(fit, fn, **p):.1f}; held out vs "
          f"{sys.argv[1]}: {moved}\n   LOGO styles < 70 %: {low}\n"
          f"   held-out misses (rank of the label's hypothesis:chosen/label): {misses}", flush=True)
