"""Training and inference throughput of the default FusionClassifier network: skorch vs bare PyTorch.

Both loops train the same freshly initialised ThreeStreamModule (default widths, Adam, lr=1e-3,
cross-entropy, batch 32, shuffled) on the same in-memory tensors shaped like the default
pipeline's features (audio (1, 40, 100) float32, video (3, 16, 64, 64) uint8, text (32,)), in
the same process, alternating, so machine load hits both alike. Prints numbers only.

Usage::

    python benchmarks/bench_training.py [--n-samples 256] [--epochs 2] [--repeats 3] [--threads N]
"""

import argparse
import resource
import time

import numpy as np
import torch
from skorch.helper import SliceDict

from mmemotion.models import FusionClassifier, ThreeStreamModule

SHAPES = {"audio": (1, 40, 100), "video": (3, 16, 64, 64), "text": (32,)}


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = SliceDict(
        audio=rng.normal(size=(n, *SHAPES["audio"])).astype(np.float32),
        video=rng.integers(0, 256, size=(n, *SHAPES["video"]), dtype=np.uint8),
        text=rng.normal(size=(n, *SHAPES["text"])).astype(np.float32),
    )
    y = np.array(["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"])[np.arange(n) % 6]
    return X, y


def bare_train(X, y_codes, epochs, batch_size=32, seed=0):
    """The loop skorch replaces: shuffle, batch, forward, loss, backward, step."""
    torch.manual_seed(seed)
    net = ThreeStreamModule(audio_shape=SHAPES["audio"], video_shape=SHAPES["video"], text_dim=SHAPES["text"][0])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    tensors = {k: torch.from_numpy(v) for k, v in X.items()}
    target = torch.from_numpy(y_codes)
    n = len(target)
    net.train()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            opt.zero_grad()
            loss = loss_fn(net(**{k: t[idx] for k, t in tensors.items()}), target[idx])
            loss.backward()
            opt.step()
    train_s = time.perf_counter() - start
    net.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, n, batch_size):
            torch.softmax(net(**{k: t[i : i + batch_size] for k, t in tensors.items()}), dim=1).numpy()
    return train_s, time.perf_counter() - start


def skorch_train(X, y, epochs, batch_size=32, seed=0):
    clf = FusionClassifier(max_epochs=epochs, batch_size=batch_size, random_state=seed, device="cpu")
    start = time.perf_counter()
    clf.fit(X, y)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    clf.predict_proba(X)
    return train_s, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    X, y = make_data(args.n_samples)
    y_codes = np.unique(y, return_inverse=True)[1].astype(np.int64)
    # One warm-up epoch of each, so one-off costs (allocator, oneDNN kernel choice) are not timed.
    bare_train(X, y_codes, 1)
    skorch_train(X, y, 1)

    results = {"bare": [], "skorch": []}
    for _ in range(args.repeats):
        results["bare"].append(bare_train(X, y_codes, args.epochs))
        results["skorch"].append(skorch_train(X, y, args.epochs))

    n_train = args.n_samples * args.epochs
    print(f"torch_threads {torch.get_num_threads()}")
    print(f"n_samples {args.n_samples} epochs {args.epochs} repeats {args.repeats} batch_size 32")
    rates = {}
    for name, runs in results.items():
        # Best of the repeats: the least disturbed by other processes on a shared machine.
        train_s = min(r[0] for r in runs)
        infer_s = min(r[1] for r in runs)
        rates[name] = (n_train / train_s, args.n_samples / infer_s)
        print(f"{name}_train_samples_per_s {rates[name][0]:.1f}")
        print(f"{name}_infer_samples_per_s {rates[name][1]:.1f}")
    print(f"skorch_over_bare_train {rates['skorch'][0] / rates['bare'][0]:.3f}")
    print(f"skorch_over_bare_infer {rates['skorch'][1] / rates['bare'][1]:.3f}")
    # ru_maxrss is in KiB on Linux: the peak resident memory of the whole run.
    print(f"peak_rss_mib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    print(f"input_mib {sum(v.nbytes for v in X.values()) / 2**20:.1f}")


if __name__ == "__main__":
    main()
