"""The environment report and the concept figures of notebook 00."""

from __future__ import annotations

import matplotlib.pyplot as plt

from utils.course.diagrams import CAKE_LAYERS, CAKE_TRENDS, LIFECYCLE_STAGES, draw_layered_cake, draw_lifecycle
from utils.course.environment import package_report, pinned_versions, system_summary


def test_pinned_versions_reads_requirements() -> None:
    pins = pinned_versions()
    assert pins["torch"] == "2.13.0"
    assert "transformers" in pins


def test_package_report_marks_installed_and_missing_packages() -> None:
    rows = {row["check"]: row for row in package_report(["torch", "surely-not-installed-pkg"])}
    assert rows["torch"]["status"] == "ok"
    assert rows["surely-not-installed-pkg"]["status"] == "MISSING"
    assert rows["surely-not-installed-pkg"]["fix"].startswith("pip install surely-not-installed-pkg")


def test_system_summary_names_the_device() -> None:
    assert system_summary()["device"] in {"cpu", "cuda", "mps"} or system_summary()["device"].startswith("cuda")


def test_diagrams_draw_every_stage_and_layer() -> None:
    texts = [t.get_text() for t in draw_lifecycle().texts]
    assert all(stage in texts for stage, _, _ in LIFECYCLE_STAGES)
    texts = [t.get_text() for t in draw_layered_cake().texts]
    assert all(f"{layer} layer" in texts for layer, *_ in CAKE_LAYERS)
    plt.close("all")


def test_cake_arrows_point_the_way_their_quantity_grows() -> None:
    # Notebook 00 reads the cake with these arrows: quality and value grow upward, data and compute downward.
    ax = draw_layered_cake()
    arrows = {patch.get_gid(): patch for patch in ax.patches if (patch.get_gid() or "").startswith("cake-trend-")}
    assert set(arrows) == {"cake-trend-up", "cake-trend-down"}
    for direction, grows in CAKE_TRENDS:
        (_, y_start), (_, y_end) = arrows[f"cake-trend-{direction}"]._posA_posB
        assert (y_end > y_start) == (direction == "up")
        assert any(grows in t.get_text() for t in ax.texts)
    assert "quality" in dict(CAKE_TRENDS)["up"] and "compute" in dict(CAKE_TRENDS)["down"]
    plt.close("all")
