"""The averaged generator: an exponential moving average of a generator's weights (Yazici et al.
2019, "The Unusual Effectiveness of Averaging in GAN Training"), cleaner samples at no training
cost. The generator trains exactly as without it; the average follows it after each composite
update, inside the compiled step (step.py), with a warm-up so that it does not drag the random
first weights along. Two rules for its decay: a fixed one (EMA_DECAY, warmed up over the first
updates), or StyleGAN2-ADA's (Karras et al. 2020): a half-life counted in images, at most
HALF_LIFE_RAMP of the images seen so far, so that a short run's average is not stuck in its past."""
import ganlib.start  # noqa: F401  first: the backend started before Keras loads

import keras

from ganlib.tutorial import numpy_random_state_kept

EMA_WARMUP = 10  # the average's decay at update t (from 1) is min(decay, t / (EMA_WARMUP + t - 1))
HALF_LIFE_RAMP = 0.05  # the half-life rule's average spans at most this share of the images seen so far
BATCHNORM_BATCHES = 20  # batches that re-estimate the averaged generator's BatchNormalization statistics
BATCHNORM_BATCH_SIZE = 256


def blend(average, weight, decay):
    """One averaged weight after its generator weight's update: the moving average's one formula."""
    return average * decay + weight * (1 - decay)


class AveragedGenerator:
    """`model`: a copy of `g_model` whose weights follow its weights' moving average."""

    def __init__(self, g_model, decay, batchnorm_inputs=None, half_life=0, images_per_update=1):
        """`half_life`: images after which an update's weight in the average has halved; when given,
        it replaces the fixed `decay` (StyleGAN2-ADA's rule). `images_per_update`: the batch size."""
        self.source, self.decay, self.batchnorm_inputs = g_model, decay, batchnorm_inputs
        self.half_life, self.images_per_update = half_life, images_per_update
        self.model = keras.models.clone_model(g_model)
        self.model.set_weights(g_model.get_weights())
        self.ready = False

    def decay_at(self, updates):
        """The decay after the generator's `updates`-th update (from 1): a number, or a tensor inside
        the compiled step."""
        if self.half_life:
            span = keras.ops.minimum(self.half_life, HALF_LIFE_RAMP * updates * self.images_per_update)
            return keras.ops.power(0.5, self.images_per_update / span)
        return keras.ops.minimum(self.decay, updates / (EMA_WARMUP + updates - 1))

    def pairs(self):
        """(averaged weight, the generator's weight) for each trainable weight."""
        return list(zip(self.model.trainable_variables, self.source.trainable_variables))

    def follow(self, updates):
        """The averaged weights moved after the generator's `updates`-th update (from 1), assigned
        in place: in the uncompiled step, and inside TensorFlow's and PyTorch's compiled one."""
        decay = self.decay_at(updates)
        for average, weight in self.pairs():
            average.assign(blend(average, weight, decay))

    def update(self, updates):
        """After the generator's `updates`-th update (the step's uncompiled path)."""
        self.follow(updates)
        self.ready = False

    def for_sampling(self):
        """The averaged generator, with BatchNormalization statistics that fit its weights."""
        if not self.ready:
            for average, statistic in zip(self.model.non_trainable_weights, self.source.non_trainable_weights):
                # a copy: on JAX, Keras' predict donates the buffers it is given, and one buffer
                # behind two variables would be freed under the other
                average.assign(keras.ops.convert_to_numpy(statistic))
            if self.batchnorm_inputs is not None:
                self._reestimate_batchnorm()
            self.ready = True
        return self.model

    def _reestimate_batchnorm(self):
        """The training generator's moving statistics describe other weights' activations. For a
        generator sampled in inference mode, they are measured again on the averaged weights: the
        mean over BATCHNORM_BATCHES batches (momentum k/(k+1) at batch k averages them equally)."""
        norms = [layer for layer in self.model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
        momenta = [layer.momentum for layer in norms]
        with numpy_random_state_kept():
            for k in range(BATCHNORM_BATCHES):
                for layer in norms:
                    layer.momentum = k / (k + 1)
                self.model(self.batchnorm_inputs(BATCHNORM_BATCH_SIZE), training=True)
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
