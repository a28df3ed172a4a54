"""SSDLite detectors (Table 3): shapes, taps, and counts against the paper's published params and mult-adds."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mnaslib.spaces import detection
from mnaslib.report.plots import figures
from mnaslib.report.recipes import detection as table3  # noqa: E402
from mnaslib.spaces.zoo import reference  # noqa: E402
from mnaslib.spaces.counting import summarize  # noqa: E402

# Exact counts at 320x320 (trainable params, mult-adds) under the convention that reproduces each published row:
# the MobileNetV1/V2 rows (which MnasNet quotes from the MobileNetV2 paper) round to the paper with 81 classes, the
# MnasNet-A1 row with the TF OD API's 91. Both use 3 anchors on the first map and 6 on the others.
REPRODUCED = {
    "mobilenetv1": ("coco-80", 5_100_661, 1_309_162_944, 5.1, 1.3),
    "mobilenetv2": ("coco-80", 4_337_013, 788_830_144, 4.3, 0.8),
    "mnasnet-a1": ("tf-od-api", 4_912_181, 837_819_232, 4.9, 0.8),
}
TAP_CHANNELS = {"mobilenetv1": (512, 1024), "mobilenetv2": (576, 1280), "mnasnet-a1": (672, 1280)}


@pytest.fixture(scope="module")
def detectors():
    built = {}
    for name, (convention_name, *_rest) in REPRODUCED.items():
        head = detection.convention(convention_name)
        built[name] = detection.ssdlite(name, 320, head.num_classes, head.anchors_per_location)
    return built


@pytest.mark.parametrize("name", list(REPRODUCED))
def test_outputs_cover_every_anchor(detectors, name):
    model = detectors[name]
    head = detection.convention(REPRODUCED[name][0])
    anchors = sum(h * w * a for (h, w, _), a in zip(detection.feature_map_shapes(model), head.anchors_per_location))
    assert anchors == detection.expected_anchors(320) == 20 * 20 * 3 + (100 + 25 + 9 + 4 + 1) * 6 == 2034
    assert tuple(model.output["boxes"].shape) == (None, anchors, 4)
    assert tuple(model.output["classes"].shape) == (None, anchors, head.num_classes)


@pytest.mark.parametrize("name", list(REPRODUCED))
def test_taps_at_stride_16_and_32_then_extra_layers(detectors, name):
    shapes = detection.feature_map_shapes(detectors[name])
    assert [(h, w) for h, w, _ in shapes] == [(20, 20), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    assert tuple(c for _, _, c in shapes) == TAP_CHANNELS[name] + detection.EXTRA_LAYER_DEPTHS


@pytest.mark.parametrize("name", list(REPRODUCED))
def test_counts_round_to_the_paper(detectors, name):
    _, params, mult_adds, paper_params_m, paper_mult_adds_b = REPRODUCED[name]
    counts = summarize(detectors[name])
    assert (counts["trainable_params"], counts["mult_adds"]) == (params, mult_adds)
    assert round(params / 1e6, 1) == paper_params_m
    assert round(mult_adds / 1e9, 1) == paper_mult_adds_b


def test_the_head_convention_changes_the_counts_by_what_the_predictors_hold():
    """91 vs 81 classes adds 10 x anchors class channels to every class predictor's 1x1 conv (weights + biases)."""
    coco80 = summarize(detection.ssdlite("mnasnet-a1", 320, 81))
    tf_api = summarize(detection.ssdlite("mnasnet-a1", 320, 91))
    channels = TAP_CHANNELS["mnasnet-a1"] + detection.EXTRA_LAYER_DEPTHS
    extra = sum(10 * a * (c + 1) for a, c in zip(detection.STANDARD_ANCHORS, channels))
    assert tf_api["trainable_params"] - coco80["trainable_params"] == extra == 166_410


def test_a1_tap_is_the_expansion_of_the_first_stride_32_layer():
    assert detection.arch_taps(reference("mnasnet-a1")) == ("block6a_expand_relu", "head_relu")
    assert detection.arch_taps(reference("mobilenetv2")) == ("block6a_expand_relu", "head_relu")


def test_bad_names_raise_listing_the_known_ones():
    with pytest.raises(ValueError, match="mobilenetv1, mobilenetv2, mnasnet-a1"):
        detection.ssdlite("resnet50")
    with pytest.raises(ValueError, match="tf-od-api, coco-80"):
        detection.convention("voc")
    with pytest.raises(ValueError, match="one count per feature map"):
        detection.ssdlite("mnasnet-a1", anchors_per_location=(3, 6))


def test_table_and_figure_label_every_number(tmp_path):
    counts = detection.convention_counts(["mnasnet-a1"], [detection.convention("tf-od-api")])
    assert counts.loc[0, "params_match"] and counts.loc[0, "mult_adds_match"]
    table = table3.table3(counts).set_index("detector")
    assert list(table.index) == ["YOLOv2", "SSD300", "SSD512", "MobileNetV1 + SSDLite", "MobileNetV2 + SSDLite",
                                 "MnasNet-A1 + SSDLite"]
    row = table.loc["MnasNet-A1 + SSDLite"]
    assert row["params (M), tf-od-api"] == "4.91 [computed]" and row["params (M), paper"] == "4.9 [paper (V)]"
    assert row["mult-adds (B), tf-od-api"] == "0.838 [computed]" and row["mult-adds (B), paper"] == "0.8 [paper (V)]"
    assert row["latency (ms), paper"] == "203 [paper (V)]" and row["mAP, paper"] == "23 [paper (V)]"
    assert "not measured" in row["mAP (ours)"]
    assert table.loc["MobileNetV1 + SSDLite", "params (M), tf-od-api"] == "- [not built here]"
    assert table.loc["SSD300", "latency (ms), paper"] == "-"
    fig, axes = plt.subplots(1, 2)
    figures.table3_figure(axes, counts)
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == ["paper (V)",
                                                                        "computed, tf-od-api (91 classes)"]
    plt.close(fig)


def _counts(matches: dict[tuple[str, str], bool]) -> pd.DataFrame:
    """A counts table shaped like ``detection.convention_counts``'s without building a detector: each backbone's
    params are the paper's plus 0.01M (a match) or 0.3M (no match), +1M params under tf-od-api's 91 classes."""
    paper_rows = {"mobilenetv1": (5.1, 1.3), "mobilenetv2": (4.3, 0.8), "mnasnet-a1": (4.9, 0.8)}
    rows = []
    for (backbone, convention), match in matches.items():
        paper_params, paper_madds = paper_rows[backbone]
        params_m = paper_params + (0.01 if match else 0.3) + (1.0 if convention == "tf-od-api" and not match else 0)
        rows.append({"backbone": backbone, "convention": convention, "params": params_m * 1e6,
                     "mult_adds": paper_madds * 1e9, "paper_params_m": paper_params, "paper_mult_adds_b": paper_madds,
                     "paper_params_label": f"{paper_params} [paper (V)]", "paper_mult_adds_label": f"{paper_madds}",
                     "params_diff_m": params_m - paper_params, "mult_adds_diff_b": 0.0, "params_match": match,
                     "mult_adds_match": True})
    return pd.DataFrame(rows)


# the paper's finding: the MobileNet rows reproduce with 81 classes, A1's with the TF OD API's 91
PAPER_LIKE = {("mobilenetv1", "tf-od-api"): False, ("mobilenetv1", "coco-80"): True,
              ("mobilenetv2", "tf-od-api"): False, ("mobilenetv2", "coco-80"): True,
              ("mnasnet-a1", "tf-od-api"): True, ("mnasnet-a1", "coco-80"): False}


def test_the_convention_reading_names_the_closest_and_the_reproducing_conventions():
    lines = table3.convention_reading(_counts(PAPER_LIKE))
    assert lines[0].startswith("mobilenetv1: closest convention coco-80: 5.110M params vs 5.1 [paper (V)] (+0.010M)")
    assert lines[2].startswith("mnasnet-a1: closest convention tf-od-api")
    assert "conventions that reproduce all three rows: none" in lines
    assert "  coco-80 reproduces: mobilenetv1, mobilenetv2" in lines and "  tf-od-api reproduces: mnasnet-a1" in lines
    assert "A1 + SSDLite minus MobileNetV2 + SSDLite, coco-80: +0.89M params [computed]" in lines
    assert lines[-1] == ("A1 + SSDLite minus MobileNetV2 + SSDLite in Table 3: +0.6M params [4.9 [paper (V)] minus "
                         "4.3 [paper (V)]]")
    everywhere = table3.convention_reading(_counts({key: True for key in PAPER_LIKE}))
    assert "conventions that reproduce all three rows: coco-80, tf-od-api" in everywhere


def test_table3_splits_into_counted_and_quoted_and_answers_the_exercises():
    counts = _counts(PAPER_LIKE)
    parts = table3.table3_parts(table3.table3(table3.standard_counts(counts)))
    assert list(parts) == ["detection", "detection_quoted"]
    assert all(c.startswith(("params", "mult-adds")) for c in parts["detection"].columns[1:])
    assert "latency (ms), paper" in parts["detection_quoted"] and "mAP (ours)" in parts["detection_quoted"]
    assert all(list(p.columns[:1]) == ["detector"] for p in parts.values())
    assert table3.standard_counts(counts.assign(convention="coco-80-6-anchors")).empty
    assert table3.params_by_convention(counts, "mnasnet-a1").to_dict() == pytest.approx(
        {"tf-od-api": 4.91e6, "coco-80": 5.2e6})
    assert table3.reproduced_only_under(counts, "coco-80", "tf-od-api") == {"mobilenetv1", "mobilenetv2"}
    assert table3.reproduced_only_under(counts, "tf-od-api", "coco-80") == {"mnasnet-a1"}
