"""Provenance labels: every kind, the paper's status letters, and refusals."""
import pytest

from mnaslib.labels import Provenance, paper_provenance as paper


def test_paper_labels_carry_status_and_note():
    assert paper("V").label == "paper (V)"
    assert paper("u").label == "paper (U, uncertain)"
    assert paper("C", "table1_imagenet").label == "paper (C; table1_imagenet)"
    assert paper("U", "row note").detail == "U, uncertain; row note"


def test_other_kinds_and_errors():
    assert str(Provenance("measured", "host TFLite, 1 thread")) == "measured (host TFLite, 1 thread)"
    assert Provenance("computed").label == "computed"
    with pytest.raises(ValueError, match="unknown provenance kind"):
        Provenance("guessed")
    with pytest.raises(ValueError, match="status V, C or U"):
        Provenance("paper", "X; made up")
    with pytest.raises(ValueError, match="status V, C or U"):
        Provenance("paper", "Verbatim")
