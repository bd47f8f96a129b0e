"""Draw images from a generator saved by these scripts, given only its .h5 file or its run folder.

    python scripts/sample.py outputs/cgan_fashion                              # the run's best generator: a 10x10 grid
    python scripts/sample.py outputs/cgan_fashion/generator.h5 --label Dress   # one class (number or name)
    python scripts/sample.py outputs/cgan_fashion/generator.h5 --per-class     # one column per class
    python scripts/sample.py outputs/gan_fashion/generator.h5 --point 0.75     # latent vector filled with 0.75
    python scripts/sample.py outputs/gan_fashion/generator.h5 --interpolate    # one random point to another
    python scripts/sample.py outputs/infogan_mnist/generator.h5                # one row per code value
    python scripts/sample.py outputs/infogan_mnist/generator.h5 --code 3       # categorical code 3
    python scripts/sample.py outputs/infogan_mnist/generator.h5 --sweep 0      # continuous code 0, -2 to 2
    python scripts/sample.py outputs/pix2pix_sat2map/generator.h5 --image photo.jpg       # translate an image
    python scripts/sample.py outputs/pix2pix_sat2map/generator.h5 --image photos/         # ... or a folder
    python scripts/sample.py outputs/pix2pix_sat2map/generator.h5 --image 1.jpg --pair    # a 1200x600 pair

The generator file says what it is (kind, latent size, classes, image shape), so no other
flag is needed; what each kind can draw is in scripts/ganlib/kinds.py. --n sets the grid size or
the number of interpolation steps; --out the PNG (or .jpg); --save-array also writes the images
as a .npy array in [-1, 1]. Flags and files are checked before Keras loads.
"""
from pathlib import Path

import numpy as np

from ganlib import cli, atomic_files as gf, kinds as gk
from ganlib.saved import generator_in, read_generator_info

MAX_N = 100  # a 100x100 grid is 10,000 images, 2800x2800 pixels at 28x28
MANY_IMAGES = 1000  # above this, generating shows a progress bar


def requested_modes(args):
    """The sample.py modes the flags ask for (kinds.MODE_FLAGS)."""
    asked = dict(label=args.label is not None, per_class=args.per_class, code=args.code is not None,
                 sweep=args.sweep is not None, point=args.point is not None, interpolate=args.interpolate,
                 image=args.image is not None, pair=args.pair)
    return [mode for mode, on in asked.items() if on]


class Generator:
    """The generator's predictions, Keras loaded at the first of them: a drawing's flags and files
    are all checked before."""

    def __init__(self, path, kind):
        self.path, self.kind, self.model = path, kind, None

    def __call__(self, inputs):
        if self.model is None:
            from ganlib import tutorial as gu
            g_model, _ = gu.load_generator(self.path)
            self.model = gu.in_training_mode(g_model) if self.kind.in_training_mode else g_model
        n = len(inputs[0] if isinstance(inputs, list) else inputs)
        if n > MANY_IMAGES:
            print(f"generating {n:,} images, then drawing them")
        return np.asarray(self.model.predict(inputs, batch_size=256, verbose=int(n > MANY_IMAGES)))


def save_array(path, images):
    """The images as a .npy array in [-1, 1], the name given the .npy NumPy adds."""
    path = Path(path if str(path).endswith(".npy") else f"{path}.npy")
    gf.atomic_write(path, lambda tmp: np.save(tmp, images))
    print(f"wrote {path} {images.shape}")


DEFAULT_N = 10
# Flags that mean nothing together, and why: each pair is refused rather than one silently dropped
CONFLICTS = {("--per-class", "--label"): "--per-class draws every class in its own column; --label draws one",
             ("--sweep", "--code"): "a sweep draws one row per code value",
             ("--sweep", "--n"): "a sweep's rows are the code values and its columns the sweep's 10 steps",
             ("--point", "--n"): "--point draws the one image of that latent vector",
             ("--image", "--n"): "a translation draws one image for each one given",
             ("--pair", "--n"): "a translation draws one image for each one given"}


def conflicting_flags(args):
    given = {"--per-class": args.per_class, "--label": args.label is not None, "--sweep": args.sweep is not None,
             "--code": args.code is not None, "--n": args.n is not None, "--point": args.point is not None,
             "--image": args.image is not None, "--pair": args.pair}
    return [(a, b) for a, b in CONFLICTS if given[a] and given[b]]


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("generator", help="a generator .h5 saved by one of the training scripts, or a run's output "
                                          "folder (its generator_best.h5, else generator.h5)")
    parser.add_argument("--n", type=cli.int_up_to(MAX_N), default=None,
                        help=f"grid side (n x n images), rows per class, or interpolation steps; at most {MAX_N} "
                             "(default: 10)")
    parser.add_argument("--label", default=None, help="class number or name (conditional generators)")
    parser.add_argument("--code", type=cli.non_negative_int, default=None, help="categorical code value (InfoGAN)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--per-class", action="store_true", help="one column per class")
    mode.add_argument("--point", type=cli.finite_float, default=None, help="draw the latent vector filled with this value")
    mode.add_argument("--interpolate", action="store_true", help="walk from one random latent point to another")
    mode.add_argument("--sweep", type=cli.non_negative_int, default=None, help="sweep this continuous code from -2 to 2 (InfoGAN)")
    parser.add_argument("--image", default=None, help="Pix2Pix: an image file or a folder of them to translate")
    parser.add_argument("--pair", action="store_true", help="Pix2Pix: --image is a 1200x600 dataset pair")
    parser.add_argument("--out", default=None, help="image to write (.png, .jpg or .jpeg), or folder for "
                                                    "--image FOLDER (default: a PNG beside the generator)")
    parser.add_argument("--save-array", default=None, help="also save the images as this .npy file")
    parser.add_argument("--seed", type=cli.seed, default=None,
                        help="seed for the same images again (default: new ones each run)")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        hint = (f" (a class name with a space needs quotes: --label \"{args.label} {' '.join(unknown)}\")"
                if args.label is not None and not unknown[0].startswith("-") else "")
        parser.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")
    for flag, clashes in conflicting_flags(args):
        parser.error(f"{flag} cannot go with {clashes}: {CONFLICTS[flag, clashes]}")
    args.n = DEFAULT_N if args.n is None else args.n
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.seed is not None:
        np.random.seed(args.seed)
    path = generator_in(args.generator)
    info = read_generator_info(path)
    kind = gk.kind_of(info, path)
    gk.check_modes(requested_modes(args), info, kind)
    images = kind.sample(args, info, Generator(path, kind), np.random, path)
    if args.save_array:
        save_array(args.save_array, images)


if __name__ == "__main__":
    cli.run_main(main)
