"""Run one model family: LOGO grid over the fitting sets, choose by pooled LOGO Acc1 (ties: the
earlier grid point, listed simplest first), then refit on all three and score held-out sets once.
usage: exp.py NAME   (see GRIDS)"""
import itertools, json, sys, time
from common import acc, fmt_row, heldout, load_all, logo, low_styles
import models as M

def grid(**kw):
    keys = list(kw)
    return [dict(zip(keys, v)) for v in itertools.product(*kw.values())]

GRIDS = {
    "cl_base": (M.train_cl, grid(lam=[1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001], kind=["base"])),
    "cl_rel": (M.train_cl, grid(lam=[1.0, 0.3, 0.1, 0.03, 0.01, 0.003], kind=["base+rel"])),
    "cl_oct": (M.train_cl, grid(lam=[1.0, 0.3, 0.1, 0.03, 0.01, 0.003], kind=["base+oct"])),
    "cl_salrel": (M.train_cl, grid(lam=[1.0, 0.3, 0.1, 0.03, 0.01, 0.003], kind=["base+salrel"])),
    "mlp_oct": (M.train_mlp, grid(lam=[0.1, 0.03, 0.01], hidden=[4, 8], kind=["base+oct"])),
    "cl_base_elig": (M.train_cl, grid(lam=[1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001], kind=["base"], elig_only=[True])),
    "cl_salrel_elig": (M.train_cl, grid(lam=[1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001], kind=["base+salrel"], elig_only=[True])),
    "cl_salrel_ext": (M.train_cl, grid(lam=[0.003, 0.001, 0.0003], kind=["base+salrel"])),
    "cl_tags": (M.train_cl, grid(lam=[0.1, 0.03, 0.01, 0.003], kind=["base+tags"])),
    "mlp_base": (M.train_mlp, grid(lam=[0.1, 0.03, 0.01, 0.003], hidden=[4, 8, 16], kind=["base"])),
    "mlp_rel": (M.train_mlp, grid(lam=[0.1, 0.03, 0.01, 0.003], hidden=[4, 8, 16], kind=["base+rel"])),
    "hgb_base": (M.train_hgb, grid(max_depth=[2, 3, 4], max_iter=[50, 100, 200], lr=[0.1], min_leaf=[20], kind=["base"])),
    "hgb_base_ext": (M.train_hgb, grid(max_depth=[4, 5, 6], max_iter=[200, 400], lr=[0.1], min_leaf=[20], kind=["base"])),
    "hgb_rel": (M.train_hgb, grid(max_depth=[2, 3, 4], max_iter=[50, 100, 200], lr=[0.1], min_leaf=[20], kind=["base+rel"])),
    "lgb_rank_base": (M.train_lgb, grid(num_leaves=[3, 4, 8], n_estimators=[50, 100, 200], lr=[0.1], kind=["base"])),
    "lgb_rank_rel": (M.train_lgb, grid(num_leaves=[3, 4, 8], n_estimators=[50, 100, 200], lr=[0.1], kind=["base+rel"])),
    "lgb_xe_rel": (M.train_lgb, grid(num_leaves=[3, 4, 8], n_estimators=[50, 100, 200], lr=[0.1], kind=["base+rel"], objective=["rank_xendcg"])),
    "pair_base": (M.train_pair, grid(max_depth=[2, 3], max_iter=[50, 100, 200], kind=["base"])),
    "pair_rel": (M.train_pair, grid(max_depth=[2, 3], max_iter=[50, 100, 200], kind=["base+rel"])),
}

name = sys.argv[1]
fn, G = GRIDS[name]
t0 = time.time()
fit, held = load_all()
res = []
for p in G:
    cv = logo(fit, fn, **p)
    res.append((p, cv))
    print(name, p, {k: round(v, 1) for k, v in cv.items()}, f"{time.time()-t0:.0f}s", flush=True)
best_i = max(range(len(res)), key=lambda i: (round(res[i][1]["pooled"], 6), -i))
p, cv = res[best_i]
out, ins = heldout(fit, held, fn, **p)
print("\nCHOSEN", name, p)
print("LOGO", {k: round(v, 1) for k, v in cv.items()})
print("in-sample", {k: round(acc(v), 1) for k, v in ins.items()})
for k, v in out.items():
    print("HELD", k, f"Acc1 {acc(v):.1f} Acc2 {acc(v, which=1):.1f}", "low styles:", {s: (n, round(a, 1)) for s, (n, a) in low_styles(v).items()})
print("ROW", fmt_row(f"{name} {p}", cv, out, ins))
json.dump({"name": name, "grid": [(q, c) for q, c in res], "chosen": p, "logo": cv,
           "held": {k: [acc(v), acc(v, which=1), low_styles(v)] for k, v in out.items()},
           "insample": {k: acc(v) for k, v in ins.items()}}, open(f"res_{name}.json", "w"), indent=1, default=str)
