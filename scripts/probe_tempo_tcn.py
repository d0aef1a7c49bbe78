#!/usr/bin/env python3
"""A small learned tempo and beat model (a temporal convolutional network, after Böck, Davies &
Knees, "Multi-task learning of tempo and beat", ISMIR 2019) fitted on the fitting sets and scored
on the held-out ones. Its beat activation ships: `export` writes models/beat_activation.safetensors
(see models/beat_activation.json for the fit that made it), which src/features/tempo/activation.rs
runs; the tempo head did not carry over and stays here (docs/tempo-experiments.md, sessions 23-24).

Input is the spectrogram sonovec already computes for musicnn (16 kHz, 512-point frames, hop
256 = 16 ms, 96 mel bands, log10(1 + 10000 x); here librosa's replica of it, equal to sonovec's
within float rounding on the parity fixture), which sonovec feeds the network as it streams. Two heads: a beat activation per frame, and a tempo distribution over integer
BPM 0-299 from the time-averaged skip connections. Training crops 12 s and stretches each crop in
time by a random factor in [0.8, 1.25] (the labels' tempo and beat frames scale with it), the
augmentation Böck uses to cover tempi a set lacks.

    PY=/tmp/venv-tcn/bin/python      # torch (CPU), librosa, mir_eval
    $PY scripts/probe_tempo_tcn.py features data/tempo_fit/labels.csv ... --out /tmp/tcn/feats
    $PY scripts/probe_tempo_tcn.py train /tmp/tcn/feats --fit tempo_fit heldout_grooves \
        tempo_synth tempo_music21 --epochs 100 --seed 1 --out /tmp/tcn/model.pt
    $PY scripts/probe_tempo_tcn.py eval /tmp/tcn/feats /tmp/tcn/model.pt --sets heldout_midi \
        heldout_blupi heldout_lmms heldout_modules [--tempo head|acf|oracle]
        [--tempo-from EVAL_TEMPO_DETAILS.csv ...] [--envelope network|replica] [--details OUT.csv]
        [--tracker librosa|degara]
    $PY scripts/probe_tempo_tcn.py track /tmp/tcn/model.pt RECORDS.jsonl --out BEATS.jsonl
    $PY scripts/probe_tempo_tcn.py export /tmp/tcn/model.pt --out models/beat_activation.safetensors \
        --fixture tests/fixtures/tempo/beat_activation.npy \
        --spectrogram tests/fixtures/musicnn/dnb_174.logmel.npy

The tempo is the tempo head's argmax (`--tempo head`), refined to the nearest autocorrelation peak
of the beat activation; or librosa's estimator with its single prior on the activation (`acf`);
or the label (`oracle`); or the tempo sonovec read (`--tempo-from`). Beats are librosa's
dynamic-programming tracker on the activation at that tempo (`--envelope replica`: on sonovec's
onset envelope instead, the baseline; `--tracker degara`: Essentia's TempoTapDegara on it, at
its own tempo). Scores as `eval-tempo`: Acc1 / Acc2 at 4 %, mir_eval
F-measure (beats before 5 s trimmed).
"""
import argparse
import csv
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from probe_tempo_phase import SR, load, log_mel, onset_envelope  # noqa: E402

HOP, N_MELS = 256, 96  # probe_tempo_phase.log_mel's
FPS = SR / HOP
TEMPO_BINS = 300
CROP = 750  # frames, 12 s


def spectrogram(path):
    return log_mel(load(path)).astype(np.float32)


def read_set(labels_path):
    base = os.path.dirname(labels_path)
    rows = []
    for row in csv.DictReader(open(labels_path)):
        beats = np.loadtxt(os.path.join(base, row["beats"]), ndmin=1) if row.get("beats") else None
        rows.append((os.path.join(base, row["file"]), float(row["bpm"]), beats,
                     row.get("style", "")))
    return rows


def features(args):
    os.makedirs(args.out, exist_ok=True)
    for labels in args.labels:
        name = os.path.basename(os.path.dirname(os.path.abspath(labels)))
        rows = read_set(labels)
        with ProcessPoolExecutor(max_workers=2) as pool:
            specs = list(pool.map(spectrogram, [r[0] for r in rows]))
        np.savez(os.path.join(args.out, name + ".npz"),
                 files=np.array([os.path.basename(r[0]) for r in rows]),
                 bpm=np.array([r[1] for r in rows]),
                 styles=np.array([r[3] for r in rows]),
                 **{f"spec{i}": s for i, s in enumerate(specs)},
                 **{f"beats{i}": (r[2] if r[2] is not None else np.zeros(0))
                    for i, r in enumerate(rows)})
        print(f"{name}: {len(rows)} clips", file=sys.stderr)


def load_set(feats, name):
    z = np.load(os.path.join(feats, name + ".npz"))
    n = len(z["files"])
    return [dict(file=str(z["files"][i]), bpm=float(z["bpm"][i]), style=str(z["styles"][i]),
                 spec=z[f"spec{i}"], beats=z[f"beats{i}"]) for i in range(n)]


def build_model(front="2d"):
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, ch, dilation, dropout):
            super().__init__()
            self.conv = nn.Conv1d(ch, ch, 5, dilation=dilation, padding=2 * dilation)
            self.mix = nn.Conv1d(ch, ch, 1)
            self.act = nn.ELU()
            self.drop = nn.Dropout(dropout)

        def forward(self, x):
            y = self.mix(self.drop(self.act(self.conv(x))))
            return x + y, y

    class TempoBeatNet(nn.Module):
        def __init__(self, ch=20, layers=10, dropout=0.1):
            super().__init__()
            self.flat = front == "1d"
            if self.flat:
                # The mel bands (pairs averaged) as the channels of two 3-frame convolutions:
                # a fifth of the 2-D front's multiply-adds, which take 85 % of PyTorch's
                # inference time.
                self.front = nn.Sequential(
                    nn.Conv1d(N_MELS // 2, 24, 3, padding=1), nn.ELU(), nn.Dropout(dropout),
                    nn.Conv1d(24, ch, 3, padding=1), nn.ELU(), nn.Dropout(dropout))
            else:
                # Mel pairs averaged first (96 -> 48 bands): the 2-D convolutions are most of
                # the training time on two cores, and beats need no finer pitch.
                self.front = nn.Sequential(
                    nn.AvgPool2d((2, 1)),
                    nn.Conv2d(1, 8, 3, padding=1), nn.ELU(), nn.MaxPool2d((3, 1)),
                    nn.Dropout(dropout),
                    nn.Conv2d(8, 16, 3, padding=1), nn.ELU(), nn.MaxPool2d((3, 1)),
                    nn.Dropout(dropout),
                    nn.Conv2d(16, ch, (5, 1)), nn.ELU(), nn.Dropout(dropout))
            self.blocks = nn.ModuleList(Block(ch, 2 ** i, dropout) for i in range(layers))
            self.beat = nn.Conv1d(ch, 1, 1)
            self.tempo = nn.Sequential(nn.Dropout(dropout), nn.Linear(ch, TEMPO_BINS))

        def forward(self, spec):  # spec: batch, mels, frames
            if self.flat:
                pairs = spec.reshape(spec.shape[0], N_MELS // 2, 2, spec.shape[2]).mean(dim=2)
                x = self.front(pairs)
            else:
                x = self.front(spec.unsqueeze(1)).squeeze(2)  # batch, ch, frames
            skips = 0
            for block in self.blocks:
                x, skip = block(x)
                skips = skips + skip
            beat = self.beat(x).squeeze(1)
            tempo = self.tempo(torch.nn.functional.elu(skips).mean(dim=2))
            return beat, tempo

    return TempoBeatNet()


def crop_example(clip, rng, stretch_range=(0.8, 1.25)):
    """One training crop: the clip stretched in time by `stretch`, CROP frames from a random
    start, its beat target (1 on a beat's frame, 0.5 on its neighbours) and its tempo."""
    from scipy.ndimage import zoom
    spec = clip["spec"]
    stretch = float(np.exp(rng.uniform(np.log(stretch_range[0]), np.log(stretch_range[1]))))
    frames = max(int(round(spec.shape[1] * stretch)), 8)
    stretched = zoom(spec, (1, frames / spec.shape[1]), order=1)
    bpm = clip["bpm"] / (frames / spec.shape[1])
    start = int(rng.integers(0, max(frames - CROP, 0) + 1))
    window = stretched[:, start:start + CROP]
    if window.shape[1] < CROP:
        window = np.pad(window, ((0, 0), (0, CROP - window.shape[1])))
    target = np.zeros(CROP, np.float32)
    mask = np.zeros(CROP, np.float32)
    mask[:min(CROP, frames - start)] = 1
    for b in clip["beats"] * FPS * frames / spec.shape[1] - start:
        f = int(round(b))
        for g, w in ((f - 1, 0.5), (f + 1, 0.5), (f, 1.0)):
            if 0 <= g < CROP:
                target[g] = max(target[g], w)
    tempo = np.zeros(TEMPO_BINS, np.float32)
    for d, w in ((-2, 0.1), (-1, 0.2), (0, 0.4), (1, 0.2), (2, 0.1)):
        b = int(round(bpm)) + d
        if 0 <= b < TEMPO_BINS:
            tempo[b] += w
    return window, target, mask, tempo / tempo.sum()


def train(args):
    import torch
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    clips = [c for name in args.fit for c in load_set(args.feats, name) if len(c["beats"]) >= 4]
    order = rng.permutation(len(clips))
    n_val = len(clips) // 10
    val = [clips[i] for i in order[:n_val]]
    fit = [clips[i] for i in order[n_val:]]
    model = build_model(args.front)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    val_rng = np.random.default_rng(1)
    val_batch = [crop_example(c, val_rng, (1.0, 1.0)) for c in val]
    best = (np.inf, None)
    for epoch in range(args.epochs):
        model.train()
        perm = rng.permutation(len(fit))
        total = 0.0
        for at in range(0, len(perm), args.batch):
            batch = [crop_example(fit[i], rng) for i in perm[at:at + args.batch]]
            loss = batch_loss(model, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(batch)
        model.eval()
        with torch.no_grad():
            val_loss = float(batch_loss(model, val_batch))
        if val_loss < best[0]:
            best = (val_loss, {k: v.clone() for k, v in model.state_dict().items()})
        print(f"epoch {epoch:3d} fit {total / len(fit):.4f} val {val_loss:.4f}", file=sys.stderr,
              flush=True)
    torch.save({"front": args.front, "state": best[1]}, args.out)


def batch_loss(model, batch):
    import torch
    spec, target, mask, tempo = (torch.from_numpy(np.stack(x)) for x in zip(*batch))
    beat, tempo_logits = model(spec)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(beat, target, weight=mask)
    ce = -(tempo * torch.log_softmax(tempo_logits, dim=1)).sum(dim=1).mean()
    return bce + 0.5 * ce


def predict(model, spec):
    import torch
    with torch.no_grad():
        beat, tempo = model(torch.from_numpy(spec[None]))
    return torch.sigmoid(beat)[0].numpy(), torch.softmax(tempo, dim=1)[0].numpy()


def tempo_of(activation, tempo_dist, how):
    """The tempo by `how`: `head`, the tempo head's argmax; `acf`, librosa's tempo estimator (a
    log-normal prior at 120 BPM over the activation's autocorrelation); either refined to the
    nearest autocorrelation peak of the activation (integer bins are 0.5-1 % wide)."""
    import librosa
    if how == "acf":
        bpm = float(librosa.feature.tempo(onset_envelope=activation, sr=SR, hop_length=HOP)[0])
    else:
        bpm = float(np.argmax(tempo_dist[30:]) + 30)
    ac = librosa.autocorrelate(activation - activation.mean())
    lag = 60 * FPS / bpm
    lags = np.arange(max(int(lag * 0.95), 1), min(int(np.ceil(lag * 1.05)) + 1, len(ac) - 1))
    if len(lags):
        best = lags[np.argmax(ac[lags])]
        a, b, c = ac[best - 1], ac[best], ac[best + 1]
        if a < b >= c:
            offset = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c != 0 else 0
            refined = 60 * FPS / (best + offset)
            if abs(refined - bpm) <= 0.04 * bpm:
                bpm = refined
    return bpm


def beats_at(activation, bpm, tracker="librosa"):
    """Beat times (s) on the activation: librosa's dynamic programming at `bpm` (none without a
    tempo), or Essentia's TempoTapDegara at the tempo it finds itself."""
    if tracker == "degara":
        import essentia.standard as es
        return np.asarray(es.TempoTapDegara(sampleRateODF=FPS)(activation.astype(np.float32)),
                          float)
    if not bpm:  # sonovec read no tempo
        return np.zeros(0)
    import librosa
    return librosa.beat.beat_track(onset_envelope=activation, sr=SR, hop_length=HOP, bpm=bpm,
                                   units="time", tightness=400)[1]


def evaluate(args):
    import mir_eval
    import torch
    model = load_model(args.model)
    torch.set_num_threads(2)
    details = open(args.details, "w", newline="") if args.details else None
    writer = csv.writer(details) if details else None
    if writer:
        writer.writerow(["set", "file", "style", "bpm", "estimate", "acc1", "acc2", "f_measure"])
    print(f"{'set':<18} {'n':>4} {'Acc1':>6} {'Acc2':>6} {'F':>6}")
    given = {}
    # `eval-tempo --details` CSVs: the tempo sonovec reads (0 for none), the beats placed here.
    for path in args.tempo_from or []:
        for row in csv.DictReader(open(path)):
            given[os.path.basename(row["file"])] = float(row["estimate"] or 0)
    for name in args.sets:
        scores = []
        for clip in load_set(args.feats, name):
            activation, tempo_dist = predict(model, clip["spec"])
            if args.envelope == "replica":
                # The baseline: sonovec's onset envelope under the same tracker.
                activation = onset_envelope(clip["spec"]).astype(np.float32)
            if given:
                bpm = given[clip["file"]]
            elif args.tempo == "oracle":
                bpm = clip["bpm"]
            else:
                bpm = tempo_of(activation, tempo_dist, args.tempo)
            # With `degara` (a second tracker, to see that the envelope's gain is not one
            # tracker's) the Acc columns stay those of the tempo above.
            beats = beats_at(activation, bpm, args.tracker)
            ref = clip["bpm"]
            acc1 = abs(bpm - ref) <= 0.04 * ref
            acc2 = any(abs(bpm - ref * k) <= 0.04 * ref * k for k in (1, 2, 3, 0.5, 1 / 3))
            f = None
            if len(clip["beats"]):
                f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(clip["beats"]),
                                            mir_eval.beat.trim_beats(np.sort(beats)))
            scores.append((acc1, acc2, f))
            if writer:
                writer.writerow([name, clip["file"], clip["style"], ref, f"{bpm:.2f}", int(acc1),
                                 int(acc2), "" if f is None else f"{f:.4f}"])
        fs = [s[2] for s in scores if s[2] is not None]
        print(f"{name:<18} {len(scores):>4} {100 * np.mean([s[0] for s in scores]):>5.1f}% "
              f"{100 * np.mean([s[1] for s in scores]):>5.1f}% {np.mean(fs):>6.3f}", flush=True)


def track(args):
    """Beats on unlabelled whole tracks: for each record of a sonovec `tracks.jsonl` (made with
    `--beats`), the network's beats at the tempo sonovec read, written as records with the same
    `path` and `tempo` (`bpm`, `beats_s`) for scripts/probe_beat_agreement.py."""
    import json
    import torch
    model = load_model(args.model)
    torch.set_num_threads(2)
    with open(args.out, "w") as out:
        for line in open(args.records):
            record = json.loads(line)
            bpm = (record.get("tempo") or {}).get("bpm")
            beats = []
            if bpm:
                activation, _ = predict(model, spectrogram(record["path"]))
                beats = beats_at(activation, bpm).round(3).tolist()
            out.write(json.dumps({"path": record["path"], "tempo": {"bpm": bpm, "beats_s": beats}})
                      + "\n")


def export(args):
    """The beat activation's weights as models/beat_activation.safetensors (PyTorch's names and
    layouts; the tempo head is left out, sonovec does not use it), and with `--fixture`, the
    activation PyTorch computes for a log-mel input (`--spectrogram`: a `.npy` of musicnn
    patches, (patches, frames, bands), consecutive, such as tests/fixtures/musicnn's; their
    frames repeated `--tile` times) for the
    parity test in src/features/tempo/activation.rs."""
    import torch
    from safetensors.torch import save_file
    model = load_model(args.model)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("tempo.")}
    save_file(state, args.out, metadata={"source": os.path.basename(args.model),
                                         "script": "scripts/probe_tempo_tcn.py"})
    print(f"{args.out}: {sum(v.numel() for v in state.values())} weights", file=sys.stderr)
    if args.fixture:
        patches = np.load(args.spectrogram).astype(np.float32)
        # Tiled, so that the fixture is longer than the network's context (4,092 frames) and
        # the test sees every block stream.
        spec = np.ascontiguousarray(np.tile(patches.reshape(-1, patches.shape[-1]).T,
                                            (1, args.tile)))
        activation, _ = predict(model, spec)
        np.save(args.fixture, activation.astype(np.float32))


def load_model(path):
    import torch
    saved = torch.load(path)
    model = build_model(saved["front"])
    model.load_state_dict(saved["state"])
    model.eval()
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("features")
    p.add_argument("labels", nargs="+")
    p.add_argument("--out", required=True)
    p = sub.add_parser("train")
    p.add_argument("feats")
    p.add_argument("--fit", nargs="+", required=True)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--front", choices=["2d", "1d"], default="2d")
    p.add_argument("--out", required=True)
    p = sub.add_parser("eval")
    p.add_argument("feats")
    p.add_argument("model")
    p.add_argument("--sets", nargs="+", required=True)
    p.add_argument("--details")
    p.add_argument("--envelope", choices=["network", "replica"], default="network",
                   help="track the network's beat activation or sonovec's onset envelope")
    p.add_argument("--tracker", choices=["librosa", "degara"], default="librosa",
                   help="librosa's beat_track at the tempo, or Essentia's TempoTapDegara (needs essentia)")
    p.add_argument("--tempo-from", nargs="+", help="eval-tempo --details CSVs whose tempo to use")
    p.add_argument("--tempo", choices=["head", "acf", "oracle"], default="head")
    p = sub.add_parser("track")
    p.add_argument("model")
    p.add_argument("records", help="a sonovec tracks.jsonl made with --beats")
    p.add_argument("--out", required=True)
    p = sub.add_parser("export")
    p.add_argument("model")
    p.add_argument("--out", required=True)
    p.add_argument("--fixture", help="where to write the parity fixture's activation (.npy)")
    p.add_argument("--spectrogram", help="its input: musicnn patches (.npy)")
    p.add_argument("--tile", type=int, default=12, help="times the input is repeated")
    args = parser.parse_args()
    {"export": export, "features": features, "train": train, "eval": evaluate, "track": track}[args.command](args)


if __name__ == "__main__":
    main()
