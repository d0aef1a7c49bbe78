#!/usr/bin/env python3
"""Fit the metrical-level decision (models/tempo_level.json) on labelled clips.

Input: the per-clip hypotheses that `sonovec eval-tempo --level-features` writes (JSON lines:
label bpm, style, every tempo hypothesis with its features, the embedding's tags). Model: a
conditional logistic regression (McFadden's conditional logit): each hypothesis h of a clip gets
the score w·z(h), z the features standardised over all hypotheses of the fitting set; the
probability of h is the softmax of the scores over the clip's hypotheses; the target is the
hypothesis within 4 % of the label (Acc1's tolerance). Clips with no such hypothesis cannot be
fitted and count as misses. Loss: mean negative log-likelihood + λ‖w‖².

λ is chosen on the fitting data only, by leave-one-generator-out cross-validation: each fitting
dump (one generator each) is decided by the model fitted on the others, the question a new user's
music asks (a process the fit never saw); the λ of the best pooled Acc1 (ties: the larger).
With a single fitting dump, leave-one-style-out stands in; it is printed too. Then the model is
refitted on every fitting clip.

Two models are fitted: `without_tags` (the base features only: used with `--model none` or a
model without these tags) and `with_tags`, which adds `log2(bpm/120) × p(tag)` for each tag of
TAGS (musicnn MSD tags a listener's genre convention hangs on; `--tags` overrides the list, e.g.
the MTT tags `fast,slow` of a `--model mtt` dump). The tags are kept only if they
help across generators and do not hurt across styles: when the with-tags model's cross-validated
Acc1 (above), or its leave-one-style-out Acc1, is below the tag-free model's, `with_tags` is
written as the tag-free scorer with the tag columns at weight 0
(the record still reads the tags; they change nothing). Held-out dumps given with `--eval` are
only scored, never fitted on.

    bash scripts/fit_tempo.sh     # the whole pipeline: dumps with the current build, this fit, rebuild
    /work/main/.venv-ref/bin/python scripts/fit_tempo_level.py data/level_fit/fit.jsonl \
        data/level_fit/grooves.jsonl --out models/tempo_level.json \
        --eval data/level_fit/midi.jsonl data/level_fit/blupi.jsonl
"""
import argparse
import hashlib
import json
from collections import Counter, defaultdict

import numpy as np
from scipy.optimize import minimize

# The per-hypothesis features the model reads (a subset of the dump's `feature_names`, which
# lists everything `sonovec` computes); `--features` overrides it for experiments.
# `backbeat` joined them when a third fitting generator (make_tempo_synth.py) came in: over the
# three generators it raises leave-one-generator-out Acc1 from 83.5 to 87.1 % (with two it had
# lowered both cross-validations; docs/tempo-experiments.md).
FEATURES = ["log2_bpm_120", "log2_bpm_120_sq", "acf_1", "salience", "low_salience", "offbeat_ratio",
            "third_ratio", "log2_bpm_x_onset_rate", "log2_bpm_x_low_share", "log2_bpm_x_offbeat_slow",
            "tempogram_score", "backbeat"]
TAGS = ["electronic", "dance", "electro", "House", "Hip-Hop", "punk", "metal", "rock", "jazz",
        "Mellow", "chill", "ambient", "easy listening", "beautiful", "instrumental", "funk"]
# A hypothesis below this salience is never reported (src/features/tempo/mod.rs).
MIN_CONFIDENCE = 0.10
LAMBDAS = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
# `--balance-sources`: each fitting dump weighs the same in the loss, however many clips it has
# (session 38's experiment with a real-music set larger than any generator's; not shipped).
BALANCE_SOURCES = False


def load(paths):
    clips = []
    for path in paths:
        source = path
        for line in open(path):
            c = json.loads(line)
            d = c["decision"]
            if d is None:
                clips.append({"style": c["style"], "bpm": c["bpm"], "F": None, "file": c["file"],
                              "source": source})
                continue
            F = np.array([h["features"] for h in d["hypotheses"]], float)
            bpms = np.array([h["bpm"] for h in d["hypotheses"]])
            salience = np.array([h["salience"] for h in d["hypotheses"]])
            tags = dict((t, p) for t, p in d["tags"])
            err = np.abs(bpms / c["bpm"] - 1)
            target = int(np.argmin(err)) if err.min() <= 0.04 else -1
            clips.append({"style": c["style"], "bpm": c["bpm"], "F": F, "bpms": bpms,
                          "salience": salience, "tags": tags,
                          "target": target, "file": c["file"], "names": c["feature_names"],
                          "source": source})
    return clips


COLUMNS = []  # indices of FEATURES in the dumps' feature_names, set in main()


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()[:16]


def design(clip, tags):
    """The clip's hypotheses × (the model's features, then log2(bpm/120) × p(tag) per tag)."""
    F = clip["F"][:, COLUMNS]
    if not tags:
        return F
    x = clip["F"][:, :1]
    p = np.array([[clip["tags"].get(t, np.nan) for t in tags]])
    return np.hstack([F, x * p])


def fit(clips, tags, lam, mean=None, scale=None):
    usable = fittable(clips)
    Xs = [design(c, tags) for c in usable]
    if mean is None:
        allx = np.vstack(Xs)
        mean, scale = allx.mean(0), allx.std(0) + 1e-9
    Zs = [(X - mean) / scale for X in Xs]
    targets = [c["target"] for c in usable]
    weights = None
    if BALANCE_SOURCES:
        count = Counter(c["source"] for c in usable)
        weights = [len(usable) / (len(count) * count[c["source"]]) for c in usable]
    return mean, scale, conditional_logit(Zs, targets, lam, weights=weights)


def conditional_logit(Zs, targets, lam, masks=None, weights=None):
    """The weights w that minimise the mean negative log-likelihood of each clip's target
    hypothesis under the softmax of Z @ w over the clip's hypotheses (only those `masks` keeps,
    if given; each clip's term times `weights`, if given), plus lam·‖w‖²."""
    def loss(w):
        total, grad = 0.0, np.zeros_like(w)
        for i, (Z, t) in enumerate(zip(Zs, targets)):
            s = Z @ w
            if masks is not None:
                s = np.where(masks[i], s, -np.inf)
            s -= s.max()
            p = np.exp(s)
            p /= p.sum()
            weight = 1.0 if weights is None else weights[i]
            total -= weight * np.log(p[t] + 1e-300)
            grad -= weight * (Z[t] - p @ Z)
        n = len(Zs)
        return total / n + lam * w @ w, grad / n + 2 * lam * w

    return minimize(loss, np.zeros(Zs[0].shape[1]), jac=True, method="L-BFGS-B").x


def fittable(clips):
    """The clips a model can be fitted on: with hypotheses, one of them at the label."""
    return [c for c in clips if c["F"] is not None and c["target"] >= 0]


def pick(clip, s):
    """The tempo sonovec reports from the scores `s` of the clip's hypotheses: the best-scoring
    hypothesis whose salience reaches MIN_CONFIDENCE (src/features/tempo/mod.rs), or None (no
    pulse) when none does."""
    if clip["F"] is None:
        return None
    s = np.where(clip["salience"] < MIN_CONFIDENCE, -np.inf, s)
    if not np.isfinite(s).any():
        return None
    return clip["bpms"][int(np.argmax(s))]


def choose(clip, tags, model):
    mean, scale, w = model
    if clip["F"] is None:
        return None
    return pick(clip, ((design(clip, tags) - mean) / scale) @ w)


def within(est, bpm, factors=(1,)):
    """Whether `est` is within 4 % of `bpm` times one of `factors` (Acc1; Acc2 with ACC2)."""
    return est is not None and any(abs(est / (bpm * f) - 1) <= 0.04 for f in factors)


ACC2 = (1, 2, 3, 0.5, 1 / 3)


def tally(clips, choose_one):
    """Per style, and over ALL: (Acc1 hit, Acc2 hit) of each clip, its tempo `choose_one(clip)`."""
    by = defaultdict(list)
    for c in clips:
        est = choose_one(c)
        hit = (within(est, c["bpm"]), within(est, c["bpm"], ACC2))
        by[c["style"]].append(hit)
        by["ALL"].append(hit)
    return by


def scores(clips, tags, model):
    return tally(clips, lambda c: choose(c, tags, model))


def print_scores(title, by):
    print(f"\n{title}\n{'style':<22}{'n':>4}{'Acc1':>8}{'Acc2':>8}")
    for k in sorted(x for x in by if x != "ALL") + ["ALL"]:
        v = np.array(by[k])
        print(f"{k:<22}{len(v):>4}{100 * v[:, 0].mean():>7.1f}%{100 * v[:, 1].mean():>7.1f}%")


def leave_one_out(clips, tags, lam, key):
    """Pooled Acc1 when the clips of each value of `key` are decided by a model fitted on the rest."""
    groups = sorted({c[key] for c in clips})
    hits = []
    for g in groups:
        train = [c for c in clips if c[key] != g]
        model = fit(train, tags, lam)
        for c in clips:
            if c[key] == g:
                hits.append(within(choose(c, tags, model), c["bpm"]))
    return float(np.mean(hits))


def choose_lambda(cv):
    """The λ of the best cross-validated Acc1; on a tie, the larger (the simpler model)."""
    return max(cv, key=lambda k: (cv[k], k))


def tags_with_zero_weight(without, tags, clips):
    """The tag-free scorer in the with-tags layout: the tag columns carried with weight 0."""
    extra = np.vstack([design(c, tags)[:, len(COLUMNS):] for c in clips if c["F"] is not None])
    return {**without, "tags": tags, "lambda": without["lambda"],
            "mean": without["mean"] + [round(float(x), 6) for x in extra.mean(0)],
            "scale": without["scale"] + [round(float(x), 6) for x in extra.std(0) + 1e-9],
            "weights": without["weights"] + [0.0] * len(tags)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("fit", nargs="+", help="--level-features dumps to fit on")
    ap.add_argument("--out")
    ap.add_argument("--eval", nargs="*", default=[], help="held-out dumps, scored only")
    ap.add_argument("--features", help="comma-separated feature names (default: FEATURES)")
    ap.add_argument("--tags", help="comma-separated tag names for the with-tags model (default: TAGS, "
                    "musicnn MSD; the dumps must hold them, e.g. `fast,slow` from a --model mtt dump)")
    ap.add_argument("--note", default="", help="provenance appended to the model's note")
    ap.add_argument("--balance-sources", action="store_true",
                    help="weigh each fitting dump the same in the loss, whatever its number of clips")
    a = ap.parse_args()
    global BALANCE_SOURCES
    BALANCE_SOURCES = a.balance_sources
    clips = load(a.fit)
    dumped = next(c["names"] for c in clips if c["F"] is not None)
    assert dumped[0] == "log2_bpm_120", "the tag interactions multiply the first dumped feature"
    names = a.features.split(",") if a.features else FEATURES
    COLUMNS[:] = [dumped.index(n) for n in names]
    tag_names = a.tags.split(",") if a.tags else TAGS
    have_tags = all(c["F"] is None or all(t in c["tags"] for t in tag_names) for c in clips)
    if a.tags and not have_tags:
        ap.error(f"--tags {a.tags}: some fitting clips lack one of these tags (a dump of another --model?)")
    reachable = np.mean([c["F"] is not None and c["target"] >= 0 for c in clips])
    print(f"{len(clips)} fitting clips; the label is among the hypotheses in {100 * reachable:.1f} %")
    out = {"features": names,
           "note": "fitted by scripts/fit_tempo_level.py on " + ", ".join(a.fit) +
                   "; conditional logit over each clip's hypotheses, features standardised by mean/scale" +
                   (f"; {a.note}" if a.note else "") +
                   "; dumps sha256: " + ", ".join(f"{p}: {sha256(p)}" for p in a.fit)}
    for key, tags in (("without_tags", []), ("with_tags", tag_names if have_tags else None)):
        if tags is None:
            print("the fitting dumps have no tags: with_tags = without_tags")
            out[key] = dict(out["without_tags"])
            continue
        by = "source" if len({c["source"] for c in clips}) > 1 else "style"
        cv = {lam: leave_one_out(clips, tags, lam, by) for lam in LAMBDAS}
        loso = {lam: leave_one_out(clips, tags, lam, "style") for lam in LAMBDAS}
        lam = choose_lambda(cv)
        print(f"\n{key}: leave-one-{by}-out Acc1 by lambda: " +
              ", ".join(f"{k}: {100 * v:.1f} %" for k, v in cv.items()) + f" → lambda {lam}")
        print(f"{key}: leave-one-style-out Acc1 by lambda: " +
              ", ".join(f"{k}: {100 * v:.1f} %" for k, v in loso.items()))
        model = fit(clips, tags, lam)
        print_scores(f"{key}: fitting set (in-sample)", scores(clips, tags, model))
        for path in a.eval:
            held = load([path])
            if tags and not all(h["F"] is None or all(t in h["tags"] for t in tags) for h in held):
                print(f"{path}: no tags, skipped for {key}")
                continue
            print_scores(f"{key}: held out {path}", scores(held, tags, model))
        mean, scale, w = model
        out[key] = {"tags": tags, "lambda": lam, f"leave_one_{by}_out_acc1": cv[lam],
                    "loso_acc1": loso[lam],
                    "mean": [round(float(x), 6) for x in mean],
                    "scale": [round(float(x), 6) for x in scale],
                    "weights": [round(float(x), 6) for x in w]}
        print("weights (standardised): " + ", ".join(
            f"{n}={v:+.2f}" for n, v in zip(names + [f"x*{t}" for t in tags], w)))
        # The tags must help across generators and must not cost across styles: a gain across
        # generators that costs across styles is one generator's styles teaching the other
        # (session 6: MTT tags, 82.5 -> 87.0 across generators, 82.9 -> 81.3 across styles, and
        # 3 fewer held-out clips right).
        base = out["without_tags"]
        checks = [(f"leave-one-{by}-out", cv[lam], base[f"leave_one_{by}_out_acc1"]),
                  ("leave-one-style-out", loso[lam], base["loso_acc1"])]
        failed = next(((what, acc, without) for what, acc, without in checks if acc < without), None)
        if tags and failed:
            what, acc, without = failed
            print(f"with_tags: {what} Acc1 {100 * acc:.1f} % < {100 * without:.1f} % without tags: "
                  "the tags do not transfer; written with weight 0")
            out[key] = {**tags_with_zero_weight(base, tags, clips),
                        "rejected": f"{what} Acc1 with tags {acc:.4f} < without {without:.4f}"}
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
