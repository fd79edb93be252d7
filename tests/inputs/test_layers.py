from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from siteplan.errors import LayerError
from siteplan.inputs.layers import read_layers
from siteplan.inputs.scenario import load_scenario
from tests.cities import MINI_SCENARIO, write_mini_city


def load(path):
    return read_layers(load_scenario(path))


def rewrite(folder, name, gdf):
    gdf.to_file(folder / f"{name}.gpkg", engine="pyogrio")


def test_mini_city_reads_clean(mini_city):
    layers = load(mini_city)
    assert len(layers.parcels) == 8
    assert layers.parcels["zone"].tolist() == ["东区"] * 4 + ["西区"] * 4
    assert layers.crs.to_epsg() == 4549
    assert layers.warnings == []


def test_missing_file_names_the_layer_and_path(mini_city):
    (mini_city.parent / "stations.gpkg").unlink()
    with pytest.raises(LayerError, match=r"stations.gpkg: the stations layer file does not exist"):
        load(mini_city)


def test_missing_field_suggests_a_column(mini_city):
    folder = mini_city.parent
    p = gpd.read_file(folder / "parcels.gpkg").rename(columns={"far_max": "far_mx"})
    rewrite(folder, "parcels", p)
    with pytest.raises(LayerError) as err:
        load(mini_city)
    msg = str(err.value)
    assert "parcels.gpkg" in msg and "'far_max' is missing" in msg and "'far_mx'" in msg and "[fields.parcels]" in msg


def test_field_mapping_renames_bureau_columns(tmp_path):
    scen = MINI_SCENARIO.replace("[types.public_rental]", '[fields.parcels]\nparcel_id = "DKBH"\nfar_max = "RJL"\n\n[types.public_rental]')
    path = write_mini_city(tmp_path / "c", scenario=scen)
    p = gpd.read_file(path.parent / "parcels.gpkg").rename(columns={"parcel_id": "DKBH", "far_max": "RJL"})
    rewrite(path.parent, "parcels", p)
    layers = load(path)
    assert layers.parcels["parcel_id"].tolist()[:2] == ["P0", "P1"]
    assert (layers.parcels["far_max"] == 2.0).all()


def test_mapped_column_that_does_not_exist(tmp_path):
    scen = MINI_SCENARIO.replace("[types.public_rental]", '[fields.parcels]\nfar_max = "RJL"\n\n[types.public_rental]')
    path = write_mini_city(tmp_path / "c", scenario=scen)
    with pytest.raises(LayerError, match=r"column 'RJL' \(mapped to 'far_max'"):
        load(path)


def test_no_crs_is_an_error(mini_city):
    folder = mini_city.parent
    p = gpd.read_file(folder / "parks.gpkg").set_crs(None, allow_override=True)
    rewrite(folder, "parks", p)
    with pytest.raises(LayerError, match="parks layer has no CRS"):
        load(mini_city)


def test_other_crs_is_reprojected(mini_city):
    folder = mini_city.parent
    st = gpd.read_file(folder / "stations.gpkg")
    rewrite(folder, "stations", st.to_crs("EPSG:4326"))
    layers = load(mini_city)
    assert layers.stations.crs.to_epsg() == 4549
    assert layers.stations.geometry.distance(st.geometry).max() < 0.01


def test_duplicate_ids_and_bad_plot_ratio(mini_city):
    folder = mini_city.parent
    p = gpd.read_file(folder / "parcels.gpkg")
    p.loc[1, "parcel_id"] = "P0"
    rewrite(folder, "parcels", p)
    with pytest.raises(LayerError, match="P0 occurs more than once"):
        load(mini_city)
    p.loc[1, "parcel_id"] = "P1"
    p.loc[2, "far_max"] = 35.0
    rewrite(folder, "parcels", p)
    with pytest.raises(LayerError, match=r"far_max.* parcel_id P2 has 35; write each parcel's plot-ratio cap"):
        load(mini_city)


def test_unknown_district_is_named_with_a_hint(mini_city):
    folder = mini_city.parent
    p = gpd.read_file(folder / "parcels.gpkg")
    p.loc[0, "district"] = "东城"
    rewrite(folder, "parcels", p)
    with pytest.raises(LayerError, match=r"'东城' -> '东城区'\?"):
        load(mini_city)


def test_points_as_parcels_is_an_error(mini_city):
    folder = mini_city.parent
    p = gpd.read_file(folder / "parcels.gpkg")
    p["geometry"] = p.centroid
    rewrite(folder, "parcels", p)
    with pytest.raises(LayerError, match="are \\['Point'\\], but a parcels layer needs"):
        load(mini_city)


def test_invalid_polygon_is_repaired_and_counted(mini_city):
    folder = mini_city.parent
    p = gpd.read_file(folder / "parcels.gpkg")
    x, y = p.geometry[0].bounds[:2]
    p.loc[0, "geometry"] = shapely.Polygon([(x, y), (x + 100, y + 100), (x + 100, y), (x, y + 100)])  # bow-tie
    rewrite(folder, "parcels", p)
    layers = load(mini_city)
    assert layers.parcels.geometry.is_valid.all()
    assert any("repaired 1 invalid polygon" in w and "P0" in w for w in layers.warnings)
    assert layers.parcels.geometry[0].area == pytest.approx(5_000.0)
