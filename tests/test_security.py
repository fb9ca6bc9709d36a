"""Security and crash safety, end to end through the public APIs and the ``mmemotion`` CLI.

- The report escapes every user-controlled string: a CREMA-D folder whose own name and file
  names are HTML, plus an HTML ``--title``, go through ``load_crema_d`` -> ``mmemotion report``.
- The safe model format loads without unpickling anything (pickle entry points patched to
  raise, and an audit hook watching ``pickle.find_class``); tampered files carrying a pickle
  payload are refused without running it.
- The CLI refuses to overwrite without ``--force`` and leaves the existing files as they were.
- The feature cache survives a process killed (SIGKILL) in the middle of writing an entry,
  and a half-written entry under a final name is never read back.
- A real Ctrl-C (SIGINT to a ``mmemotion fit`` subprocess, mid-training) leaves no output file.
"""

import contextlib
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mmemotion import cli
from mmemotion.features import MFCCTransformer
from mmemotion.models import load_model, make_default_pipeline, save_model

#: Tiny features and network (as examples/grid_search.py --fast): every step runs in seconds.
TINY = dict(n_mfcc=13, n_audio_frames=20, n_video_frames=4, frame_size=(16, 16), text_dim=8, max_epochs=2,
            module__audio_widths=(4,), module__video_widths=(4,), module__text_widths=(4,),
            module__fusion_width=8)
ROOT_NAME = "<svg onload=alert(1)> & \"dq\" 'sq'"
BAD_FILE = "<img src=x onerror=alert(2)>"
TITLE = "<script>alert(3)</script> & co"


def _run(*argv):
    return cli.main([str(a) for a in argv])


@pytest.fixture(scope="module")
def hostile_root(make_synthetic, tmp_path_factory):
    """A synthetic CREMA-D copy under a folder named with HTML, holding an HTML-named WAV."""
    root = tmp_path_factory.mktemp("security") / ROOT_NAME
    shutil.copytree(make_synthetic(), root)
    first = sorted((root / "AudioWAV").glob("*.wav"))[0]
    shutil.copy(first, root / "AudioWAV" / f"{BAD_FILE}.wav")
    return root


@pytest.fixture(scope="module")
def fitted(hostile_root, tmp_path_factory):
    """A tiny fitted pipeline, its safe-format file, and the frame it was fitted on."""
    from mmemotion.datasets import load_crema_d

    with pytest.warns(UserWarning):  # the HTML-named file is reported as unparsable
        bunch = load_crema_d(hostile_root)
    pipe = make_default_pipeline(random_state=0, **TINY).fit(bunch.frame, bunch.target)
    path = save_model(pipe, tmp_path_factory.mktemp("model") / "model.mmemotion")
    return pipe, path, bunch.frame


# ------------------------------------------------------------------------------------ report
@pytest.mark.filterwarnings("ignore::mmemotion.datasets.CremaDQualityWarning")
def test_report_escapes_hostile_names_end_to_end(fitted, hostile_root, tmp_path, capsys):
    _, model, _ = fitted
    out = tmp_path / "report.html"
    status = _run("report", "--model", model, "--data", hostile_root, "--out", out, "--title", TITLE,
                  "--all-clips", "-q")
    assert status == 0, capsys.readouterr().err
    html = out.read_text(encoding="utf-8")
    # The strings reached the page (as text)...
    assert "&lt;img src=x onerror=alert(2)&gt;" in html  # the quality table lists the file
    assert "&lt;svg onload=alert(1)&gt;" in html  # the data folder
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html  # the title
    # ...and never as markup.
    for raw in (BAD_FILE, "<svg onload", "<script>alert(3)", ROOT_NAME):
        assert raw not in html
    assert "<script" not in html.lower() and "<img src=x" not in html and "<svg" not in html
    # The sidecar keeps the data as data: valid JSON holding the raw title.
    sidecar = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["title"] == TITLE


# ------------------------------------------------------------------------- safe model format
@contextlib.contextmanager
def _no_unpickling(monkeypatch):
    """Make every pickle entry point raise, and record any class a pickle would look up."""
    looked_up = []

    def refuse(*args, **kwargs):
        raise AssertionError("something tried to unpickle during load_model")

    # sys.addaudithook hooks cannot be removed, so this one only records while `active`.
    state = {"active": True}

    def hook(event, args):
        if state["active"] and event == "pickle.find_class":
            looked_up.append(args)

    sys.addaudithook(hook)
    import torch

    with monkeypatch.context() as m:
        for name in ("load", "loads", "Unpickler"):
            m.setattr(pickle, name, refuse)
        m.setattr(torch, "load", refuse)
        m.setattr(np, "load", refuse)
        try:
            yield looked_up
        finally:
            state["active"] = False


def test_safe_model_loads_without_unpickling(fitted, monkeypatch):
    pipe, path, frame = fitted
    with _no_unpickling(monkeypatch) as looked_up:
        loaded = load_model(path)
    assert looked_up == []
    X = frame.iloc[:6]
    np.testing.assert_allclose(loaded.predict_proba(X), pipe.predict_proba(X), rtol=1e-5, atol=1e-6)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["model.json", "model.safetensors"]


class _Payload:
    """Unpickling this creates a marker file: proof that the payload ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _rezip(source, target, replace):
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, replace.get(name, zin.read(name)))


TAMPERING = ["json is a pickle", "tensors are a pickle", "whole file is a pickle", "class off the allow-list",
             "torch.save checkpoint"]


def _tamper(fitted, tmp_path, tamper):
    """Write a model file altered as ``tamper`` says; returns (path, marker its payload would create)."""
    import torch

    _, path, _ = fitted
    marker = tmp_path / "PAYLOAD_RAN"
    payload = pickle.dumps(_Payload(marker))
    bad = tmp_path / "tampered.mmemotion"
    if tamper == "json is a pickle":
        _rezip(path, bad, {"model.json": payload})
    elif tamper == "tensors are a pickle":
        _rezip(path, bad, {"model.safetensors": payload})
    elif tamper == "whole file is a pickle":
        bad.write_bytes(payload)
    elif tamper == "torch.save checkpoint":
        buffer = io.BytesIO()
        torch.save({"weights": _Payload(marker)}, buffer)
        bad.write_bytes(buffer.getvalue())
    else:
        with zipfile.ZipFile(path) as zf:
            doc = json.loads(zf.read("model.json"))
        # A pipeline step that names a callable outside the allow-list (pickle would call it).
        doc["model"] = {"__estimator__": {"class": "pathlib.Path.touch", "params": {"self": str(marker)},
                                          "fitted": {}}}
        _rezip(path, bad, {"model.json": json.dumps(doc).encode()})
    return bad, marker


@pytest.mark.parametrize("tamper", TAMPERING)
def test_tampered_model_file_is_refused_and_its_payload_never_runs(fitted, tmp_path, tamper):
    bad, marker = _tamper(fitted, tmp_path, tamper)
    with pytest.raises(Exception):
        load_model(bad)
    assert not marker.exists()


@pytest.mark.parametrize("tamper", TAMPERING)
def test_tampered_model_file_error_names_the_file(fitted, tmp_path, tamper):
    bad, _ = _tamper(fitted, tmp_path, tamper)
    with pytest.raises(ValueError) as info:
        load_model(bad)
    assert str(bad) in str(info.value) or "allow-list" in str(info.value)


# ------------------------------------------------------------------------------ --force rule
@pytest.mark.filterwarnings("ignore::mmemotion.datasets.CremaDQualityWarning")
def test_cli_refuses_to_overwrite_without_force(fitted, hostile_root, tmp_path, capsys):
    _, model, _ = fitted
    mine = {name: tmp_path / name for name in ("m.mmemotion", "r.html", "p.csv", "e.npz")}
    for path in mine.values():
        path.write_text(f"precious {path.name}")
    (tmp_path / "synth").mkdir()
    (tmp_path / "synth" / "keep.txt").write_text("precious")
    commands = [
        ("fit", "--data", hostile_root, "--out", mine["m.mmemotion"], "--epochs", 1),
        ("report", "--model", model, "--data", hostile_root, "--out", mine["r.html"]),
        ("predict", "--model", model, "--data", hostile_root, "--out", mine["p.csv"]),
        ("explain", "--model", model, "--data", hostile_root, "--out", mine["e.npz"]),
        ("synth", "--out", tmp_path / "synth", "--n-actors", 1, "--clips-per-actor", 1),
    ]
    for argv in commands:
        assert _run(*argv, "-q") == 1, argv
        err = capsys.readouterr().err
        assert "--force" in err and "Traceback" not in err, err
    for path in mine.values():
        assert path.read_text() == f"precious {path.name}"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*mine, "synth"])
    assert [p.name for p in (tmp_path / "synth").iterdir()] == ["keep.txt"]
    # With --force the file is replaced.
    assert _run("predict", "--model", model, "--data", hostile_root, "--out", mine["p.csv"], "-q", "--force") == 0
    assert mine["p.csv"].read_text().startswith("clip_id,")


# ----------------------------------------------------------------------------- feature cache
KILLED_WRITER = textwrap.dedent("""
    import io, sys, time
    import numpy as np
    from mmemotion.features import MFCCTransformer

    real_save, calls = np.save, []

    def save_then_hang(file, arr, allow_pickle=False):
        calls.append(file)
        if len(calls) <= 2:
            return real_save(file, arr, allow_pickle=allow_pickle)
        # Third entry: write half of it, then stall so the parent kills us mid-write.
        buffer = io.BytesIO()
        real_save(buffer, arr, allow_pickle=allow_pickle)
        with open(file, "wb") as handle:
            handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            handle.flush()
        print("HALF-WRITTEN", file, flush=True)
        time.sleep(120)

    np.save = save_then_hang
    MFCCTransformer(memory=sys.argv[1]).fit_transform(sys.argv[2:])
""")


def _entries(cache, *, batches=False):
    """Final-named per-file cache entries (hidden files are atomic_path's temporaries); with
    ``batches=True`` also the whole-batch entries the cache keeps under ``batches/``."""
    return [p for p in Path(cache).rglob("*.npy")
            if not p.name.startswith(".") and (batches or p.parent.name != "batches")]


def test_cache_survives_a_process_killed_mid_write(make_synthetic, tmp_path):
    wavs = sorted(str(p) for p in (make_synthetic() / "AudioWAV").glob("*.wav"))[:4]
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(cache), *wavs], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("HALF-WRITTEN"), line
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    half = Path(line.split(" ", 1)[1].strip())
    assert half.exists() and half.name.startswith(".")  # the killed write is only a hidden temporary
    entries = _entries(cache)
    assert len(entries) == 2
    for entry in entries:
        assert np.load(entry, allow_pickle=False).shape == (1, 40, 100)

    expected = MFCCTransformer().fit_transform(wavs)
    mfcc = MFCCTransformer(memory=cache)
    np.testing.assert_array_equal(mfcc.fit_transform(wavs), expected)
    assert len(_entries(cache)) == 4

    # Entries truncated under their final names (e.g. a full disk, a copy of the cache folder cut
    # short) are rejected and recomputed, never read back as features.
    for victim in _entries(cache, batches=True):
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    np.testing.assert_array_equal(mfcc.transform(wavs), expected)
    np.testing.assert_array_equal(mfcc.transform(wavs[1:3]), expected[1:3])


# --------------------------------------------------------------------------------- Ctrl-C
@pytest.mark.slow
def test_sigint_during_fit_leaves_no_output(make_synthetic, tmp_path):
    root = make_synthetic()
    out = tmp_path / "out"
    out.mkdir()
    argv = [sys.executable, "-m", "mmemotion.cli", "fit", "--data", str(root), "--out", str(out / "m.mmemotion"),
            "--epochs", "500", "--modalities", "audio", "text", "--set", "module__audio_widths=4,4"]
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        try:
            seen = []
            # skorch prints its epoch table once training runs; interrupt in the middle of it.
            for line in proc.stdout:
                seen.append(line)
                if line.strip()[:1].isdigit() and len([s for s in seen if s.strip()[:1].isdigit()]) >= 2:
                    break
            assert proc.poll() is None, "".join(seen)
            proc.send_signal(signal.SIGINT)
            rest, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, "".join(seen) + rest
    assert "interrupted" in (tmp_path / "stderr.txt").read_text()
    assert list(out.iterdir()) == []
    assert not any(p.name.startswith(".m") for p in tmp_path.rglob("*"))
