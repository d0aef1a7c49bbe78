"""Decision models over a clip's hypotheses. Each train_* returns scorer(clip) -> scores."""
import numpy as np
from scipy.optimize import minimize

from common import ftl, rel_features, tag_features

_cache = {}


def feats(c, kind):
    key = (id(c), kind)
    if key not in _cache:
        parts = []
        for k in kind.split("+"):
            if k == "base":
                parts.append(c["X"])
            elif k == "rel":
                parts.append(rel_features(c))
            elif k == "oct":  # presence / salience difference of the hypothesis at x2 and x1/2
                parts.append(rel_features(c)[:, 11:15])
            elif k == "salrel":  # salience minus the clip's best, and its rank
                parts.append(rel_features(c)[:, 0:2])
            elif k == "tags":
                parts.append(tag_features(c))
            elif k == "clipmean":  # each base feature minus its clip mean, and the clip mean
                m = c["X"].mean(0, keepdims=True)
                parts += [c["X"] - m, np.repeat(m, len(c["X"]), 0)]
            else:
                raise ValueError(k)
        _cache[key] = np.hstack(parts)
    return _cache[key]


# ---------- conditional logit (the shipped model's form) ----------
def train_cl(train, lam=0.003, kind="base", elig_only=False):
    us = ftl.fittable(train)
    Xs = [feats(c, kind) for c in us]
    allx = np.vstack(Xs)
    mean, scale = allx.mean(0), allx.std(0) + 1e-9
    Zs = [(X - mean) / scale for X in Xs]
    masks = [c["elig"] if elig_only else np.ones(len(c["bpms"]), bool) for c in us]
    ts = [c["target"] for c in us]
    keep = [i for i in range(len(us)) if masks[i][ts[i]]]
    w = ftl.conditional_logit([Zs[i] for i in keep], [ts[i] for i in keep], lam,
                              [masks[i] for i in keep])
    return lambda c: ((feats(c, kind) - mean) / scale) @ w


# ---------- conditional MLP: score = v·tanh(W z + b) + u·z, softmax over the clip ----------
def train_mlp(train, hidden=8, lam=0.01, kind="base", seed=0, restarts=3):
    us = ftl.fittable(train)
    Xs = [feats(c, kind) for c in us]
    allx = np.vstack(Xs)
    mean, scale = allx.mean(0), allx.std(0) + 1e-9
    Z = np.vstack([(X - mean) / scale for X in Xs])
    sizes = [len(X) for X in Xs]
    off = np.concatenate([[0], np.cumsum(sizes)])
    seg = np.repeat(np.arange(len(us)), sizes)
    tidx = np.array([off[i] + c["target"] for i, c in enumerate(us)])
    d, H, n = Z.shape[1], hidden, len(us)

    def unpack(p):
        W = p[:H * d].reshape(H, d)
        b = p[H * d:H * d + H]
        v = p[H * d + H:H * d + 2 * H]
        u = p[H * d + 2 * H:]
        return W, b, v, u

    def loss(p):
        W, b, v, u = unpack(p)
        A = np.tanh(Z @ W.T + b)
        s = A @ v + Z @ u
        mx = np.full(n, -np.inf)
        np.maximum.at(mx, seg, s)
        e = np.exp(s - mx[seg])
        tot = np.zeros(n)
        np.add.at(tot, seg, e)
        pr = e / tot[seg]
        nll = -np.sum(np.log(pr[tidx] + 1e-300)) / n
        ds = pr.copy()
        ds[tidx] -= 1
        ds /= n
        gv = A.T @ ds
        gu = Z.T @ ds
        dA = np.outer(ds, v) * (1 - A ** 2)
        gW = dA.T @ Z
        gb = dA.sum(0)
        reg = lam * (np.sum(W ** 2) + np.sum(v ** 2) + np.sum(u ** 2))
        g = np.concatenate([(gW + 2 * lam * W).ravel(), gb, gv + 2 * lam * v, gu + 2 * lam * u])
        return nll + reg, g

    best = None
    rng = np.random.default_rng(seed)
    for r in range(restarts):
        p0 = np.concatenate([rng.normal(0, 0.3, H * d), np.zeros(H), rng.normal(0, 0.3, H), np.zeros(d)])
        res = minimize(loss, p0, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
        if best is None or res.fun < best.fun:
            best = res
    W, b, v, u = unpack(best.x)

    def scorer(c):
        z = (feats(c, kind) - mean) / scale
        return np.tanh(z @ W.T + b) @ v + z @ u
    return scorer


# ---------- gradient-boosted trees, pointwise (is this hypothesis the label's?) ----------
def train_hgb(train, kind="base+rel", max_depth=3, max_iter=100, lr=0.1, l2=1.0, min_leaf=20, seed=0):
    from sklearn.ensemble import HistGradientBoostingClassifier
    us = ftl.fittable(train)
    X = np.vstack([feats(c, kind) for c in us])
    y = np.concatenate([np.arange(len(c["bpms"])) == c["target"] for c in us]).astype(int)
    m = HistGradientBoostingClassifier(max_depth=max_depth, max_iter=max_iter, learning_rate=lr,
                                       l2_regularization=l2, min_samples_leaf=min_leaf,
                                       early_stopping=False, random_state=seed)
    m.fit(X, y)
    return lambda c: m.decision_function(feats(c, kind))


# ---------- LightGBM ranking (lambdarank / softmax-like listwise objective per clip) ----------
def train_lgb(train, kind="base+rel", objective="lambdarank", num_leaves=4, n_estimators=100, lr=0.1,
              min_leaf=20, l2=1.0, seed=0):
    import lightgbm as lgb
    us = ftl.fittable(train)
    X = np.vstack([feats(c, kind) for c in us])
    y = np.concatenate([np.arange(len(c["bpms"])) == c["target"] for c in us]).astype(int)
    group = [len(c["bpms"]) for c in us]
    m = lgb.LGBMRanker(objective=objective, num_leaves=num_leaves, n_estimators=n_estimators,
                       learning_rate=lr, min_child_samples=min_leaf, reg_lambda=l2, random_state=seed,
                       verbose=-1, n_jobs=1, deterministic=True, force_row_wise=True)
    m.fit(X, y, group=group)
    return lambda c: m.predict(feats(c, kind))


# ---------- pairwise GBDT: P(a beats b) from [z(a)-z(b), z(a), z(b)], Borda score ----------
def train_pair(train, kind="base+rel", max_depth=3, max_iter=100, lr=0.1, l2=1.0, min_leaf=20, seed=0):
    from sklearn.ensemble import HistGradientBoostingClassifier
    us = ftl.fittable(train)
    rows, ys = [], []
    for c in us:
        F = feats(c, kind)
        t = c["target"]
        for j in range(len(F)):
            if j == t:
                continue
            rows.append(np.concatenate([F[t] - F[j], F[t], F[j]]))
            ys.append(1)
            rows.append(np.concatenate([F[j] - F[t], F[j], F[t]]))
            ys.append(0)
    m = HistGradientBoostingClassifier(max_depth=max_depth, max_iter=max_iter, learning_rate=lr,
                                       l2_regularization=l2, min_samples_leaf=min_leaf,
                                       early_stopping=False, random_state=seed)
    m.fit(np.array(rows), np.array(ys))

    def scorer(c):
        F = feats(c, kind)
        n = len(F)
        P = np.array([np.concatenate([F[a] - F[b], F[a], F[b]]) for a in range(n) for b in range(n) if a != b])
        d = m.decision_function(P)
        s = np.zeros(n)
        k = 0
        for a in range(n):
            for b in range(n):
                if a != b:
                    s[a] += d[k]
                    k += 1
        return s
    return scorer
