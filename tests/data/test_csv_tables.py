"""CSV tables with a declared schema: each error names the file, the column and the data row."""

import pytest

from expbook.data.csv_tables import read_table
from expbook.errors import DataError

COLUMNS = {"id": "int", "score": "num", "name": "str"}


def _write(tmp_path, text):
    path = tmp_path / "table.csv"
    path.write_text(text)
    return path


def test_a_good_table_is_read_with_its_kinds(tmp_path):
    table = read_table(_write(tmp_path, "id,score,name,extra\n1,0.5,a,x\n2,1.5,b,y\n"), COLUMNS, needs="a table")
    assert list(table.columns) == ["id", "score", "name"] and table["id"].dtype.kind == "i"


@pytest.mark.parametrize(("text", "message"), [
    ("id,name\n1,a\n", "table.csv: column 'score' is missing"),
    ("id,score,name\n1,high,a\n", "table.csv: column 'score' has non-numeric value 'high' in data row 1"),
    ("id,score,name\n1,0.5,a\n,0.7,b\n", "table.csv: column 'id' is empty in data row 2"),
    ("id,score,name\n1.5,0.5,a\n", "table.csv: column 'id' must hold integers, found 1.5 in data row 1"),
])
def test_bad_tables_name_file_column_and_row(tmp_path, text, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_table(_write(tmp_path, text), COLUMNS, needs="a table")


def test_a_missing_file_says_what_is_needed(tmp_path):
    with pytest.raises(DataError, match="file not found \\(a table with ids\\)"):
        read_table(tmp_path / "nope.csv", COLUMNS, needs="a table with ids")
