"""The unconditional Fashion-MNIST GAN: the switch, and what a short run writes."""
import numpy as np
import pytest

from ganlib import data as gd
import gan_fashion
import runchecks
import switchcheck
from conftest import settings_of


def test_discriminator_trains_in_its_own_update_and_is_frozen_in_the_composite(tiny_data, tmp_path):
    switchcheck.assert_switch_works(switchcheck.run_and_record("gan_fashion", tiny_data, tmp_path))


def test_the_tutorial_pattern_alone_would_not_train_the_discriminator(tiny_data, tmp_path):
    """The check above can fail: without the switch, Keras 3 leaves the discriminator untouched."""
    g_model, d_model, gan_model, _ = gan_fashion.define_models(settings_of(gan_fashion))
    assert not d_model.trainable and d_model in gan_model.layers
    before = switchcheck.snapshot(d_model.weights)
    images = gd.scale_images(gd.load_dataset("fashion_mnist", tiny_data)[0][:8])
    d_model.train_on_batch(images, np.ones((8, 1)))
    assert not any(switchcheck.changed(before, switchcheck.snapshot(d_model.weights)))


@pytest.mark.slow
def test_short_run_writes_outputs_and_a_generator_that_reloads(tiny_data, tmp_path):
    runchecks.check_short_fashion_run(gan_fashion, tiny_data, tmp_path)
