"""The notebook catalogue: experiments in reading order, their metadata and cells, read as plain JSON."""

import json

import nbformat
import pytest

from expbook.errors import ParameterError
from expbook.run.catalogue import list_experiments, notebook_cells, notebook_metadata, notebook_path, notebook_title


def _write(folder, name, order=None, title="A title: and more"):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {title}\n\ntext"),
                                               nbformat.v4.new_code_cell("a = 1\nb = 2", metadata={"tags": ["parameters"]})])
    if order is not None:
        notebook.metadata["expbook"] = {"order": order, "smoke": {"a": 2}}
    nbformat.write(notebook, folder / f"{name}.ipynb")


def test_experiments_come_in_their_declared_order_then_by_name(tmp_path):
    _write(tmp_path, "zeta", order=1)
    _write(tmp_path, "alpha")
    _write(tmp_path, "beta", order=2)
    assert list_experiments(tmp_path) == ["zeta", "beta", "alpha"]
    assert notebook_metadata(tmp_path / "zeta.ipynb")["smoke"] == {"a": 2} and notebook_metadata(tmp_path / "alpha.ipynb") == {}


def test_cells_read_as_nbformat_joins_them_and_the_title_is_the_first_heading(tmp_path):
    _write(tmp_path, "exp")
    path = tmp_path / "exp.ipynb"
    cells = notebook_cells(path)
    assert [c.source for c in cells] == [c.source for c in nbformat.read(path, as_version=4).cells]
    assert cells[1].tags == ("parameters",) and notebook_title(path) == "A title: and more"


def test_an_unknown_experiment_names_the_closest_one_and_a_broken_file_is_one_error(tmp_path):
    _write(tmp_path, "two_stage")
    with pytest.raises(ParameterError, match="did you mean 'two_stage'"):
        notebook_path("two_stag", tmp_path)
    (tmp_path / "broken.ipynb").write_text("{not json")
    with pytest.raises(ParameterError, match="broken.ipynb: not a notebook"):
        notebook_cells(tmp_path / "broken.ipynb")
    assert json.loads((tmp_path / "two_stage.ipynb").read_text())["cells"]
