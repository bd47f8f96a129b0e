"""Measure a generator saved by these scripts: a table on screen and the figures as JSON.

    python scripts/evaluate.py outputs/cgan_fashion/generator.h5             # FID, KID, class agreement
    python scripts/evaluate.py outputs/infogan_mnist/generator_best.h5       # ... code accuracy
    python scripts/evaluate.py outputs/infogan_mnist/q_model.h5              # Q on the real test digits
    python scripts/evaluate.py outputs/dcgan_cifar10/generator.h5 --inception  # + Inception FID
    python scripts/evaluate.py outputs/pix2pix_sat2map/generator.h5          # L1, PSNR, SSIM

FID and KID are measured in a judge's feature space (gan_metrics.py) between --samples generated
images and the real test split, beside the same figures for real training images (the floor)
and uniform noise (the ceiling). Both depend on the sample count, which is printed with them.
Pix2Pix is measured on the validation pairs, beside the identity baseline (the source image
itself as the translation). The Fashion-MNIST and MNIST judges ship with the project (judges/);
any other is trained on first use and cached once per machine (--judge-dir).
"""
import gan_backend  # noqa: F401  first: it configures TensorFlow before Keras loads it

import json
from pathlib import Path

import numpy as np

import gan_cli as cli
import gan_data as gd
import gan_judges as gj
import gan_kinds as gk
import gan_metrics as gm
import gan_utils as gu
from gan_files import UserError, write_text

MEASURES = {"fid": "FID", "kid": "KID", "class_kl": "class coverage (KL from uniform, nats; 0: all even)",
            "class_agreement": "class agreement", "code_accuracy": "code accuracy",
            "l1": "L1 ([-1, 1] pixels)", "psnr": f"PSNR (dB; identical = {gm.PSNR_CAP:.0f})", "ssim": "SSIM"}
SHARES = {"class_agreement", "code_accuracy"}


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("generator", help="a generator .h5 saved by one of the training scripts, or a run's "
                                          "output folder (its generator_best.h5, else generator.h5)")
    parser.add_argument("--samples", type=cli.int_up_to(gm.MAX_SAMPLES), default=gm.FULL_SAMPLES,
                        help=f"generated images, at most {gm.MAX_SAMPLES:,} (Pix2Pix: validation pairs, at most all "
                             "of them)")
    parser.add_argument("--data-dir", default=None, help="a folder holding the dataset files")
    parser.add_argument("--judge-dir", "--judges-dir", dest="judge_dir", default=None,
                        help="where judges for datasets without a shipped one are cached, trained there "
                             "when missing (default: judges/ under KERAS_HOME or ~/.keras)")
    parser.add_argument("--json", default=None, help="where to write the figures (default: beside the generator)")
    parser.add_argument("--inception", action="store_true",
                        help="CIFAR-10: also the standard FID in InceptionV3's features (downloads ImageNet weights)")
    parser.add_argument("--seed", type=cli.seed, default=0, help="seed of the generated samples")
    return parser.parse_args(argv)


def cell(key, value):
    if value is None:
        return ""
    return f"{value:.1%}" if key in SHARES else f"{value:.4g}"


def table(results, references, count):
    """Markdown: one row per measure, the generator and each reference in columns."""
    keys = [k for k in MEASURES if k in results]
    lines = [f"| measure ({count}) | generator | " + " | ".join(references) + " |",
             "|---|---|" + "---|" * len(references)]
    for key in keys:
        refs = [cell(key, ref.get(key)) for ref in references.values()]
        lines.append(f"| {MEASURES[key]} | {cell(key, results[key])} | " + " | ".join(refs) + " |")
    return "\n".join(lines)


def inception_fid(evaluator, g_model, n, seed):
    """The standard FID (InceptionV3 pool features, images resized to 299x299), or None with the
    reason printed when Keras cannot load the ImageNet weights."""
    try:
        inception = gj.load_inception(evaluator.test_images.shape[1:])
    except Exception as error:  # no network, a proxy, a damaged cache: all end the same
        print(f"Inception FID: not measured: Keras could not load the ImageNet InceptionV3 weights "
              f"({type(error).__name__}: {str(error).splitlines()[0][:120]})")
        return None
    inputs, _ = evaluator.inputs(evaluator.info, n, np.random.default_rng(seed))
    generated = g_model.predict(inputs, batch_size=500, verbose=0)
    fid = gm.frechet_distance(inception.predict(generated, batch_size=100, verbose=0),
                              inception.predict(evaluator.test_images, batch_size=100, verbose=0))
    print(f"Inception FID ({n} samples against {len(evaluator.test_images)} real test images): {fid:.4g}")
    return fid


def generator_in(path):
    """The generator a path names: the file itself, or in a run's output folder its best generator,
    else its final one (said on one line)."""
    path = Path(path)
    if not path.is_dir():
        return path
    for name in ("generator_best.h5", "generator.h5"):
        if (path / name).is_file():
            print(f"measuring {path / name}")
            return path / name
    raise UserError(f"{path} holds no generator_best.h5 or generator.h5 (is the run still before its first summary?)")


def evaluate_q(args, info):
    """InfoGAN's Q model as a classifier of the real test digits: the paper's measure."""
    q_model, _ = gu.load_generator(args.generator)
    images, labels = gd.load_dataset("mnist", args.data_dir, "test")
    accuracy = gm.q_accuracy(q_model, gd.scale_images(images), labels, info["n_cat"])
    print(f"{args.generator}: InfoGAN's Q, epoch {info.get('epoch')}: its code matched one-to-one to the digits "
          f"classifies {accuracy:.1%} of the {len(images):,} real test digits")
    out = Path(args.json) if args.json else Path(args.generator).with_name(f"{Path(args.generator).stem}_metrics.json")
    write_text(out, json.dumps(dict(q_model=str(args.generator), info=info, q_accuracy=accuracy,
                                    test_images=len(images)), indent=2))
    print(f"wrote {out}")


def main(argv=None):
    args = parse_args(argv)
    cli.check_folders(data_dir=args.data_dir, judge_dir=args.judge_dir)
    args.generator = generator_in(args.generator)
    info = gu.read_generator_info(args.generator)
    if info.get("kind") == "infogan_q":
        return evaluate_q(args, info)
    gk.kind_of(info, args.generator)
    if args.inception and info.get("image_shape", [0])[-1] != 3:
        raise UserError("--inception measures colour images (the CIFAR-10 generator); "
                           f"this generator draws {info.get('image_shape')}")
    g_model, _ = gu.load_generator(args.generator)
    pairs = gd.load_maps(args.data_dir, "val", info["direction"]) if "direction" in info else None
    if "direction" in info and pairs is None:
        raise UserError("no validation pairs (maps/val/) to measure a Pix2Pix generator on")
    evaluator = gm.evaluator_for(info, args.judge_dir, args.data_dir, pairs)
    results = evaluator(g_model, args.samples, args.seed)
    count = f"{results['pairs']} validation pairs" if "pairs" in results else \
        f"{results['samples']} samples vs {len(evaluator.test_images)} real test images"
    references = evaluator.references(results.get("samples", args.samples), args.seed)
    report = dict(generator=str(args.generator), info=info, results=results, references=references)
    judge = getattr(evaluator, "judge_info", None)
    if judge:
        report["judge"] = judge
        print(f"measured by {gj.describe(judge)}")
    print(f"{args.generator}: {info['kind']}, epoch {info.get('epoch')}")
    print(table(results, references, count))
    if "per_class" in results:
        print("class agreement per class: " + ", ".join(f"{name} {share:.0%}" for name, share in results["per_class"].items()))
    if "class_shares" in results:
        print("classes drawn (the judge's reading): " + ", ".join(f"{name} {share:.0%}" for name, share
                                                                  in results["class_shares"].items()))
    if "code_digits" in results:
        print("the judge's digits for each code value:\n  " + "\n  ".join(
            gm.code_digits(results["code_digits"], gd.DATASETS[info["dataset"]]["classes"])))
        results["code_digits"] = results["code_digits"].astype(int).tolist()
    if args.inception:
        report["inception_fid"] = inception_fid(evaluator, g_model, args.samples, args.seed)
    out = Path(args.json) if args.json else Path(args.generator).with_name(f"{Path(args.generator).stem}_metrics.json")
    write_text(out, json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    cli.run_main(main)
