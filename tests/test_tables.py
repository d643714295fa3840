import pytest

from nas_kit import tables


def test_claims_table_has_paper_reader_and_stored_columns_in_markdown_and_html():
    t = tables.claims_table([["skips", "3 (DARTS_V1)", 1, "not made yet"]], notes=["note"])
    assert t.header == tables.CLAIMS_HEADER
    assert t.rows == (("skips", "3 (DARTS_V1)", "1", "not made yet"),)
    assert "| skips | 3 (DARTS_V1) | 1 | not made yet |" in t.markdown()
    assert "<td>not made yet</td>" in t.html() and "<p>note</p>" in t.html()


def test_claims_table_names_a_row_with_the_wrong_number_of_cells():
    with pytest.raises(ValueError, match="needs 4 cells.*got 3"):
        tables.claims_table([["skips", "3", "1"]])
