"""SEPARATE EXPERIMENT (not a held-out evaluation): every source, held-out sets included, as a
fitting source; leave-one-source-out across all of them; the hyper-parameter chosen by pooled
leave-one-source-out Acc1. usage: loso_all.py MODEL [with_m21]"""
import sys
from common import load_all, logo
import models as M

fit, held = load_all()
src = dict(fit)
for k in ("openmsx", "planetblupi", "lmms") + (("music21",) if "with_m21" in sys.argv else ()):
    src[k] = held[k]
G = {"cl_base": (M.train_cl, [dict(lam=l) for l in (0.1, 0.03, 0.01, 0.003, 0.001)]),
     "cl_salrel": (M.train_cl, [dict(lam=l, kind="base+salrel") for l in (0.1, 0.03, 0.01, 0.003, 0.001)]),
     "cl_tags": (M.train_cl, [dict(lam=l, kind="base+tags") for l in (0.1, 0.03, 0.01, 0.003)]),
     "cl_salrel_elig": (M.train_cl, [dict(lam=l, kind="base+salrel", elig_only=True) for l in (0.1, 0.03, 0.01, 0.003, 0.001)]),
     "cl_base_elig": (M.train_cl, [dict(lam=l, elig_only=True) for l in (0.1, 0.03, 0.01, 0.003, 0.001)]),
     "mlp_base": (M.train_mlp, [dict(lam=l, hidden=h) for l in (0.1, 0.03, 0.01) for h in (4, 8)]),
     "hgb_base": (M.train_hgb, [dict(max_depth=d, max_iter=n, kind="base") for d in (2, 3) for n in (100, 200)]),
     }
fn, grid = G[sys.argv[1]]
best = None
for p in grid:
    res = logo(src, fn, **p)
    print(sys.argv[1:], p, " ".join(f"{k} {v:.1f}" for k, v in res.items()), flush=True)
    if best is None or res["pooled"] > best[1]["pooled"]:
        best = (p, res)
print("BEST", sys.argv[1:], best[0], " ".join(f"{k} {v:.1f}" for k, v in best[1].items()))
