"""Draw images from a generator saved by these scripts, given only its .h5 file.

    python scripts/sample.py outputs/cgan_fashion/generator.h5                 # a 10x10 grid
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
flag is needed. --n sets the grid size or the number of interpolation steps; --out the PNG (or
.jpg);
--save-array also writes the images as a .npy array in [-1, 1].
"""
import gan_backend  # noqa: F401  first: it configures TensorFlow before Keras loads it

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

import gan_cli as cli
import gan_data as gd
import gan_files as gf
import gan_kinds as gk
import gan_utils as gu


MAX_N = 100  # a 100x100 grid is 10,000 images, 2800x2800 pixels at 28x28
MANY_IMAGES = 1000  # above this, generating shows a progress bar


def parse_label(text, info):
    """A class number or a class name (any case) -> the class number."""
    names = info["class_names"]
    by_name = {name.lower(): k for k, name in enumerate(names)}
    if text.lower() in by_name:
        return by_name[text.lower()]
    try:
        label = int(text)
    except ValueError:
        raise gf.UserError(f"unknown class {text!r}; this generator knows {', '.join(names)}")
    if not 0 <= label < info["n_classes"]:
        raise gf.UserError(f"label {label} is out of range: this generator has classes 0-{info['n_classes'] - 1}")
    return label


def requested_modes(args):
    """The sample.py modes the flags ask for (gan_kinds.MODE_FLAGS)."""
    asked = dict(label=args.label is not None, per_class=args.per_class, code=args.code is not None,
                 sweep=args.sweep is not None, point=args.point is not None, interpolate=args.interpolate,
                 image=args.image is not None, pair=args.pair)
    return [mode for mode, on in asked.items() if on]


def check_modes(args, info, kind):
    """Every flag the generator's kind takes (gan_kinds.KINDS), and --image for a Pix2Pix one."""
    for mode in requested_modes(args):
        if mode not in kind.modes:
            raise gf.UserError(f"{gk.MODE_FLAGS[mode]} is for {gk.MODE_KINDS[mode]} generators; "
                               f"this one is {info['kind']}")
    if "image" in kind.modes and args.image is None:
        raise gf.UserError("a Pix2Pix generator translates images: give --image FILE or FOLDER")


def latent_inputs(args, info):
    """(latent points, grid columns, title) for a point, an interpolation, or an n x n grid."""
    n, latent_dim = args.n, info["latent_dim"]
    if args.point is not None:
        return np.full((1, latent_dim), args.point, dtype="float32"), 1, f"point {args.point}"
    if args.interpolate:
        start, end = gk.latent_points(info, 2, np.random)
        ratios = np.linspace(0, 1, n, dtype="float32")[:, None]
        return (1 - ratios) * start + ratios * end, n, "interpolation"
    return gk.latent_points(info, n * n, np.random), n, f"{n}x{n} grid"


def draw_infogan(args, info):
    """InfoGAN: rows per code value (default), one code value (--code), or a sweep (--sweep)."""
    latent_dim, n_cat, n_cont, n = info["latent_dim"], info["n_cat"], info["n_cont"], args.n
    if args.code is not None and not 0 <= args.code < n_cat:
        raise gf.UserError(f"code {args.code} is out of range: this generator has codes 0-{n_cat - 1}")
    if args.sweep is not None:
        if not 0 <= args.sweep < n_cont:
            raise gf.UserError(f"no continuous code {args.sweep}: this generator has {n_cont}")
        inputs = gk.sweep_grid_inputs(latent_dim, n_cat, n_cont, args.sweep, prior=info.get("noise", "normal"))
        return inputs, len(gk.SWEEP), None, f"continuous code {args.sweep} from -2 to 2, a row per value"
    if args.code is None and args.point is None and not args.interpolate:
        return (gk.code_grid_inputs(latent_dim, n_cat, n_cont, n, prior=info.get("noise", "normal")), n, None,
                "one row per code value")
    code = args.code or 0
    noise, n_cols, title = latent_inputs(args, info)
    one_hot = np.tile(np.eye(n_cat)[code], (len(noise), 1))
    inputs = np.hstack((noise, one_hot, np.zeros((len(noise), n_cont)))).astype("float32")
    return inputs, n_cols, None, f"{title}, code {code}"


def draw(args, info):
    """(generator inputs, number of grid columns, column titles, title) for the chosen mode."""
    if "code" in gk.KINDS[info["kind"]].modes:
        return draw_infogan(args, info)
    latent_dim, n, n_classes = info["latent_dim"], args.n, info["n_classes"]
    if args.per_class:
        z_input = gu.generate_latent_points(latent_dim, n * n_classes)
        labels = np.tile(np.arange(n_classes), n)
        titles = info["class_names"] if n_classes <= 10 else None
        return [z_input, labels], n_classes, titles, "one column per class"
    z_input, n_cols, title = latent_inputs(args, info)
    if not n_classes:
        return z_input, n_cols, None, title
    label = parse_label(args.label, info) if args.label is not None else None
    if label is None and args.point is None and not args.interpolate:
        labels, title = np.random.randint(0, n_classes, len(z_input)), f"{title}, random classes"
    else:
        label = np.random.randint(n_classes) if label is None else label
        labels, title = np.full(len(z_input), label), f"{title}, class {info['class_names'][label]}"
    return [z_input, labels], n_cols, None, title


def read_image(path, size):
    """An image file as RGB in [-1, 1], resized to size (width, height); one line if unreadable."""
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB").resize(size, Image.BILINEAR), dtype="float32")
    except (UnidentifiedImageError, OSError) as error:
        raise gf.UserError(f"{path} is not a readable image ({type(error).__name__})")
    return pixels / 127.5 - 1


def translate(args, info, g_model):
    """Pix2Pix: translate one image, every image in a folder, or the source half of a dataset pair."""
    source = Path(args.image)
    if args.pair:
        width, height = Image.open(source).size if source.is_file() else (0, 0)
        if width != 2 * height:
            raise gf.UserError(f"{source}: --pair needs a dataset pair twice as wide as high "
                               f"(1200x600 in maps), found {width}x{height}")
        pixels = read_image(source, (512, 256))
        halves = [pixels[:, :256], pixels[:, 256:]]
        src, tar = halves if info["direction"] == "sat2map" else halves[::-1]
        generated = g_model.predict_on_batch(src[None])[0]
        out = Path(args.out) if args.out else Path(args.generator).with_name(f"{source.stem}_pair.png")
        gu.save_grid(np.stack([src, generated, tar]), out, 3, col_titles=["source", "generated", "target"],
                     title=info["direction"])
        print(f"wrote {out}")
        return generated[None]
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.is_file())
        out_dir = Path(args.out) if args.out else Path(args.generator).with_name("translated")
        results = []
        for path in files:
            try:
                image = read_image(path, (256, 256))
            except gf.UserError as error:
                print(f"warning: skipped {error}")
                continue
            results.append(g_model.predict_on_batch(image[None])[0])
            gu.save_image(results[-1], out_dir / f"{path.stem}.png")
        print(f"wrote {len(results)} translations to {out_dir} ({len(files) - len(results)} skipped)")
        return np.stack(results) if results else np.zeros((0, *gd.MAPS_IMAGE_SHAPE))
    if not source.is_file():
        raise gf.UserError(f"no such file or folder: {source}")
    generated = g_model.predict_on_batch(read_image(source, (256, 256))[None])
    out = Path(args.out) if args.out else Path(args.generator).with_name(f"{source.stem}_{info['direction']}.png")
    gu.save_image(generated[0], out)
    print(f"wrote {out}")
    return generated


def save_array(path, images):
    """The images as a .npy array in [-1, 1], the name given the .npy NumPy adds."""
    path = Path(path if str(path).endswith(".npy") else f"{path}.npy")
    gf.atomic_write(path, lambda tmp: np.save(tmp, images))
    print(f"wrote {path} {images.shape}")


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("generator", help="a generator .h5 saved by one of the training scripts")
    parser.add_argument("--n", type=cli.int_up_to(MAX_N), default=10,
                        help=f"grid side (n x n images), rows per class, or interpolation steps; at most {MAX_N}")
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
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.seed is not None:
        np.random.seed(args.seed)

    info = gu.read_generator_info(args.generator)
    kind = gk.kind_of(info, args.generator)
    check_modes(args, info, kind)
    if "image" in kind.modes:
        g_model, _ = gu.load_generator(args.generator)
        images = translate(args, info, gu.in_training_mode(g_model))  # as trained: see pix2pix_maps.py
        if args.save_array:
            save_array(args.save_array, images)
        return
    inputs, n_cols, titles, title = draw(args, info)
    mode_name = "per_class" if args.per_class else "point" if args.point is not None else \
        "interpolate" if args.interpolate else "sweep" if args.sweep is not None else "grid"
    out = Path(args.out) if args.out else Path(args.generator).with_name(f"sample_{mode_name}.png")
    gf.image_format(out)
    g_model, _ = gu.load_generator(args.generator)
    n_images = len(inputs[0] if isinstance(inputs, list) else inputs)
    if n_images > MANY_IMAGES:
        print(f"generating {n_images:,} images, then drawing them into {out}")
    images = np.asarray(g_model.predict(inputs, batch_size=256, verbose=int(n_images > MANY_IMAGES)))
    gu.save_grid(images, out, n_cols, col_titles=titles, title=title)
    print(f"wrote {out} ({len(images)} images, {title})")
    if args.save_array:
        save_array(args.save_array, images)


if __name__ == "__main__":
    cli.run_main(main)
