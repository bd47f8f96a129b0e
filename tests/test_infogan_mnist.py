"""InfoGAN: which weights each update moves, outputs with and without continuous codes, sampling."""
import importlib.util

import keras
import numpy as np
import pytest

from ganlib import cli, drawing, settings as gs, tutorial as gu
from ganlib.saved import read_generator_info
import infogan_mnist
import runchecks
import sample
import switchcheck
from conftest import REPO, metrics_columns, save_untrained, settings_of

from switchcheck import BATCHNORM_WEIGHTS, MOVED_BY_COMPOSITE, moved_names


@pytest.mark.slow
@pytest.mark.parametrize("rule,batchnorm", [("reference", choice) for choice in gs.BATCHNORM_CHOICES]
                         + [pytest.param("tutorial", choice, marks=pytest.mark.extended)
                            for choice in gs.BATCHNORM_CHOICES])
def test_each_update_moves_exactly_the_documented_weights(rule, batchnorm, tiny_data, tmp_path):
    """Tutorial rule: Q's head trains only in the composite update. Reference rule: Q's loss trains
    the shared layers and Q's head in the discriminator's update on fakes, and the composite
    update trains the generator alone. BatchNormalization moves as `batchnorm` says, Q's too."""
    records = switchcheck.run_and_record("infogan_mnist", tiny_data, tmp_path, spied={"info": "info_model"},
                                         watched={"q": "q_model"},
                                         flags=["--n-cont", "2", "--update-rule", rule, "--batchnorm-in-composite", batchnorm])
    all_d = set(records[0]["d_names"])
    shared = {n for n in all_d if n in set(records[0]["q_names"])}
    q_own = set(records[0]["q_names"]) - shared
    shared_batchnorm = {n for n in shared if n.endswith(BATCHNORM_WEIGHTS)}
    assert len(shared_batchnorm) == 8 and len(q_own) == 2 + 4 + 2 + 2 * 2  # Dense, BN, category, 2 codes
    moved_by_composite = MOVED_BY_COMPOSITE[batchnorm]
    kinds = [record["kind"] for record in records]
    assert kinds == ["d", "info", "gan"] * 2 if rule == "reference" else kinds == ["d", "d", "gan"] * 2
    for k, record in enumerate(records):
        if record["kind"] == "gan":
            assert moved_names(record, "g") == set(record["g_names"])
            assert moved_names(record, "d") == {n for n in shared_batchnorm if n.endswith(moved_by_composite)}
            q_head = q_own if rule == "tutorial" else {n for n in q_own if n.endswith(moved_by_composite)}
            assert moved_names(record, "q") & q_own == q_head
        else:
            assert moved_names(record, "d") == all_d and moved_names(record, "g") == set()
            assert moved_names(record, "q") & q_own == (q_own if record["kind"] == "info" else set())


@pytest.mark.slow
@pytest.mark.parametrize("form,elastic", [("agreement", "0"), ("information", "0"), ("information", "34")])
def test_the_consistency_update_moves_the_shared_layers_and_qs_categorical_path_only(form, elastic, tiny_data, tmp_path):
    """--consistency-weight: Q's reading of augmented real digits trains the layers Q shares with
    the discriminator and Q's categorical path; not the discriminator's real-versus-fake head, not
    the continuous codes' heads, not the generator."""
    records = switchcheck.run_and_record("infogan_mnist", tiny_data, tmp_path,
                                         spied={"info": "info_model", "consistency": "consistency_model"},
                                         watched={"q": "q_model"},
                                         flags=["--n-cont", "2", "--consistency-weight", "1", "--consistency-form", form,
                                                "--elastic-distortion", elastic])
    assert [record["kind"] for record in records] == ["d", "info", "consistency", "gan"] * 2
    q_names = set(records[0]["q_names"])
    shared = {n for n in records[0]["d_names"] if n in q_names}
    q_own = q_names - shared
    continuous_heads = {n for n in q_own if n.startswith("cont_")}
    assert len(continuous_heads) == 4 and len(q_own - continuous_heads) == 2 + 4 + 2
    for record in (r for r in records if r["kind"] == "consistency"):
        assert moved_names(record, "g") == set()
        assert moved_names(record, "d") == shared
        assert moved_names(record, "q") == shared | (q_own - continuous_heads)
        assert float(record["result"]) > 0 if form == "agreement" else -np.log(10) <= float(record["result"]) <= 0


def test_the_elastic_distortion_moves_pixels_as_the_probe_that_measured_it_and_only_in_training():
    """ElasticDistortion in keras.ops against the NumPy distortion of
    docs/results/screening/q_clustering_probe.py, on one displacement noise; outside training the
    images pass unchanged, and in training they change but keep the images' range."""
    path = REPO / "docs" / "results" / "screening" / "q_clustering_probe.py"
    probe = importlib.util.module_from_spec(spec := importlib.util.spec_from_file_location("q_clustering_probe", path))
    spec.loader.exec_module(probe)
    rng = np.random.default_rng(0)
    images = np.where(rng.random((6, 28, 28, 1)) < 0.2, 1.0, -1.0).astype("float32")
    noise = rng.uniform(-1, 1, (6, 28, 28, 2)).astype("float32")
    distortion = infogan_mnist.ElasticDistortion(34.0)
    np.testing.assert_allclose(np.asarray(distortion.distort(images, noise)), probe.elastic_distortion(images, noise),
                               atol=1e-4)
    assert np.array_equal(np.asarray(distortion(images)), images)
    moved = np.asarray(distortion(images, training=True))
    assert moved.shape == images.shape and not np.allclose(moved, images) and np.abs(moved).max() <= 1 + 1e-6
    assert len(infogan_mnist.define_augmentation(34.0).layers) == len(infogan_mnist.define_augmentation(0.0).layers) + 1


def test_the_information_form_is_lowest_for_even_agreeing_readings_and_zero_for_one_value():
    """mutual_information_loss against the mutual information worked by hand: two readings that
    agree and use the ten values evenly score -log 10; every digit read as one value scores 0 (the
    collapse the agreement form rewards); two independent readings score about 0 too."""
    even = np.eye(10, dtype="float32")[np.arange(200) % 10]
    one_value = np.eye(10, dtype="float32")[np.zeros(200, int)]
    rng = np.random.default_rng(0)
    independent = [np.eye(10, dtype="float32")[rng.integers(0, 10, 5000)] for _ in range(2)]
    loss = infogan_mnist.mutual_information_loss
    assert float(loss(None, np.concatenate([even, even], axis=1))) == pytest.approx(-np.log(10), abs=1e-3)
    assert float(loss(None, np.concatenate([one_value, one_value], axis=1))) == pytest.approx(0, abs=1e-3)
    assert float(loss(None, np.concatenate(independent, axis=1))) == pytest.approx(0, abs=0.02)
    half_merged = np.eye(10, dtype="float32")[np.where(np.arange(200) % 10 == 9, 4, np.arange(200) % 10)]
    assert float(loss(None, np.concatenate([half_merged, half_merged], axis=1))) > -np.log(10) + 0.1


@pytest.mark.slow
@pytest.mark.parametrize("n_cont", [0, 2])
def test_short_run_writes_outputs_and_a_generator_of_the_right_input_size(n_cont, tiny_data, tmp_path):
    cli.run_main(infogan_mnist.main, ["--data-dir", str(tiny_data), "--out", str(tmp_path), "--epochs", "1",
                                     "--steps-per-epoch", "2", "--batch-size", "8", "--n-cont", str(n_cont)])
    expected = ["generated_plot_e001.png", "generator_e001.h5", "q_model_e001.h5", "generator.h5",
                "q_model.h5", "losses.csv", "losses.png"] + [f"generated_sweep{k}_e001.png" for k in range(n_cont)]
    for name in expected:
        assert (tmp_path / name).stat().st_size > 0, name
    assert not (tmp_path / f"generated_sweep{n_cont}_e001.png").exists()
    g_model = keras.models.load_model(tmp_path / "generator.h5", compile=False)
    assert g_model.input.shape[1] == 62 + 10 + n_cont
    images = np.asarray(g_model.predict_on_batch(np.zeros((3, 72 + n_cont), "float32")))
    assert images.shape == (3, 28, 28, 1) and np.abs(images).max() <= 1
    q_model = keras.models.load_model(tmp_path / "q_model.h5", compile=False)
    q_out = q_model.predict_on_batch(images)
    q_out = q_out if isinstance(q_out, (list, tuple)) else [q_out]
    assert len(q_out) == 1 + n_cont and np.allclose(np.sum(q_out[0], axis=1), 1, atol=1e-5)
    header = (tmp_path / "losses.csv").read_text().splitlines()[0]
    assert header == ",".join(["epoch", "step", "d_real", "d_fake", "g", "q_cat"] + [f"q_cont_{k}" for k in range(n_cont)])
    assert metrics_columns(tmp_path)[:5] == ["epoch", "minutes", "samples", "fid", "kid"]
    assert {"code_accuracy", "raw_code_accuracy", "q_accuracy", "q_entropy", "q_largest_share", "q_information",
            "recall", "real_recall", "intra_fid", "both_axes"} <= set(metrics_columns(tmp_path))
    if n_cont:
        runchecks.check_report(tmp_path, summaries=1)


def test_logged_losses_follow_the_composite_outputs_and_the_code_weights(tiny_data, tmp_path):
    """Each loss is logged under its own name, and both updates that train on Q's loss weigh the
    categorical code by --lambda-cat and the continuous codes by --lambda-cont."""
    settings = settings_of(infogan_mnist, "--data-dir", tiny_data, "--n-cont", 2, "--lambda-cat", 3, "--lambda-cont", 0.25)
    dataset = infogan_mnist.load_real_samples(settings)
    g_model, d_model, gan_model, extras = infogan_mnist.define_models(settings)
    z_input, cat_codes, cont_codes = infogan_mnist.generate_latent_points(62, 10, 8, 2)
    code_targets = [cat_codes, cont_codes[:, :1], cont_codes[:, 1:]]
    as_list = gan_model.test_on_batch(z_input, [np.ones((8, 1))] + code_targets)
    as_dict = gan_model.test_on_batch(z_input, [np.ones((8, 1))] + code_targets, return_dict=True)
    names = ["loss", "source_loss", "category_loss", "cont_0_loss", "cont_1_loss"]
    np.testing.assert_allclose(as_list, [as_dict[n] for n in names], rtol=1e-5)
    total, source, category, cont_0, cont_1 = as_list
    np.testing.assert_allclose(total, source + 3 * category + 0.25 * (cont_0 + cont_1), rtol=1e-4)
    fakes = g_model.predict_on_batch(z_input)
    total, source, category, cont_0, cont_1 = extras["info_model"].test_on_batch(fakes, [np.zeros((8, 1))] + code_targets)
    np.testing.assert_allclose(total, source + 3 * category + 0.25 * (cont_0 + cont_1), rtol=1e-4)
    assert category > 0.1 and dataset.shape[1:] == (28, 28, 1)


@pytest.fixture(scope="module")
def infogan_generator(tmp_path_factory):
    path = tmp_path_factory.mktemp("infogan") / "generator.h5"
    _, q_model = infogan_mnist.define_discriminator(10, 2)
    gu.save_generator(q_model, path.with_name("q_model.h5"), kind="infogan_q", dataset="mnist", latent_dim=62, n_cat=10,
                      n_cont=2, epoch=0)
    return save_untrained("infogan_mnist", path)


def test_code_flag_puts_one_hot_k_into_the_generator_input(infogan_generator):
    info = read_generator_info(infogan_generator)
    args = sample.parse_args([str(infogan_generator), "--code", "3", "--n", "2"])
    inputs, *_ = drawing.draw_infogan(args, info, np.random)
    assert inputs.shape == (4, 74)
    np.testing.assert_array_equal(inputs[:, 62:72], np.tile(np.eye(10)[3], (4, 1)))
    np.testing.assert_array_equal(inputs[:, 72:], 0)


@pytest.mark.parametrize("flags,count", [(["--n", "3"], 30), (["--code", "7", "--n", "2"], 4), (["--sweep", "1"], 100),
                                         (["--point", "0.5", "--code", "2"], 1), (["--interpolate", "--n", "4"], 4)])
def test_sample_modes(infogan_generator, tmp_path, flags, count):
    cli.run_main(sample.main, [str(infogan_generator), "--out", str(tmp_path / "s.png"),
                              "--save-array", str(tmp_path / "a.npy"), *flags])
    assert np.load(tmp_path / "a.npy").shape == (count, 28, 28, 1)


@pytest.mark.parametrize("flags,message", [(["--code", "10"], "code 10 is out of range"),
                                           (["--sweep", "2"], "no continuous code 2"),
                                           (["--label", "3"], "--label is for cgan, acgan generators; this one is infogan")])
def test_sample_refuses_bad_codes(infogan_generator, tmp_path, flags, message, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.run_main(sample.main, [str(infogan_generator), "--out", str(tmp_path / "s.png"), *flags])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_sample_refuses_the_q_model(infogan_generator, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.run_main(sample.main, [str(infogan_generator.with_name("q_model.h5")), "--out", str(tmp_path / "s.png")])
    assert stop.value.code == 2
    assert "is an infogan_q model, not a generator" in capsys.readouterr().err
