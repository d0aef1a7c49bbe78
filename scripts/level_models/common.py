"""Shared loading / evaluation for the tempo-level decision experiments.

Decision rule as in src/features/tempo/mod.rs: the chosen hypothesis is the highest-scoring one
among those whose salience >= MIN_CONFIDENCE (0.10); a clip with no decision or no such hypothesis
is a miss. Acc1: within 4 % of the label; Acc2 also x2, x1/2, x3, x1/3.
"""
import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("ftl", ROOT / "scripts" / "fit_tempo_level.py")
ftl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ftl)

D = str(ROOT / "data" / "level_fit") + "/"
FIT = {"fit": D + "fit.jsonl", "grooves": D + "grooves.jsonl", "synth": D + "synth.jsonl"}
HELD = {"openmsx": D + "midi.jsonl", "planetblupi": D + "blupi.jsonl", "lmms": D + "lmms.jsonl",
        "music21": D + "m21.jsonl"}
BASE = ftl.FEATURES
TAGS = ftl.TAGS


def load(name, path):
    clips = ftl.load([path])
    for c in clips:
        c["source"] = name
        if c["F"] is None:
            continue
        names = c["names"]
        c["X"] = c["F"][:, [names.index(n) for n in BASE]]
        c["elig"] = c["salience"] >= ftl.MIN_CONFIDENCE
    return clips


def load_all():
    fit = {k: load(k, v) for k, v in FIT.items()}
    held = {k: load(k, v) for k, v in HELD.items()}
    return fit, held


def rel_features(c):
    """Features of each hypothesis relative to its clip's hypothesis set."""
    X, b = c["X"], c["bpms"]
    n = len(b)
    col = {k: i for i, k in enumerate(BASE)}
    out = []
    for key in ("salience", "tempogram_score", "acf_1", "low_salience", "backbeat"):
        v = X[:, col[key]]
        mx = v.max()
        out.append(v - mx)                                   # distance to the clip's best
        out.append(np.argsort(np.argsort(-v)).astype(float))  # rank (0 = best)
    sal = X[:, col["salience"]]
    top = int(np.argmax(sal))
    out.append(np.log2(b / b[top]))                          # octave relation to the most salient
    for f in (2.0, 0.5, 3.0, 1 / 3):
        strength = np.zeros(n)
        pres = np.zeros(n)
        for i in range(n):
            r = np.abs(b / (b[i] * f) - 1)
            j = int(np.argmin(r))
            if r[j] <= 0.04:
                pres[i] = 1
                strength[i] = sal[j] - sal[i]
        out += [pres, strength]
    out.append(np.full(n, float(n)))
    return np.column_stack(out)


def tag_features(c, tags=TAGS):
    x = c["X"][:, 0:1]
    p = np.array([[c["tags"].get(t, 0.0) for t in tags]])
    return np.hstack([np.repeat(p, len(x), 0), x * p])


def evaluate(clips, scorer):
    """Per style, the (Acc1, Acc2) hits of each clip decided as the binary decides from
    `scorer(clip)`, one score per hypothesis."""
    return ftl.tally(clips, lambda c: None if c["F"] is None else ftl.pick(c, scorer(c)))


def acc(by, k="ALL", which=0):
    v = np.array(by[k])
    return 100 * v[:, which].mean()


def logo(fit, train_fn, **kw):
    """Leave-one-source-out over the sets of `fit` (the fitting generators: LOGO): each set's
    Acc1 by the model fitted on the others, and pooled."""
    res, pooled = {}, []
    for g in fit:
        train = [c for k, v in fit.items() if k != g for c in v]
        scorer = train_fn(train, **kw)
        by = evaluate(fit[g], scorer)
        res[g] = acc(by)
        pooled += [x[0] for x in by["ALL"]]
    res["pooled"] = 100 * np.mean(pooled)
    return res


def loso_style(fit, train_fn, **kw):
    """Leave-one-style-out over the pooled fitting sets (style names are shared across generators)."""
    allc = [c for v in fit.values() for c in v]
    hits = []
    for s in sorted({c["style"] for c in allc}):
        train = [c for c in allc if c["style"] != s]
        scorer = train_fn(train, **kw)
        by = evaluate([c for c in allc if c["style"] == s], scorer)
        hits += [x[0] for x in by["ALL"]]
    return 100 * np.mean(hits)


def heldout(fit, held, train_fn, **kw):
    train = [c for v in fit.values() for c in v]
    scorer = train_fn(train, **kw)
    out = {}
    for k, v in held.items():
        out[k] = evaluate(v, scorer)
    insample = {k: evaluate(v, scorer) for k, v in fit.items()}
    return out, insample


def low_styles(by, thr=70.0):
    return {k: (len(v), acc(by, k)) for k, v in by.items() if k != "ALL" and acc(by, k) < thr}


def fmt_row(name, cv, held, insample=None):
    s = f"| {name} | " + " | ".join(f"{cv[g]:.1f}" for g in ("fit", "grooves", "synth", "pooled"))
    s += " | " + " | ".join(f"{acc(held[k]):.1f} / {acc(held[k], which=1):.1f}" for k in HELD)
    if insample is not None:
        s += " | " + " / ".join(f"{acc(insample[k]):.1f}" for k in FIT)
    return s + " |"
