"""The generator writes the real KuaiLive format with the target statistics; the adapter validates it."""

import shutil

import numpy as np
import pandas as pd
import pytest

from expbook.data.kuailive import SCHEMA, load_kuailive, range_lower_bound
from expbook.data.kuailive_synth import KuaiLiveSpec, generate_kuailive, gift_price_quantile
from expbook.errors import DataError


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kuailive")
    generate_kuailive(folder, KuaiLiveSpec(scale=0.02, seed=1))
    return folder


def test_generator_writes_every_file_the_adapter_reads(generated):
    data = load_kuailive(generated)
    for name, columns in SCHEMA.items():
        assert set(columns) <= set(getattr(data, name.removesuffix(".csv")).columns)
    assert data.click["timestamp"].dtype == np.int64


def test_generated_statistics_are_close_to_the_targets(generated):
    data = load_kuailive(generated)
    price = data.gift["gift_price"]
    assert abs((price == 1).mean() - 0.44) < 0.04
    assert abs((price <= 10).mean() - 0.76) < 0.04
    assert price.median() == 2
    gifted_clicks = data.gift[["user_id", "live_id"]].drop_duplicates().shape[0] / len(data.click)
    assert 0.010 < gifted_clicks < 0.025
    revenue = data.gift.groupby("user_id")["gift_price"].sum().reindex(range(len(data.user)), fill_value=0)
    x = np.sort(revenue.to_numpy(float))
    gini = (2 * np.arange(1, x.size + 1) - x.size - 1) @ x / (x.size * x.sum())
    assert gini > 0.85
    days = (data.click["timestamp"] + 8 * 3_600_000) // 86_400_000
    assert days.nunique() == 21


def test_price_quantile_function_hits_the_published_marginal():
    price = gift_price_quantile(np.random.default_rng(0).random(400_000))
    assert (price == 1).mean() == pytest.approx(0.44, abs=0.01)
    assert np.quantile(price, 0.9) == pytest.approx(88, abs=3)
    assert np.quantile(price, 0.99) == pytest.approx(1488, rel=0.05)
    assert 60 < price.mean() < 110 and price.max() <= 56_000


def test_generator_is_deterministic(tmp_path):
    generate_kuailive(tmp_path / "a", KuaiLiveSpec(scale=0.002, seed=5))
    generate_kuailive(tmp_path / "b", KuaiLiveSpec(scale=0.002, seed=5))
    for name in SCHEMA:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_missing_file_names_the_file(generated, tmp_path):
    shutil.copytree(generated, tmp_path / "d")
    (tmp_path / "d" / "gift.csv").unlink()
    with pytest.raises(DataError, match="gift.csv: file not found"):
        load_kuailive(tmp_path / "d")


def test_missing_column_names_file_and_column(generated, tmp_path):
    shutil.copytree(generated, tmp_path / "d")
    click = pd.read_csv(tmp_path / "d" / "click.csv").drop(columns="timestamp")
    click.to_csv(tmp_path / "d" / "click.csv", index=False)
    with pytest.raises(DataError, match="click.csv: column 'timestamp' is missing"):
        load_kuailive(tmp_path / "d")


def test_malformed_value_names_file_column_and_row(generated, tmp_path):
    shutil.copytree(generated, tmp_path / "d")
    gift = pd.read_csv(tmp_path / "d" / "gift.csv").astype({"gift_price": object})
    gift.loc[4, "gift_price"] = "ten"
    gift.to_csv(tmp_path / "d" / "gift.csv", index=False)
    with pytest.raises(DataError, match="gift.csv: column 'gift_price' has non-numeric value 'ten' in data row 5"):
        load_kuailive(tmp_path / "d")


def test_range_strings_parse_to_their_lower_bound():
    got = range_lower_bound(pd.Series(["10000-100000", "5000+", "", None, "0-10"]))
    np.testing.assert_array_equal(got[[0, 1, 4]], [10000, 5000, 0])
    assert np.isnan(got[2]) and np.isnan(got[3])
