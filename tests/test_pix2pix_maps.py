"""Pix2Pix: preparing the maps pairs, the frozen discriminator, short runs both ways, translating."""
import keras
import numpy as np
import pytest

import datafiles
from ganlib import cli, atomic_files as gf
from ganlib.tutorial import in_training_mode
from ganlib.saved import read_generator_info
import pix2pix_maps
import prepare_maps
import runchecks
import sample
import switchcheck
from conftest import metrics_columns, save_untrained, settings_of
from switchcheck import BATCHNORM_WEIGHTS, MOVED_BY_COMPOSITE


@pytest.fixture(scope="module")
def maps_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("maps")
    datafiles.write_maps_folder(root)
    return root


def colour(images):
    return images.reshape(-1, 3).mean(axis=0)


def test_prepare_splits_each_pair_into_its_halves_and_skips_unreadable_files(maps_dir, capsys):
    cli.run_main(prepare_maps.main, ["--data-dir", str(maps_dir)])
    out = capsys.readouterr().out
    assert f"skipped {maps_dir / 'maps' / 'train' / 'broken.jpg'}: not a readable image" in out
    assert "skipped 1 unreadable file(s)" in out
    train = np.load(maps_dir / "maps_256.npz")
    val = np.load(maps_dir / "maps_256_val.npz")
    assert train["sat"].shape == train["map"].shape == (3, 256, 256, 3) and train["sat"].dtype == np.uint8
    assert val["sat"].shape == (2, 256, 256, 3)
    np.testing.assert_allclose(colour(train["sat"]), datafiles.SATELLITE_COLOUR, atol=4)
    np.testing.assert_allclose(colour(train["map"]), datafiles.MAP_COLOUR, atol=4)


def test_direction_picks_source_and_target(maps_dir):
    sat2map = pix2pix_maps.load_real_samples(settings_of(pix2pix_maps, "--data-dir", maps_dir))
    map2sat = pix2pix_maps.load_real_samples(settings_of(pix2pix_maps, "--data-dir", maps_dir, "--direction", "map2sat"))
    red = np.array(datafiles.SATELLITE_COLOUR) / 127.5 - 1
    np.testing.assert_allclose(colour(sat2map[0]), red, atol=0.05)
    np.testing.assert_array_equal(sat2map[0], map2sat[1])


def test_missing_maps_folder_says_where_to_get_it(tmp_path):
    with pytest.raises(gf.UserError, match=r"maps\.tar\.gz and unpack it there"):
        pix2pix_maps.load_real_samples(settings_of(pix2pix_maps, "--data-dir", tmp_path))


def test_corrupt_prepared_arrays_are_named(tmp_path):
    (tmp_path / "maps_256.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(gf.UserError, match="maps_256.npz is corrupt or truncated"):
        pix2pix_maps.load_real_samples(settings_of(pix2pix_maps, "--data-dir", tmp_path))


@pytest.mark.slow
def test_discriminator_trains_in_its_own_update_and_only_its_moving_statistics_move_in_the_composite(maps_dir, tmp_path):
    records = switchcheck.run_and_record("pix2pix_maps", maps_dir, tmp_path, steps=1, n_batch=1)
    all_d = set(records[0]["d_names"])
    assert len({n for n in all_d if n.endswith(BATCHNORM_WEIGHTS)}) == 16
    moved_by_composite = {n for n in all_d if n.endswith(MOVED_BY_COMPOSITE[pix2pix_maps.BATCHNORM_IN_COMPOSITE])}
    for record in records:
        expected_d = all_d if record["kind"] == "d" else moved_by_composite
        expected_g = set() if record["kind"] == "d" else set(record["g_names"])
        assert {n for n, m in zip(record["d_names"], record["d_moved"]) if m} == expected_d
        assert {n for n, m in zip(record["g_names"], record["g_moved"]) if m} == expected_g


@pytest.fixture(scope="module")
def sat2map_out(maps_dir, tmp_path_factory):
    """A one-step sat2map run through the command line's main() (map2sat only swaps the halves:
    see test_direction_picks_source_and_target)."""
    out = tmp_path_factory.mktemp("sat2map")
    cli.run_main(pix2pix_maps.main, ["--data-dir", str(maps_dir), "--out", str(out), "--direction", "sat2map",
                                    "--epochs", "1", "--steps-per-epoch", "1"])
    return out


@pytest.mark.slow
def test_one_step_run_writes_the_plot_and_a_generator_that_reloads(sat2map_out):
    out = sat2map_out
    assert (out / "generated_plot_e001.png").stat().st_size > 0
    assert read_generator_info(out / "generator.h5")["direction"] == "sat2map"
    assert metrics_columns(out) == ["epoch", "minutes", "pairs", "l1", "psnr", "ssim", "raw_l1"]
    g_model = keras.models.load_model(out / "generator.h5", compile=False)
    image = np.random.default_rng(0).uniform(-1, 1, (1, 256, 256, 3)).astype("float32")
    as_trained = in_training_mode(g_model)
    first, second = (np.asarray(as_trained.predict_on_batch(image)) for _ in range(2))
    assert first.shape == (1, 256, 256, 3) and np.abs(first).max() <= 1
    assert not np.array_equal(first, second)  # dropout is on, as documented
    direct = [keras.ops.convert_to_numpy(g_model(image)) for _ in range(2)]
    assert not np.array_equal(direct[0], direct[1])  # calling the loaded model: training mode too
    inference = [np.asarray(g_model.predict_on_batch(image)) for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])  # Keras' predict: inference mode


@pytest.mark.slow
def test_the_report_shows_validation_pairs(sat2map_out):
    assert "The first validation pairs at every summary: source, translation and target in rows." in \
        (sat2map_out / "report.html").read_text()
    runchecks.check_report(sat2map_out, summaries=1)


@pytest.mark.slow
def test_sample_translates_a_file_a_folder_and_a_pair(sat2map_out, maps_dir, tmp_path):
    generator = sat2map_out / "generator.h5"
    datafiles.write_maps_pair(tmp_path / "photo.png", size=(300, 200))
    cli.run_main(sample.main, [str(generator), "--image", str(tmp_path / "photo.png"), "--out",
                              str(tmp_path / "one.png"), "--save-array", str(tmp_path / "one.npy")])
    assert np.load(tmp_path / "one.npy").shape == (1, 256, 256, 3) and (tmp_path / "one.png").is_file()
    cli.run_main(sample.main, [str(generator), "--image", str(maps_dir / "maps" / "train"), "--out",
                              str(tmp_path / "folder"), "--save-array", str(tmp_path / "folder.npy")])
    assert sorted(p.name for p in (tmp_path / "folder").iterdir()) == ["1.png", "2.png", "3.png"]
    assert np.load(tmp_path / "folder.npy").shape == (3, 256, 256, 3)
    cli.run_main(sample.main, [str(generator), "--image", str(maps_dir / "maps" / "val" / "1.jpg"), "--pair",
                              "--out", str(tmp_path / "pair.png")])
    assert (tmp_path / "pair.png").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("case,message", [
    ("unreadable", "broken.jpg is not a readable image"),
    ("not_a_pair", "--pair needs a dataset pair twice as wide as high"),
    ("no_image", "a Pix2Pix generator translates images"),
    ("other_generator", "--image is for pix2pix generators; this one is gan"),
])
def test_sample_bad_input_is_one_line(sat2map_out, maps_dir, tmp_path, case, message, capsys):
    generator = sat2map_out / "generator.h5"
    broken = maps_dir / "maps" / "train" / "broken.jpg"
    square = tmp_path / "square.png"
    datafiles.write_maps_pair(square, size=(300, 300))
    argv = {"unreadable": [str(generator), "--image", str(broken)],
            "not_a_pair": [str(generator), "--image", str(square), "--pair"],
            "no_image": [str(generator)],
            "other_generator": [str(tmp_path / "gan.h5"), "--image", str(square)]}[case]
    if case == "other_generator":
        save_untrained("gan_fashion", tmp_path / "gan.h5")
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(sample.main, argv + ["--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("\n") == 1
