"""Fault sweep: every kind of messy media real corpora contain, and what mmemotion does with it.

Each fault is planted in a copy of a small synthetic CREMA-D whose root folder name holds
spaces and non-ASCII letters, then fed to the transformer that reads it
(:class:`~mmemotion.features.MFCCTransformer` for ``AudioWAV/*.wav``,
:class:`~mmemotion.features.FrameSampler` for ``VideoFlash/*``) and to
:func:`~mmemotion.datasets.load_crema_d`.

"error" below means: with ``on_error="raise"`` a :class:`~mmemotion.features.MediaError` whose
message names the file and the ``on_error`` fix (never a raw ``cv2.error``, librosa
``ParameterError`` or soundfile ``LibsndfileError``); with ``on_error="zero"`` a row of zeros
and one :class:`~mmemotion.features.MediaWarning` listing the file, the other rows unchanged.

=============================  ===========================================  ===============================
fault                          transformer                                  ``load_crema_d`` quality report
=============================  ===========================================  ===============================
missing file                   error ("file not found")                     its partner: "unpaired video"
                                                                            (or "unpaired audio")
zero bytes                     error ("not a readable audio file" /         "empty file"
                               "cannot open it as a video")
truncated WAV header           error ("not a readable audio file", or       "unreadable audio" ("audio too
                               "contains no audio samples" when only the    short" when only the 44-byte
                               44-byte header is left)                      header is left)
WAV 8 kHz / 44.1 kHz           resampled to ``sr``: features close to the   kept, duration right
                               16 kHz file of the same sound
WAV stereo                     mixed down by averaging the channels         kept
WAV 24-bit / float             same features as PCM16 (to quantisation)     kept
0.1 s clip                     padded at the end with zero frames           "audio too short"
60 s clip                      cut at the end: equals its first 3 s         "audio too long"
silent audio                   finite features, no NaN                      kept
FLV with no video stream       error ("cannot open it as a video")          "unreadable video"
(audio-only FLV; also a WAV
renamed ``.flv``)
FLV with no audio stream       decoded normally (audio comes from the WAV)  kept
MP4 instead of FLV             decoded; features close to the FLV's         kept, ``video_path`` is .mp4
video of 3 frames              16 frames (``n_frames``) made by repeating   "video too short"
                               the 3 in order (nearest frame in time)
corrupted middle of a video    decodes what it can, no error: frames        kept (only headers are read)
                               before the damage are exact
directory passed as a file     error ("not a regular file")                 its partner: "unpaired video"
                                                                            (or "unpaired audio")
path with spaces and unicode   works: same features as an ASCII path;       works (the whole sweep runs
                               errors name the unicode path                 under such a root)
unknown CREMA-D codes          FilenameEmbedder: no label codes embedded    "unknown code" (which code)
=============================  ===========================================  ===============================

Nothing crashes a whole run without naming the file: with ``on_error="zero"`` and
``n_jobs=2`` every bad file of the sweep is listed in one warning and the good rows are the
same as in a serial run.
"""

import shutil
import struct
import warnings
from pathlib import Path

import cv2
import librosa
import numpy as np
import pytest
import soundfile as sf

from mmemotion.datasets import CremaDQualityWarning, load_crema_d
from mmemotion.features import FilenameEmbedder, FrameSampler, MediaError, MediaWarning, MFCCTransformer

SR = 16000
#: Library errors that must never reach the user bare.
RAW_ERRORS = (cv2.error, librosa.util.exceptions.ParameterError, sf.LibsndfileError)
#: Root folder name of the faulty copy: spaces and non-ASCII letters in every path of the sweep.
ROOT_NAME = "crema d ünïcødé 情感 copy"


def _mfcc(**kw):
    return MFCCTransformer(n_frames=40, **kw)


def _frames(**kw):
    return FrameSampler(n_frames=16, size=(16, 16), **kw)


# ------------------------------------------------------------------------------ media writers
def _voice(rate, seconds):
    """A voiced, band-limited (< 2.2 kHz) sound defined in continuous time, sampled at ``rate``.

    The same sound at any rate >= 8 kHz, so files at 8, 16 and 44.1 kHz hold the same content.
    """
    t = np.arange(int(round(rate * seconds))) / rate
    f0 = 150 + 30 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    harmonics = sum(np.sin(k * phase) / k for k in range(1, 12))
    return (0.3 * harmonics * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t)) ** 2).astype(np.float32)


def _audio_only_flv(path, seconds=1.0, rate=44100):
    """An FLV holding only an audio stream (no video tag at all).

    Written by hand after the FLV file format specification (Adobe, v10, annex E): header with
    the "audio present" flag only, then audio tags of SoundFormat 3 (linear PCM, little endian),
    44 kHz, 16-bit, mono. OpenCV cannot write such a file (its writer has no audio).
    """
    pcm = (0.2 * np.sin(2 * np.pi * 220 * np.arange(int(rate * seconds)) / rate) * 32767).astype("<i2")
    out = bytearray(b"FLV\x01\x04\x00\x00\x00\x09") + struct.pack(">I", 0)
    chunk = rate // 10
    for k, start in enumerate(range(0, len(pcm), chunk)):
        body = bytes([(3 << 4) | (3 << 2) | (1 << 1)]) + pcm[start:start + chunk].tobytes()
        ms = 100 * k
        tag = (bytes([8]) + len(body).to_bytes(3, "big") + (ms & 0xFFFFFF).to_bytes(3, "big")
               + bytes([ms >> 24]) + b"\0\0\0" + body)
        out += tag + struct.pack(">I", len(tag))
    Path(path).write_bytes(bytes(out))


def _write_video(path, frames, fourcc=2):
    """Frames (BGR uint8) to a 30 fps file; fourcc 2 is FFmpeg's tag for FLV1 in FLV."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), fourcc, 30, (w, h))
    assert writer.isOpened(), path
    for frame in frames:
        writer.write(frame)
    writer.release()


def _decode_all(path):
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def _flv_flags(path):
    """FLV header byte 4: bit 0 = has video, bit 2 = has audio."""
    head = Path(path).read_bytes()[:9]
    assert head[:3] == b"FLV", path
    return head[4]


# ---------------------------------------------------------------------------- the faulty set
@pytest.fixture(scope="module")
def sweep(make_synthetic, tmp_path_factory):
    """A synthetic CREMA-D copy (24 clips) under a unicode root, one fault planted per clip.

    Returns a dict: fault name -> dict(stem=..., path=<faulty file>, clean=<original copy>),
    plus "root" and "good" (a WAV and an FLV left untouched).
    """
    source = make_synthetic()
    root = tmp_path_factory.mktemp("robustness") / ROOT_NAME
    shutil.copytree(source, root)
    pristine = root.parent / "pristine"
    pristine.mkdir()
    stems = sorted(p.stem for p in (root / "AudioWAV").glob("*.wav"))
    assert len(stems) >= 20
    faults = {}

    def plant(name, kind, stem):
        wav, flv = root / "AudioWAV" / f"{stem}.wav", root / "VideoFlash" / f"{stem}.flv"
        clean = pristine / (wav.name if kind == "audio" else flv.name)
        shutil.copy(wav if kind == "audio" else flv, clean)
        faults[name] = {"stem": stem, "kind": kind, "path": wav if kind == "audio" else flv, "clean": clean,
                        "wav": wav, "flv": flv}
        return wav, flv

    it = iter(stems)
    wav, _ = plant("missing wav", "audio", next(it))
    wav.unlink()
    wav, _ = plant("zero-byte wav", "audio", next(it))
    wav.write_bytes(b"")
    wav, _ = plant("truncated wav header", "audio", next(it))
    wav.write_bytes(wav.read_bytes()[:20])  # cut inside the 'fmt ' chunk
    wav, _ = plant("header-only wav", "audio", next(it))
    wav.write_bytes(wav.read_bytes()[:44])  # the header promises samples that are not there
    for name, rate, subtype, channels in (("8 kHz wav", 8000, "PCM_16", 1), ("44.1 kHz wav", 44100, "PCM_16", 1),
                                          ("stereo wav", SR, "PCM_16", 2), ("24-bit wav", SR, "PCM_24", 1),
                                          ("float wav", SR, "FLOAT", 1)):
        wav, _ = plant(name, "audio", next(it))
        y, _ = sf.read(wav, dtype="float32")
        if rate != SR:
            y = librosa.resample(y, orig_sr=SR, target_sr=rate)
        if channels == 2:
            y = np.stack([y, 0.5 * y[::-1]], axis=1)
        sf.write(wav, y, rate, subtype=subtype)
    wav, _ = plant("0.1 s wav", "audio", next(it))
    sf.write(wav, _voice(SR, 0.1), SR, subtype="PCM_16")
    wav, _ = plant("60 s wav", "audio", next(it))
    sf.write(wav, _voice(SR, 60.0), SR, subtype="PCM_16")
    wav, _ = plant("silent wav", "audio", next(it))
    sf.write(wav, np.zeros(sf.info(wav).frames, np.float32), SR, subtype="PCM_16")
    wav, _ = plant("directory as wav", "audio", next(it))
    wav.unlink()
    wav.mkdir()

    _, flv = plant("audio-only flv", "video", next(it))
    _audio_only_flv(flv)
    _, flv = plant("wav renamed flv", "video", next(it))
    shutil.copy(faults["8 kHz wav"]["clean"], flv)
    _, flv = plant("flv without audio", "video", next(it))  # as written: OpenCV muxes no audio
    _, flv = plant("mp4 instead of flv", "video", next(it))
    frames = _decode_all(flv)
    flv.unlink()
    faults["mp4 instead of flv"]["path"] = flv.with_suffix(".mp4")
    _write_video(flv.with_suffix(".mp4"), frames, cv2.VideoWriter_fourcc(*"mp4v"))
    _, flv = plant("3-frame video", "video", next(it))
    _write_video(flv, [np.full((360, 480, 3), level, np.uint8) for level in (20, 120, 220)])
    _, flv = plant("corrupted middle of video", "video", next(it))
    data = bytearray(flv.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 2000] = np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    flv.write_bytes(bytes(data))
    _, flv = plant("missing flv", "video", next(it))
    flv.unlink()
    _, flv = plant("zero-byte flv", "video", next(it))
    flv.write_bytes(b"")
    _, flv = plant("directory as flv", "video", next(it))
    flv.unlink()
    flv.mkdir()

    # A clip whose name has a sentence code CREMA-D does not have (both files present).
    good = next(it)
    unknown = "1001_XYZ_ANG_XX"
    shutil.copy(root / "AudioWAV" / f"{good}.wav", root / "AudioWAV" / f"{unknown}.wav")
    shutil.copy(root / "VideoFlash" / f"{good}.flv", root / "VideoFlash" / f"{unknown}.flv")
    faults["unknown codes"] = {"stem": unknown, "kind": "name", "path": root / "AudioWAV" / f"{unknown}.wav"}
    return {"root": root, "faults": faults, "good_wav": root / "AudioWAV" / f"{good}.wav",
            "good_flv": root / "VideoFlash" / f"{good}.flv"}


@pytest.fixture(scope="module")
def loaded(sweep):
    with pytest.warns(CremaDQualityWarning) as record:
        bunch = load_crema_d(sweep["root"])
    bunch["warnings"] = [str(w.message) for w in record]
    return bunch


# --------------------------------------------------------------------- unreadable: error policy
#: fault -> (transformer factory, words the reason must contain)
UNREADABLE = {
    "missing wav": (_mfcc, "file not found"),
    "zero-byte wav": (_mfcc, "not a readable audio file"),
    "truncated wav header": (_mfcc, "not a readable audio file"),
    "header-only wav": (_mfcc, "contains no audio samples"),
    "directory as wav": (_mfcc, "not a regular file"),
    "audio-only flv": (_frames, "cannot open it as a video"),
    "wav renamed flv": (_frames, "cannot open it as a video"),
    "missing flv": (_frames, "file not found"),
    "zero-byte flv": (_frames, "cannot open it as a video"),
    "directory as flv": (_frames, "not a regular file"),
}


@pytest.mark.parametrize("fault", list(UNREADABLE))
def test_unreadable_file_raises_one_clear_error_naming_it(sweep, fault):
    make, reason = UNREADABLE[fault]
    path = sweep["faults"][fault]["path"]
    good = sweep["good_wav"] if make is _mfcc else sweep["good_flv"]
    transformer = make(on_error="raise").fit([str(good)])
    with pytest.raises(MediaError) as info:
        transformer.transform([str(good), str(path)])
    message = str(info.value)
    assert str(path) in message  # the full path, unicode root included
    assert reason in message
    assert "on_error='zero'" in message  # the fix is named
    assert not isinstance(info.value, RAW_ERRORS)
    assert info.value.source == str(path)


@pytest.mark.parametrize("fault", list(UNREADABLE))
def test_unreadable_file_becomes_zero_row_and_warning(sweep, fault):
    make, reason = UNREADABLE[fault]
    path = sweep["faults"][fault]["path"]
    good = str(sweep["good_wav"] if make is _mfcc else sweep["good_flv"])
    expected = make().fit([good]).transform([good])[0]
    transformer = make(on_error="zero").fit([good])
    with pytest.warns(MediaWarning) as record:
        Xt = transformer.transform([good, str(path), good])
    media = [w for w in record if issubclass(w.category, MediaWarning)]
    assert len(media) == 1
    assert str(path) in str(media[0].message) and reason in str(media[0].message)
    assert "1 of 3 files" in str(media[0].message)
    assert not Xt[1].any()
    np.testing.assert_array_equal(Xt[0], expected)
    np.testing.assert_array_equal(Xt[2], expected)


# joblib notes that results computed after the first error were discarded; that is the point.
@pytest.mark.filterwarnings("ignore:.*tasks have been successfully executed:UserWarning")
def test_no_fault_crashes_a_parallel_run_and_every_bad_file_is_named(sweep):
    bad = {make: [str(sweep["faults"][f]["path"]) for f, (m, _) in UNREADABLE.items() if m is make]
           for make in (_mfcc, _frames)}
    for make, good in ((_mfcc, str(sweep["good_wav"])), (_frames, str(sweep["good_flv"]))):
        items = [good, *bad[make], good]
        serial = make().fit([good]).transform([good])[0]
        with pytest.warns(MediaWarning) as record:
            Xt = make(on_error="zero", n_jobs=2).fit(items).transform(items)
        message = " ".join(str(w.message) for w in record if issubclass(w.category, MediaWarning))
        assert all(path in message for path in bad[make])
        assert not Xt[1:-1].any()
        np.testing.assert_array_equal(Xt[0], serial)
        np.testing.assert_array_equal(Xt[-1], serial)
        # Errors raised in worker processes come back as the same clean error, first bad file named.
        with pytest.raises(MediaError, match="on_error='zero'") as info:
            make(n_jobs=2).fit(items).transform(items)
        assert info.value.source == bad[make][0]


# -------------------------------------------------------------------- readable: right features
@pytest.mark.parametrize("rate,subtype,tol", [(8000, "PCM_16", 0.05), (44100, "PCM_16", 0.05),
                                              (SR, "PCM_24", 0.005), (SR, "FLOAT", 0.005)])
def test_other_rates_and_sample_formats_give_the_16khz_features(tmp_path, rate, subtype, tol):
    reference = tmp_path / "ref.wav"
    sf.write(reference, _voice(SR, 1.0), SR, subtype="PCM_16")
    other = tmp_path / f"other_{rate}_{subtype}.wav"
    sf.write(other, _voice(rate, 1.0), rate, subtype=subtype)
    mfcc = _mfcc(on_error="zero").fit([str(reference)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", MediaWarning)  # a readable file must not be zeroed
        ref, got = mfcc.transform([str(reference), str(other)])
    assert got.shape == ref.shape == (40 * 40,)
    assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < tol
    assert np.corrcoef(got, ref)[0, 1] > 0.999


def test_stereo_is_mixed_down_by_averaging_the_channels(tmp_path):
    left, right = _voice(SR, 1.0), 0.5 * _voice(SR, 1.0)[::-1]
    sf.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), SR, subtype="FLOAT")
    sf.write(tmp_path / "mono.wav", (left + right) / 2, SR, subtype="FLOAT")
    sf.write(tmp_path / "left.wav", left, SR, subtype="FLOAT")
    paths = [str(tmp_path / f"{n}.wav") for n in ("stereo", "mono", "left")]
    stereo, mono, only_left = _mfcc().fit(paths).transform(paths)
    np.testing.assert_allclose(stereo, mono, rtol=1e-4, atol=1e-3)
    assert np.linalg.norm(stereo - only_left) > 100 * np.linalg.norm(stereo - mono)


@pytest.mark.parametrize("fault", ["8 kHz wav", "44.1 kHz wav", "stereo wav", "24-bit wav", "float wav"])
def test_loader_keeps_other_wav_formats_with_their_true_duration(sweep, loaded, fault):
    info = sweep["faults"][fault]
    row = loaded.frame.set_index("clip_id").loc[info["stem"]]
    assert row["audio_path"] == str(info["path"])
    assert row["duration"] == pytest.approx(sf.info(info["clean"]).duration, abs=1e-3)
    # ...and the transformer reads the file the loader points to.
    Xt = _mfcc().fit([row["audio_path"]]).transform([row["audio_path"]])
    assert Xt.shape == (1, 1600) and np.isfinite(Xt).all() and Xt.any()


def test_short_clip_is_padded_with_zero_frames_at_the_end(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, _voice(SR, 0.1), SR, subtype="PCM_16")
    mfcc = _mfcc().fit([str(path)])
    Xt = mfcc.transform([str(path)]).reshape(mfcc.output_shape_)[0]
    # 1,600 samples, hop 400, centred frames: frames 0..4 see audio, the rest is padding.
    n_audio = 1600 // mfcc.hop_length + 1
    assert Xt.shape == (40, 40)
    assert np.abs(Xt[:, :n_audio]).min(axis=0).max() > 0 and np.isfinite(Xt).all()
    assert not Xt[:, n_audio:].any()


def test_long_clip_is_cut_at_the_end(tmp_path):
    y = _voice(SR, 60.0)
    sf.write(tmp_path / "long.wav", y, SR, subtype="PCM_16")
    sf.write(tmp_path / "head.wav", y[: 3 * SR], SR, subtype="PCM_16")
    paths = [str(tmp_path / "long.wav"), str(tmp_path / "head.wav")]
    mfcc = _mfcc().fit(paths)
    long, head = mfcc.transform(paths)
    assert long.shape == (1600,)
    np.testing.assert_array_equal(long, head)


def test_silent_audio_gives_finite_features(sweep):
    path = str(sweep["faults"]["silent wav"]["path"])
    for params in ({}, {"deltas": True}, {"standardize": True}):
        Xt = _mfcc(**params).fit_transform([path, path])
        assert np.isfinite(Xt).all(), params
    # Every frame that sees the (silent) recording is the same: no structure is invented. The
    # zero padding after the clip's end differs from silence (it is 0 in the MFCC domain).
    plain = _mfcc().fit_transform([path]).reshape(40, 40)
    n_audio = min(40, sf.info(path).frames // 400 + 1)
    assert np.ptp(plain[:, :n_audio], axis=1).max() < 1e-3


@pytest.mark.parametrize("fault,reason,where", [
    ("missing wav", "unpaired video", "flv"),
    ("directory as wav", "unpaired video", "flv"),
    ("zero-byte wav", "empty file", "path"),
    ("truncated wav header", "unreadable audio", "path"),
    ("header-only wav", "audio too short", "path"),
    ("0.1 s wav", "audio too short", "path"),
    ("60 s wav", "audio too long", "path"),
    ("audio-only flv", "unreadable video", "path"),
    ("wav renamed flv", "unreadable video", "path"),
    ("3-frame video", "video too short", "path"),
    ("missing flv", "unpaired audio", "wav"),
    ("directory as flv", "unpaired audio", "wav"),
    ("zero-byte flv", "empty file", "path"),
    ("unknown codes", "unknown code", "path"),
])
def test_loader_quality_report_lists_the_fault(sweep, loaded, fault, reason, where):
    info = sweep["faults"][fault]
    rows = loaded.quality[loaded.quality["clip_id"] == info["stem"]]
    assert str(info[where]) in set(rows["path"]), rows
    assert reason in set(rows["reason"]), rows
    assert info["stem"] not in set(loaded.frame["clip_id"])
    assert reason in loaded.warnings[0]


def test_loader_names_the_unknown_code(sweep, loaded):
    rows = loaded.quality[loaded.quality["clip_id"] == "1001_XYZ_ANG_XX"]
    assert len(rows) == 2  # the WAV and the FLV
    assert all("'XYZ'" in detail and "sentence" in detail for detail in rows["detail"])


def test_unknown_codes_do_not_leak_the_label_into_text_features():
    words = FilenameEmbedder().fit(["x"]).word_vectors("1001_XYZ_ANG_XX")[0]
    assert "ang" not in words and "xx" not in words


# -------------------------------------------------------------------------------------- video
def test_flv_without_audio_stream_is_decoded(sweep, loaded):
    info = sweep["faults"]["flv without audio"]
    flags = _flv_flags(info["path"])
    assert flags & 0x01 and not flags & 0x04  # video present, audio absent
    Xt = _frames().fit([str(info["path"])]).transform([str(info["path"])])
    assert Xt.shape == (1, 3 * 16 * 16 * 16) and Xt.any()
    assert info["stem"] in set(loaded.frame["clip_id"])


def test_audio_only_flv_is_a_real_flv_without_video(sweep):
    flags = _flv_flags(sweep["faults"]["audio-only flv"]["path"])
    assert flags & 0x04 and not flags & 0x01


def test_mp4_instead_of_flv_is_paired_and_decoded(sweep, loaded):
    info = sweep["faults"]["mp4 instead of flv"]
    row = loaded.frame.set_index("clip_id").loc[info["stem"]]
    assert row["video_path"] == str(info["path"]) and row["video_path"].endswith(".mp4")
    sampler = _frames().fit([row["video_path"]])
    mp4, flv = sampler.transform([row["video_path"], str(info["clean"])])
    assert mp4.shape == (3 * 16 * 16 * 16,)
    # Two lossy encodings of the same frames.
    assert np.abs(mp4 - flv).mean() < 0.03


def test_three_frame_video_gives_sixteen_frames_in_order(sweep):
    path = str(sweep["faults"]["3-frame video"]["path"])
    sampler = _frames(color=False, crop=None, dtype=np.uint8).fit([path])
    Xt = sampler.transform([path]).reshape(sampler.output_shape_)[0]  # (T, H, W)
    assert Xt.shape == (16, 16, 16)
    # Each output frame is one of the three grey levels (20, 120, 220), in order, all used.
    which = np.abs(Xt.reshape(16, -1).mean(axis=1)[:, None] - np.array([20, 120, 220])).argmin(axis=1)
    assert np.all(np.diff(which) >= 0) and set(which.tolist()) == {0, 1, 2}
    assert which.tolist() == np.linspace(0, 2, 16).round().astype(int).tolist()


def test_corrupted_middle_decodes_what_it_can(sweep, loaded):
    info = sweep["faults"]["corrupted middle of video"]
    sampler = _frames(on_error="raise").fit([str(info["clean"])])
    with warnings.catch_warnings():
        warnings.simplefilter("error", MediaWarning)
        damaged, clean = sampler.transform([str(info["path"]), str(info["clean"])])
    damaged = damaged.reshape(sampler.output_shape_)
    clean = clean.reshape(sampler.output_shape_)
    assert np.isfinite(damaged).all()
    # Frames before the damaged bytes are decoded exactly; some later frame is not.
    np.testing.assert_array_equal(damaged[:, 0], clean[:, 0])
    assert not np.array_equal(damaged, clean)
    # The loader reads container headers only, so it keeps the clip.
    assert info["stem"] in set(loaded.frame["clip_id"])


# ------------------------------------------------------------------------ paths and the cache
def test_path_with_spaces_and_unicode(sweep, tmp_path):
    odd = tmp_path / "dir with spaces ünï 情感"
    odd.mkdir()
    pairs = [(sweep["good_wav"], odd / "voix d'été 声音.wav", _mfcc),
             (sweep["good_flv"], odd / "visage ça va 脸.flv", _frames)]
    for source, target, make in pairs:
        shutil.copy(source, target)
        ascii_copy = tmp_path / f"plain{target.suffix}"
        shutil.copy(source, ascii_copy)
        reference = make().fit([str(ascii_copy)]).transform([str(ascii_copy)])
        cached = make(memory=tmp_path / "cache ü")
        first = cached.fit([str(target)]).transform([str(target)])
        again = cached.transform([str(target)])  # read back from the cache
        np.testing.assert_array_equal(first, reference)
        np.testing.assert_array_equal(again, reference)
        missing = odd / f"absent é 情{target.suffix}"
        with pytest.raises(MediaError) as info:
            make().fit([str(target)]).transform([str(missing)])
        assert str(missing) in str(info.value)
    # The whole loader sweep above ran under a root with spaces and unicode.
    assert ROOT_NAME in str(sweep["root"])
