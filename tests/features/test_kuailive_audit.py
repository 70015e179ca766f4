"""The leakage audit: past-only features never change when the future is deleted; leaky ones and snapshot counts do."""

import pytest

from expbook.data.kuailive import load_kuailive
from expbook.data.kuailive_synth import KuaiLiveSpec, generate_kuailive
from expbook.features.kuailive import SNAPSHOT_COLUMNS, build_features
from expbook.features.kuailive_audit import future_information_rows


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kuailive")
    generate_kuailive(folder, KuaiLiveSpec(scale=0.01, seed=2))
    return load_kuailive(folder)


def test_past_only_features_ignore_the_future_and_leaky_ones_do_not(data):
    clean = build_features(data)
    leaky = build_features(data, leaky=True)
    changed, checked = future_information_rows(data, clean.frame, clean.feature_columns, leaky=False, check_day=14)
    assert checked > 0 and changed == 0
    changed_leaky, _ = future_information_rows(data, leaky.frame, leaky.feature_columns, leaky=True, check_day=14)
    assert changed_leaky > 0


def test_the_snapshot_counts_go_through_the_truncation_and_only_the_leaky_protocol_uses_them(data):
    assert not set(SNAPSHOT_COLUMNS) & set(build_features(data).feature_columns)
    leaky = build_features(data, leaky=True)
    assert set(SNAPSHOT_COLUMNS) <= set(leaky.feature_columns)
    # the leaky protocol with nothing but the snapshot counts: still caught, by the snapshot columns alone
    only_snapshots = tuple(SNAPSHOT_COLUMNS)
    changed, checked = future_information_rows(data, leaky.frame, only_snapshots, leaky=True, check_day=14)
    assert changed == checked > 0
