"""write_synthetic_crema_d: the folder appears whole or not at all, and only a synthetic set is replaced."""

import pytest

from mmemotion.datasets import _synthetic_folder, write_synthetic_crema_d


def test_existing_folder_needs_overwrite_and_a_foreign_one_is_never_deleted(tmp_path):
    mine = tmp_path / "holiday"
    mine.mkdir()
    (mine / "photo.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        write_synthetic_crema_d(mine, n_actors=2, clips_per_actor=6)
    with pytest.raises(FileExistsError, match="refusing to delete it even with overwrite=True"):
        write_synthetic_crema_d(mine, overwrite=True, n_actors=2, clips_per_actor=6)
    assert (mine / "photo.jpg").read_bytes() == b"x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["holiday"]


def test_a_failed_generation_leaves_the_old_set_and_no_partial_folder(tmp_path, monkeypatch):
    out = tmp_path / "synthetic"
    out.mkdir()
    (out / "synthetic_truth.csv").write_text("clip_id\n")

    def fails(path, **params):
        assert params["overwrite"] is True and params["n_actors"] == 2
        (path / "AudioWAV").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(_synthetic_folder, "make_synthetic_crema_d", fails)
    with pytest.raises(KeyboardInterrupt):
        write_synthetic_crema_d(out, overwrite=True, n_actors=2, clips_per_actor=6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]
    assert sorted(p.name for p in out.iterdir()) == ["synthetic_truth.csv"]
