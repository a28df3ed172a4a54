"""SSDLite detectors (Table 3): shapes, taps, and counts against the paper's published params and mult-adds."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mnaslib import detection
from mnaslib.plots import figures
from mnaslib.recipes import detection as table3  # noqa: E402
from mnaslib.zoo import reference  # noqa: E402
from mnaslib.counting import summarize  # noqa: E402

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
