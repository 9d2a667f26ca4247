"""The environment report and the concept figures of notebook 00."""

from __future__ import annotations

import matplotlib.pyplot as plt

from utils.course.diagrams import CAKE_LAYERS, LIFECYCLE_STAGES, draw_layered_cake, draw_lifecycle
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
