"""The data-quality section: the clips and files the loader excluded, and why."""

from collections import Counter

from ._common import unavailable

__all__ = ["quality"]


def quality(dataset, quality_frame, max_rows=200):
    if dataset is None:
        return unavailable("not available because no dataset was passed (render_report(dataset=...)).")
    if quality_frame is None:
        return unavailable("not available because the dataset carries no quality table "
                           "(load_crema_d(...).quality).")
    records = quality_frame.to_dict(orient="records") if hasattr(quality_frame, "to_dict") else list(quality_frame)
    by_reason = Counter(str(r.get("reason", "")) for r in records)
    # The loader adds a "detail" column (e.g. the decoder's message); show it after the reason.
    rows = [(r.get("clip_id", ""), r.get("path", ""),
             " — ".join(str(v) for v in (r.get("reason"), r.get("detail")) if v is not None and v == v and v != ""))
            for r in records]
    return {
        "available": True,
        "n_excluded": len(rows),
        "by_reason": sorted(by_reason.items(), key=lambda kv: -kv[1]),
        "rows": rows[:max_rows],
        "truncated": max(len(rows) - max_rows, 0),
        "numbers": {"n_excluded": len(rows), "by_reason": dict(by_reason), "excluded": records},
    }
