"""Provenance labels: every kind, the paper's status letters, and refusals."""
import pytest

from mnaslib.labels import Provenance, paper_provenance as paper


def test_paper_labels_carry_status_and_note():
    assert paper("V").label == "paper (V)"
    assert paper("u").label == "paper (U, uncertain)"
    assert paper("C", "table1_imagenet").label == "paper (C; table1_imagenet)"
    assert paper("U", "row note").detail == "U, uncertain; row note"


def test_official_readme_numbers_are_their_own_kind_with_status_and_readme():
    readme = paper("V", "fig5_mobilenetv2", source="MobileNet README")
    assert readme.kind == "official"
    assert readme.label == "official (V, MobileNet README; fig5_mobilenetv2)"
    assert "paper" not in readme.label
    assert paper("U", source="MnasNet README").label == "official (U, uncertain, MnasNet README)"
    with pytest.raises(ValueError, match="official number needs its status"):
        Provenance("official", "MobileNet README")


def test_other_kinds_and_errors():
    assert str(Provenance("measured", "host TFLite, 1 thread")) == "measured (host TFLite, 1 thread)"
    assert Provenance("computed").label == "computed"
    with pytest.raises(ValueError, match="unknown provenance kind"):
        Provenance("guessed")
    with pytest.raises(ValueError, match="status V, C or U"):
        Provenance("paper", "X; made up")
    with pytest.raises(ValueError, match="status V, C or U"):
        Provenance("paper", "Verbatim")


# ------------------------------------------------------------------------------------------- footnoted tables

from mnaslib.labels import (Labelled, footnote_lines, footnoted, render_table, round_to_meaning,  # noqa: E402
                            split_label)
from mnaslib.reproduce import markdown_table  # noqa: E402

HOST = Provenance("measured", "host LiteRT 2.3, AMD EPYC, 1 thread, thread-CPU clock")
PIXEL1 = Provenance("predicted", "Pixel-1 model, grouped-CV MAPE 6.3%")


def _table():
    return render_table([
        {"model": "MnasNet-A1", "latency (ms)": Labelled(10.98123, HOST), "top-1 (%)": Labelled(75.2, paper("V")),
         "proxy": Labelled.missing("not run at the ci profile")},
        {"model": "MnasNet-B1", "latency (ms)": Labelled(12.5, PIXEL1), "top-1 (%)": Labelled(74.5, paper("V")),
         "proxy": Labelled(0.0963124, Provenance("proxy", "1 epoch on 4,000 images"))}])


def test_footnote_keys_round_trip_to_the_full_labels():
    shown = footnoted(_table())
    assert list(shown["latency (ms)"]) == ["10.98 [m1]", "12.5 [e1]"]
    notes = shown.attrs["footnotes"]
    assert notes["m1"] == HOST.label and notes["e1"] == PIXEL1.label
    # a label every cell shares goes to the header once; a short one stays readable as it is
    assert list(shown.columns) == ["model", "latency (ms)", "top-1 (%) [paper (V)]", "proxy"]
    assert list(shown["top-1 (%) [paper (V)]"]) == ["75.2", "74.5"]
    assert list(shown["proxy"]) == ["- [n1]", "0.09631 [x1]"] and notes["n1"] == "not run at the ci profile"
    for cell in shown.to_numpy().ravel():  # every key resolves to the full label
        text, key = split_label(cell)
        assert key is None or key in notes or key == "paper (V)"
    assert footnote_lines(shown)[0] == f"[m1] {HOST.label}"
    # where most cells share a label, the header carries it and only the exception keeps its own
    mixed = footnoted(render_table([{"top-1": Labelled(v, paper(s))} for v, s in ((75.2, "V"), (74.0, "U"),
                                                                                   (73.3, "V"))]))
    assert list(mixed.columns) == ["top-1 [paper (V)]"]
    assert list(mixed["top-1 [paper (V)]"]) == ["75.2", "74 [p1]", "73.3"]
    assert mixed.attrs["footnotes"] == {"p1": "paper (U, uncertain)"}
    # the table itself (CSV, the value's .provenance) keeps every label in full
    assert _table().iloc[0]["latency (ms)"] == f"10.9812 [{HOST.label}]"
    assert Labelled(10.98123, HOST).provenance == HOST


def test_the_report_and_the_notebook_show_the_same_footnoted_table():
    from IPython.core.formatters import DisplayFormatter

    from mnaslib.labels import install_notebook_display

    text = markdown_table(_table())
    assert "| MnasNet-A1 | 10.98 [m1] | 75.2 | - [n1] |" in text and f"- [m1] {HOST.label}" in text
    notebook = DisplayFormatter()
    install_notebook_display(notebook)
    shown, _ = notebook.format(_table())
    assert "10.98 [m1]" in shown["text/html"] and f"[m1] {HOST.label}" in shown["text/html"]
    assert f"[m1] {HOST.label}" in shown["text/plain"] and "10.98 [m1]" in shown["text/plain"]


def test_numbers_are_rounded_to_four_significant_digits_for_display_only():
    assert round_to_meaning(0.0963124) == "0.09631" and round_to_meaning(10.98) == "10.98"
    assert round_to_meaning(123456.7) == "123,457" and round_to_meaning(7) == 7
    assert round_to_meaning("0.123456 [0.1-0.2]") == "0.1235 [0.1-0.2]" and round_to_meaning("+1.25x") == "+1.25x"
    assert split_label("0.12 [0.1-0.2] [computed; median [IQR] of 3 seeds]") == (
        "0.12 [0.1-0.2]", "computed; median [IQR] of 3 seeds")
    assert split_label("no label") == ("no label", None) and split_label("a[b]") == ("a[b]", None)
