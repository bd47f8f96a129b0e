"""One training step as one compiled program: the tutorial's updates, in its order, written with
its own `train_on_batch` and `predict_on_batch` calls, and the averaged generator's update, with
no round trip to the host between them and the losses left on the device.

Keras' `train_on_batch` does on every call what a GAN step repeats three times: it gathers every
variable into a state and writes every one back, resets the metrics, copies the batch to the
device and converts the losses to NumPy, so the host waits for the device on each call. On a GPU
that per-call work is the whole step (docs/speed.md). Here the script's step function is traced
once, with each model's `train_on_batch` standing for its `train_step` (the update Keras itself
compiles, metrics reset so the losses are the batch's own) and `predict_on_batch` for a call of
the model, and the trace is compiled as one program:

- JAX: `jax.jit` of a function from every variable's value to their new values; the values stay
  on the device between steps and are written back to the Keras variables by `sync()`, which
  the run calls before it reads a weight (summaries, checkpoints, the end).
- TensorFlow: `tf.function`, with XLA on a GPU (on a CPU, XLA made a full-size step slower);
  the variables are TensorFlow's own, updated in place.
- PyTorch: no compiler: the same calls run eagerly, each update straight to `train_step`.

The discriminator's trainable switch inside the step function takes effect when it is traced,
exactly as Keras reads `trainable` when it traces its own train function. The first call of a
run (and every call with `--eager`) runs the step function as written, through Keras' own
`train_on_batch`: it builds the optimizers and is the tutorial's loop; tests/test_step.py trains
both ways from the same weights and batches and compares.
"""
import ganlib.start  # noqa: F401  first: the backend started before Keras loads

import contextlib

import keras
import numpy as np

from ganlib.average import blend


def flatten_metrics(model, logs):
    """`logs` in the order and shape `model.train_on_batch` returns them (a number, or a list).
    Keras' own ordering (a private method, checked by tests/test_step.py)."""
    return model._flatten_metrics_in_order(logs)


def own_rows(batch, index, n_processes):
    """This process's share of every array in `batch` (an array, a list of them, or None)."""
    return keras.tree.map_structure(
        lambda rows: rows[len(rows) * index // n_processes:len(rows) * (index + 1) // n_processes], batch,
        none_is_leaf=False)


@contextlib.contextmanager
def standing_in(trainers, train, predict=None):
    """The one door between the script's step and Keras: while the block runs, each trainer's
    `train_on_batch(x, y, sample_weight)` is `train(model, x, y, sample_weight, original)`, where
    `original` is what stood there before (Keras' own method, or a test's spy), and, when
    `predict` is given, every model's `predict_on_batch` is `predict(model, x)`."""
    saved = {id(model): model.__dict__.pop("train_on_batch", None) for model in trainers}
    original_predict = keras.Model.predict_on_batch
    for model in trainers:
        original = saved[id(model)] or model.train_on_batch
        model.train_on_batch = (lambda x, y=None, sample_weight=None, *args, _model=model, _original=original, **kwargs:
                                train(_model, x, y, sample_weight, _original))
    if predict is not None:
        keras.Model.predict_on_batch = lambda model, x: predict(model, x)
    try:
        yield
    finally:
        keras.Model.predict_on_batch = original_predict
        for model in trainers:
            del model.train_on_batch
            if saved[id(model)] is not None:
                model.train_on_batch = saved[id(model)]


def train_step_alone(model, x, y, sample_weight, original=None):
    """One update through Keras' `train_step`, its metrics reset so the losses are the batch's own
    (TensorFlow and PyTorch, where the variables are updated in place)."""
    for metric in model.metrics:
        metric.reset_state()
    return flatten_metrics(model, model.train_step((x, y, sample_weight)))


def stacked(losses):
    """A step's losses (numbers, or lists of them per update) as one float32 vector."""
    return keras.ops.stack([keras.ops.cast(keras.ops.reshape(v, ()), "float32") for v in keras.tree.flatten(losses)])


def own_buffers(values):
    """The variables' values, each array once: the compiled step gives its inputs' buffers back to
    the device (donates them), and one buffer behind two variables would be given twice."""
    seen = set()
    owned = []
    for value in values:
        owned.append(keras.ops.copy(value) if id(value) in seen else value)
        seen.add(id(value))
    return owned


class CompiledStep:
    """`body(*inputs)`: the script's step, written with `train_on_batch` on `trainers` (the compiled
    models: the discriminator, the composite, any other update's model) and `predict_on_batch`.
    `models`: every model whose variables it reads or writes. `average`: the averaged generator
    (average.py) or None. Called with the step's inputs and the update's number (from 1), it
    returns the losses: a vector on the device, or NumPy on the first and every eager call."""

    def __init__(self, body, trainers, models, average=None, eager=False, distribution=None, process=(0, 1),
                 jit_compile=False):
        """`process`: (this process's index, the number of processes in the run); `jit_compile`:
        TensorFlow's XLA, on a GPU."""
        self.body, self.trainers, self.average = body, list(trainers), average
        self.models = list(models) + ([average.model] if average else [])
        self.eager, self.distribution, self.process, self.jit_compile = eager, distribution, process, jit_compile
        self.compiled = None
        self.values = None  # JAX: the variables' values between syncs

    def __call__(self, *inputs, updates):
        if self.eager or self.compiled is None:
            with standing_in(self.trainers, self._own_rows_through_keras):
                losses = self.body(*inputs)
            if self.average:
                self.average.update(updates)
            if not self.eager:
                self.compiled = self._compile()
            return np.array([float(v) for v in keras.tree.flatten(losses)], "float32")
        if self.average:
            self.average.ready = False
        return self.compiled(inputs, updates)

    def _own_rows_through_keras(self, model, x, y, sample_weight, original):
        """Keras' own train_on_batch (the first call, --eager), given this process's rows: every
        process draws the whole batch, and Keras assembles the global one from their shares."""
        x, y, sample_weight = own_rows([x, y, sample_weight], *self.process)
        return original(x, y) if sample_weight is None else original(x, y, sample_weight)

    def sync(self):
        """The Keras variables brought up to date (JAX; elsewhere they are updated in place)."""
        if self.values is not None:
            for variable, value in zip(self._variables, self.values):
                variable.assign(value)
            self.values = None

    # -------------------------------------------------------------------------------------

    def _compile(self):
        for model in self.trainers:
            model.reset_metrics()
        return {"jax": self._jax, "tensorflow": self._tensorflow}.get(keras.backend.backend(), self._eager)()

    def _eager(self):
        """PyTorch: each update straight to train_step, no conversion of the losses to NumPy."""
        program = self._in_place(lambda model, x: keras.ops.stop_gradient(model(x, training=False)))
        return lambda inputs, updates: program(np.float32(updates),
                                               keras.tree.map_structure(keras.ops.convert_to_tensor, inputs))

    def _tensorflow(self):
        import tensorflow as tf  # this backend's compiler; model and loop code stay backend-neutral
        compiled = tf.function(self._in_place(lambda model, x: model(x, training=False)), jit_compile=self.jit_compile)
        return lambda inputs, updates: compiled(np.float32(updates), inputs)

    def _in_place(self, predict):
        """The step where Keras variables are updated in place (TensorFlow, PyTorch)."""
        def program(updates, inputs):
            with standing_in(self.trainers, train_step_alone, predict):
                losses = stacked(self.body(*inputs))
            if self.average:
                self.average.follow(updates)
            return losses
        return program

    def _jax(self):
        import jax  # this backend's compiler; model and loop code stay backend-neutral
        variables, seen = [], set()
        for model in self.models + self.trainers:
            for variable in list(model.variables) + list(getattr(getattr(model, "optimizer", None), "variables", [])):
                if id(variable) not in seen:
                    seen.add(id(variable))
                    variables.append(variable)
        self._variables = variables
        position = {id(v): k for k, v in enumerate(variables)}
        metrics_reset = {id(m): [v.value for v in m.metrics_variables] for m in self.trainers}

        def program(values, updates, inputs):
            values = list(values)

            def gather(group):
                return [values[position[id(v)]] for v in group]

            def scatter(group, new):
                for variable, value in zip(group, new):
                    values[position[id(variable)]] = value

            def train(model, x, y, sample_weight, original):
                state = (gather(model.trainable_variables), gather(model.non_trainable_variables),
                         gather(model.optimizer.variables), metrics_reset[id(model)])
                logs, (trainable, non_trainable, optimizer, _) = model.train_step(state, (x, y, sample_weight))
                scatter(model.trainable_variables, trainable)
                scatter(model.non_trainable_variables, non_trainable)
                scatter(model.optimizer.variables, optimizer)
                return flatten_metrics(model, logs)

            def predict(model, x):
                outputs, non_trainable = model.stateless_call(gather(model.trainable_variables),
                                                              gather(model.non_trainable_variables), x, training=False)
                scatter(model.non_trainable_variables, non_trainable)
                return outputs

            with standing_in(self.trainers, train, predict):
                losses = stacked(self.body(*inputs))
            if self.average:
                decay = self.average.decay_at(updates)
                for average, weight in self.average.pairs():
                    values[position[id(average)]] = blend(values[position[id(average)]], values[position[id(weight)]],
                                                          decay)
            return values, losses

        compiled = jax.jit(program, donate_argnums=0)

        def step(inputs, updates):
            if self.values is None:
                self.values = own_buffers([v.value for v in variables])
            self.values, losses = compiled(self.values, np.float32(updates), self._placed(inputs))
            return losses
        return step

    def _placed(self, inputs):
        """JAX, on several devices: each input split over them by rows, from this process's own rows
        in a run of several processes (every process holds the whole batch)."""
        if self.distribution is None:
            return inputs
        import jax

        def place(array):
            layout = self.distribution.get_data_layout(array.shape)
            return jax.make_array_from_process_local_data(layout.backend_layout, own_rows(array, *self.process))
        return keras.tree.map_structure(place, inputs)
