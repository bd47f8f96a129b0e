"""The inputs of each kind of generator, built in one place: latent noise, class labels, and
InfoGAN's noise and codes (the one place its input is put together), with the grids that
sample.py, the explorer and the training scripts draw from them.

NumPy only."""
import numpy as np

SWEEP = np.linspace(-2, 2, 10)  # an InfoGAN continuous code's values along a sweep grid's rows


def noise(prior, shape, rng=np.random):
    """Latent noise: "normal", N(0, 1), or "uniform" in [-1, 1] (InfoGAN's reference code)."""
    if prior == "uniform":
        return rng.uniform(-1, 1, shape).astype("float32")
    return rng.standard_normal(shape).astype("float32")


def latent_points(info, n, rng):
    return noise(info.get("noise", "normal"), (n, info["latent_dim"]), rng)


def infogan_input(noise_values, codes, n_cat, cont_codes):
    """InfoGAN's generator input, the one place it is built: noise, the categorical code's values
    one-hot, and the continuous codes."""
    return np.hstack((noise_values, np.eye(n_cat, dtype="float32")[codes], cont_codes)).astype("float32")


def unconditional_inputs(info, n, rng):
    return latent_points(info, n, rng), np.zeros(n, "int64")


def conditional_inputs(info, n, rng):
    """Latent points and labels 0, 1, ..., n_classes - 1, 0, 1, ...: every class as often."""
    asked = np.arange(n) % info["n_classes"]
    return [latent_points(info, n, rng), asked], asked


def infogan_inputs(info, n, rng):
    """Noise, the categorical code's values in turn, and continuous codes in [-1, 1]."""
    asked = np.arange(n) % info["n_cat"]
    cont = rng.uniform(-1, 1, (n, info["n_cont"])).astype("float32")
    return infogan_input(latent_points(info, n, rng), asked, info["n_cat"], cont), asked


def code_grid_inputs(info, n_cols=10, rng=np.random):
    """InfoGAN: one row per categorical value, the same n_cols latent points in every row."""
    n_cat = info["n_cat"]
    points = np.tile(latent_points(info, n_cols, rng), (n_cat, 1))
    return infogan_input(points, np.repeat(np.arange(n_cat), n_cols), n_cat, np.zeros((n_cat * n_cols, info["n_cont"])))


def sweep_grid_inputs(info, code, rng=np.random):
    """InfoGAN: one row per categorical value; along each row continuous code `code` goes from -2 to 2."""
    inputs = code_grid_inputs(info, len(SWEEP), rng)
    inputs[:, info["latent_dim"] + info["n_cat"] + code] = np.tile(SWEEP, info["n_cat"])
    return inputs
