"""The baselines' group features are exactly the memberships the GNN sees as nodes."""

import pytest

from expbook.data.turnover import load_survey
from expbook.data.turnover_synth import SurveySpec, generate_survey
from expbook.features.turnover import group_features


@pytest.fixture(scope="module")
def small_graph(tmp_path_factory):
    folder = tmp_path_factory.mktemp("survey")
    generate_survey(folder, SurveySpec(employees=150, seed=1))
    return load_survey(folder)


def test_group_features_are_the_memberships_the_gnn_sees(small_graph):
    groups = group_features(small_graph)
    employee, post_type, size = small_graph.groups["post_type"]
    post_columns = groups[[f"post_type={k}" for k in range(size)]].to_numpy()
    assert post_columns.sum() == employee.size and post_columns[employee, post_type].all()
    assert groups.filter(like="company_type=").sum(axis=1).eq(1).all()
