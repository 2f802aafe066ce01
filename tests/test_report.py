"""The scan report a reviewer reads first: a triage summary, flagged items first, near-duplicate
images kept together, "not run" said once, honest rounding, and the detector's caveat."""

from __future__ import annotations

import re

from consentry.actions.report import ReportItem, render
from consentry.signals.conditions import score_vs_threshold

H1 = "f" * 64
H1_NEAR = "e" + "f" * 63  # one bit from H1
H2 = "0f" * 32  # 128 bits from H1


def item(name: str, action: str | None, *, pdq: str | None = None, reasons=(), missing=("sexual",),
         matches=(), priority=None, status="ok", manipulation=None) -> ReportItem:
    data = {"path": name, "kind": "image", "status": status, "error": None, "md5": None,
            "media": None, "flagged": action in ("block", "review"), "matches": list(matches)}
    if pdq:
        data["pdq"] = {"hash": pdq, "quality": 100}
    if manipulation:
        data["manipulation"] = manipulation
    if action:
        data["verdict"] = {"action": action, "priority": priority, "labels": [], "reasons": list(reasons),
                           "overridden": [], "missing_signals": list(missing), "policy": "default@x"}
    return ReportItem(data)


def _order(html: str) -> list[str]:
    return re.findall(r"<tr class=\"[^\"]*\"><td></td><td><b>([^<]+)</b>", html)


def test_flagged_items_come_first_and_near_duplicates_stay_together() -> None:
    ncii = {"code": "ncii-match", "action": "block", "message": "bank", "evidence": {"matches": []}}
    items = [item("allowed.jpg", "allow", pdq=H2),
             item("copy-of-blocked.jpg", "allow", pdq=H1_NEAR),
             item("review-low.jpg", "review", priority="low"),
             item("blocked.jpg", "block", pdq=H1, reasons=[ncii],
                  matches=[{"bank": "helpline", "kind": "ncii", "signal": "pdq", "distance": 0}]),
             item("review-high.jpg", "review", priority="high")]
    html = render(items, 7)
    assert _order(html) == ["blocked.jpg", "copy-of-blocked.jpg", "review-high.jpg", "review-low.jpg",
                            "allowed.jpg"]
    assert html.count("near-duplicate group 1") == 2 and "near-duplicate group 2" not in html
    triage = html.split("<h2>Triage</h2>")[1].split("</table>")[0]
    assert "block: 1" in triage and "review: 2" in triage and "allow: 2" in triage
    assert "ncii-match: 1" in triage and "helpline: 1" in triage


def test_signals_missing_everywhere_are_said_once() -> None:
    items = [item("a.jpg", "allow", missing=("sexual", "faces")), item("b.jpg", "allow", missing=("sexual",))]
    html = render(items, 1)
    assert html.count("Not run on any item: sexual.") == 1
    assert html.count("not run: faces") == 1 and "not run: sexual" not in html


def test_a_score_just_under_its_threshold_never_reads_as_equal() -> None:
    assert score_vs_threshold(0.6499, 0.65) == ("0.6499", "<", "0.6500")
    assert score_vs_threshold(0.65, 0.65) == ("0.65", "≥", "0.65")
    assert score_vs_threshold(0.81, 0.65) == ("0.81", "≥", "0.65")
    manipulation = {"score": 0.6499, "threshold": 0.65, "tracks": []}
    html = render([item("face.jpg", "allow", manipulation=manipulation)], 1)
    assert "manipulation score 0.6499 &lt; threshold 0.6500" in html or \
        "manipulation score 0.6499 < threshold 0.6500" in html


def test_a_flag_resting_on_the_detector_alone_carries_its_caveat() -> None:
    weak = {"code": "manipulated-face", "action": "review", "message": "m",
            "evidence": {"manipulation": 0.9, "manipulation_threshold": 0.65}}
    bank = {"code": "ncii-match", "action": "block", "message": "b", "evidence": {"matches": []}}
    html = render([item("weak.jpg", "review", reasons=[weak], priority="normal")], 1)
    assert "weak signal" in html
    html = render([item("strong.jpg", "block", reasons=[bank, weak])], 1)
    assert "weak signal" not in html


def test_a_still_images_manipulation_plot_marks_its_one_value() -> None:
    still = {"score": 0.4, "threshold": 0.65,
             "tracks": [{"track": 0, "score": 0.4, "timeline": [[0.0, 0.4]]}]}
    html = render([item("face.jpg", "allow", manipulation=still)], 1)
    assert "<circle" in html and "<polyline" not in html
    clip = {"score": 0.4, "threshold": 0.65,
            "tracks": [{"track": 0, "score": 0.4, "timeline": [[0.0, 0.3], [0.5, 0.4]]}]}
    assert "<polyline" in render([item("clip.mp4", "allow", manipulation=clip)], 1)
