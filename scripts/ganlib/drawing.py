"""What sample.py draws for each kind of generator, from its flags: (inputs, grid columns, column
titles, title, file name) for a latent-vector kind, drawn as one grid; Pix2Pix's translations of
an image, a folder of them or a dataset pair. The kinds' registry (kinds.py) names these.

NumPy only until it draws (Matplotlib, Pillow)."""
from pathlib import Path

import numpy as np

from ganlib.atomic_files import UserError
from ganlib.cli import count
from ganlib.inputs import SWEEP, code_grid_inputs, infogan_input, latent_points, sweep_grid_inputs

PAIR_SIZE = (256, 256)  # Pix2Pix's images, width x height


def parse_label(text, info):
    """A class number or a class name (any case) -> the class number."""
    names = info["class_names"]
    by_name = {name.lower(): k for k, name in enumerate(names)}
    if text.lower() in by_name:
        return by_name[text.lower()]
    try:
        label = int(text)
    except ValueError:
        raise UserError(f"unknown class {text!r}; this generator knows {', '.join(names)}")
    if not 0 <= label < info["n_classes"]:
        raise UserError(f"label {label} is out of range: this generator has classes 0-{info['n_classes'] - 1}")
    return label


def latent_drawing(args, info, rng):
    """(latent points, grid columns, title, file name) for a point, an interpolation, or an n x n grid."""
    n, latent_dim = args.n, info["latent_dim"]
    if args.point is not None:
        return np.full((1, latent_dim), args.point, dtype="float32"), 1, f"point {args.point}", "point"
    if args.interpolate:
        start, end = latent_points(info, 2, rng)
        ratios = np.linspace(0, 1, n, dtype="float32")[:, None]
        return (1 - ratios) * start + ratios * end, n, "interpolation", "interpolate"
    return latent_points(info, n * n, rng), n, f"{n}x{n} grid", "grid"


def draw_unconditional(args, info, rng):
    points, n_cols, title, name = latent_drawing(args, info, rng)
    return points, n_cols, None, title, name


def draw_conditional(args, info, rng):
    n, n_classes = args.n, info["n_classes"]
    if args.per_class:
        points = latent_points(info, n * n_classes, rng)
        titles = info["class_names"] if n_classes <= 10 else None
        return [points, np.tile(np.arange(n_classes), n)], n_classes, titles, "one column per class", "per_class"
    points, n_cols, title, name = latent_drawing(args, info, rng)
    label = parse_label(args.label, info) if args.label is not None else None
    if label is None and args.point is None and not args.interpolate:
        labels, title = rng.randint(0, n_classes, len(points)), f"{title}, random classes"
    else:
        label = rng.randint(n_classes) if label is None else label
        labels, title = np.full(len(points), label), f"{title}, class {info['class_names'][label]}"
    return [points, labels], n_cols, None, title, name


def draw_infogan(args, info, rng):
    """One row per code value (default), one code value (--code), or a continuous code's sweep."""
    n_cat, n_cont = info["n_cat"], info["n_cont"]
    if args.code is not None and not 0 <= args.code < n_cat:
        raise UserError(f"code {args.code} is out of range: this generator has codes 0-{n_cat - 1}")
    if args.sweep is not None:
        if not 0 <= args.sweep < n_cont:
            raise UserError(f"no continuous code {args.sweep}: this generator has {n_cont}")
        return (sweep_grid_inputs(info, args.sweep, rng), len(SWEEP), None,
                f"continuous code {args.sweep} from -2 to 2, a row per value", "sweep")
    if args.code is None and args.point is None and not args.interpolate:
        return code_grid_inputs(info, args.n, rng), args.n, None, "one row per code value", "grid"
    code = args.code or 0
    points, n_cols, title, name = latent_drawing(args, info, rng)
    inputs = infogan_input(points, np.full(len(points), code), n_cat, np.zeros((len(points), n_cont)))
    return inputs, n_cols, None, f"{title}, code {code}", name


def sample_latent(draw):
    """sample.py for a latent-vector kind: its drawing, through the generator, as one grid."""
    def sample(args, info, predict, rng, generator_path):
        from ganlib import atomic_files, images  # Matplotlib: only when drawing
        inputs, n_cols, titles, title, name = draw(args, info, rng)
        out = Path(args.out) if args.out else Path(generator_path).with_name(f"sample_{name}.png")
        atomic_files.image_format(out)
        drawn = predict(inputs)
        images.save_grid(drawn, out, n_cols, col_titles=titles, title=title)
        print(f"wrote {out} ({count(len(drawn), 'image')}, {title})")
        return drawn
    return sample


def translate(args, info, predict, rng, generator_path):
    """sample.py for Pix2Pix: translate one image, every image in a folder, or the source half of a
    dataset pair, each alone, as trained."""
    from ganlib import images  # Matplotlib and Pillow: only when drawing
    if args.image is None:
        raise UserError("a Pix2Pix generator translates images: give --image FILE or FOLDER")
    source = Path(args.image)
    if args.pair:
        width, height = images.image_size(source) if source.is_file() else (0, 0)
        if width != 2 * height:
            raise UserError(f"{source}: --pair needs a dataset pair twice as wide as high "
                            f"(1200x600 in maps), found {width}x{height}")
        pixels = images.read_image(source, (2 * PAIR_SIZE[0], PAIR_SIZE[1]))
        halves = [pixels[:, :PAIR_SIZE[0]], pixels[:, PAIR_SIZE[0]:]]
        src, tar = halves if info["direction"] == "sat2map" else halves[::-1]
        generated = predict(src[None])[0]
        out = Path(args.out) if args.out else Path(generator_path).with_name(f"{source.stem}_pair.png")
        images.save_grid(np.stack([src, generated, tar]), out, 3, col_titles=["source", "generated", "target"],
                         title=info["direction"])
        print(f"wrote {out}")
        return generated[None]
    if source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.is_file())
        out_dir = Path(args.out) if args.out else Path(generator_path).with_name("translated")
        results = []
        for path in paths:
            try:
                image = images.read_image(path, PAIR_SIZE)
            except UserError as error:
                print(f"warning: skipped {error}")
                continue
            results.append(predict(image[None])[0])
            images.save_image(results[-1], out_dir / f"{path.stem}.png")
        print(f"wrote {count(len(results), 'translation')} to {out_dir} ({len(paths) - len(results)} skipped)")
        return np.stack(results) if results else np.zeros((0, *PAIR_SIZE[::-1], 3), "float32")
    if not source.is_file():
        raise UserError(f"no such file or folder: {source}")
    generated = predict(images.read_image(source, PAIR_SIZE)[None])
    out = Path(args.out) if args.out else Path(generator_path).with_name(f"{source.stem}_{info['direction']}.png")
    images.save_image(generated[0], out)
    print(f"wrote {out}")
    return generated
