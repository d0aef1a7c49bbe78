#!/usr/bin/env python3
"""Print mir_eval's beat F-measure and P-score on a few fixed cases, as JSON: the expected values of
src/eval/mir_eval_cases.json, read by the tests of src/eval/beat_metrics.rs. Run with the reference venv (mir_eval 0.8.2):

    /work/main/.venv-ref/bin/python scripts/mir_eval_cases.py
"""
import json

import numpy as np
import mir_eval

rng = np.random.default_rng(7)
ref = np.arange(0.0, 30.0, 0.5)  # 120 BPM
cases = {
    "exact": (ref, ref.copy()),
    "jittered": (ref, np.sort(ref + rng.normal(0, 0.04, ref.size))),
    "double": (ref, np.arange(0.0, 30.0, 0.25)),
    "half_offbeat": (ref, np.arange(0.25, 30.0, 1.0)),
    "shifted_60ms": (ref, ref + 0.06),
    "shifted_80ms": (ref, ref + 0.08),
    "slower": (ref, np.arange(0.1, 30.0, 0.52)),
    "swing_ref": (np.sort(np.concatenate([np.arange(0, 20, 0.6), np.arange(0.37, 20, 0.6)])),
                  np.arange(0.05, 20, 0.3)),
}
out = []
for name, (r, e) in cases.items():
    r, e = np.round(r, 6), np.round(e, 6)
    rt, et = mir_eval.beat.trim_beats(r), mir_eval.beat.trim_beats(e)
    out.append({"name": name, "reference": r.tolist(), "estimate": e.tolist(),
                "f_measure": mir_eval.beat.f_measure(rt, et), "p_score": mir_eval.beat.p_score(rt, et)})
print(json.dumps(out))
