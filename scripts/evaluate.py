"""Measure a generator saved by these scripts: a table on screen and the figures as JSON.

    python scripts/evaluate.py outputs/cgan_fashion                          # the run's best generator
    python scripts/evaluate.py outputs/cgan_fashion/generator.h5             # FID, KID, class agreement
    python scripts/evaluate.py outputs/infogan_mnist/generator_best.h5       # ... code accuracy
    python scripts/evaluate.py outputs/infogan_mnist/q_model.h5              # Q on the real test digits
    python scripts/evaluate.py outputs/dcgan_cifar10/generator.h5 --inception  # + Inception FID
    python scripts/evaluate.py outputs/pix2pix_sat2map/generator.h5          # L1, PSNR, SSIM

What a file is measured with is its kind's (scripts/ganlib/kinds.py). FID, KID, precision and
recall, density and coverage are measured in a judge's feature space (ganlib/metrics_log.py) between
--samples generated images and the real test split (class by class for the conditional GANs and
InfoGAN, with intra-FID, the mean of the classes' FIDs), beside the same figures for as many real
training images (the best a generator can do) and for uniform noise (the worst); all depend on
the sample count, which is printed with them. Pix2Pix is measured on
the validation pairs, beside the identity baseline (the source image itself as the
translation). The Fashion-MNIST and MNIST judges ship with the project (judges/); any other is
trained on first use and cached once per machine (--judge-dir). Flags and files are checked
before Keras loads; the measuring shows a progress bar.
"""
import json
from pathlib import Path

from ganlib import cli, kinds as gk, measures, settings as gs
from ganlib.atomic_files import UserError, write_text
from ganlib.saved import generator_in, read_generator_info, recorded_data_dir

MEASURES = {"fid": "FID", "kid": "KID (squared MMD in the judge's features, not x1000)", "class_kl": "class coverage (KL from uniform, nats; 0: all even)",
            "class_agreement": "class agreement", "code_accuracy": "code accuracy",
            "precision": "precision (k=3; mean over classes where there are classes)",
            "recall": "recall (k=3; mean over classes where there are classes)",
            "density": "density (k=5)", "coverage": "coverage (k=5)", "intra_fid": "intra-FID",
            "both_axes": "both axes (harmonic mean of agreement and recall, each over its ceiling)",
            "q_accuracy": "Q's accuracy", "q_entropy": "spread of Q's reading (nats)",
            "q_largest_share": "largest share of one value", "q_information": "Q's information (nats)",
            "l1": "L1 ([-1, 1] pixels)", "psnr": f"PSNR (dB; identical = {measures.PSNR_CAP:.0f})", "ssim": "SSIM"}
SHARES = {"class_agreement", "code_accuracy", "q_accuracy", "q_largest_share"}
FULL_SAMPLES = 10000


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("generator", help="a generator .h5 saved by one of the training scripts (or its Q model), "
                                          "or a run's output folder (its generator_best.h5, else generator.h5)")
    parser.add_argument("--samples", type=cli.int_up_to(gs.MAX_SAMPLES), default=FULL_SAMPLES,
                        help=f"generated images, at most {gs.MAX_SAMPLES:,} (Pix2Pix: validation pairs, at most "
                             "all of them)")
    parser.add_argument("--data-dir", default=None,
                        help="a folder holding the dataset files (default: the one the run recorded in run.json, "
                             "else Keras' cache)")
    parser.add_argument("--judge-dir", "--judges-dir", dest="judge_dir", default=None,
                        help="where judges for datasets without a shipped one are cached, trained there "
                             "when missing (default: judges/ under KERAS_HOME or ~/.keras)")
    parser.add_argument("--json", default=None, help="where to write the figures (default: beside the generator)")
    parser.add_argument("--inception", action="store_true",
                        help="CIFAR-10: also the standard FID in InceptionV3's features (downloads ImageNet weights)")
    parser.add_argument("--cas", action="store_true",
                        help="conditional generators: also the Classification Accuracy Score, a classifier of the "
                             "judge's kind trained on generated images only and tested on the real test images "
                             "(about 17 min on a 2-core CPU at the default --cas-images)")
    parser.add_argument("--cas-images", type=cli.int_up_to(gs.MAX_SAMPLES), default=None,
                        help="generated images the --cas classifier trains on, as many of each class "
                             "(default: as many as the real training split)")
    parser.add_argument("--seed", type=cli.seed, default=0, help="seed of the generated samples")
    return parser.parse_args(argv)


def cell(key, value):
    if value is None:
        return ""
    return f"{value:.1%}" if key in SHARES else f"{value:.4g}"


def table(results, references, count):
    """Markdown: one row per measure, the generator and each reference in columns."""
    keys = [k for k in MEASURES if k in results]
    lines = [f"| measure ({count}) | this model | " + " | ".join(references) + " |",
             "|---|---|" + "---|" * len(references)]
    for key in keys:
        refs = [cell(key, ref.get(key)) for ref in references.values()]
        lines.append(f"| {MEASURES[key]} | {cell(key, results[key])} | " + " | ".join(refs) + " |")
    return "\n".join(lines)


def inception_fid(evaluator, g_model, n, seed):
    """The standard FID (InceptionV3 pool features, images resized to 299x299), or None with the
    reason printed when Keras cannot load the ImageNet weights."""
    import numpy as np
    from ganlib import judges as gj
    try:
        inception = gj.load_inception(evaluator.test_images.shape[1:])
    except Exception as error:  # no network, a proxy, a damaged cache: all end the same
        print(f"Inception FID: not measured: Keras could not load the ImageNet InceptionV3 weights "
              f"({type(error).__name__}: {str(error).splitlines()[0][:120]})")
        return None
    inputs, _ = evaluator.kind.inputs(evaluator.info, n, np.random.default_rng(seed))
    generated = g_model.predict(inputs, batch_size=500, verbose=cli.progress_verbosity())
    fid = measures.frechet_distance(inception.predict(generated, batch_size=100, verbose=cli.progress_verbosity()),
                                    inception.predict(evaluator.test_images, batch_size=100, verbose=cli.progress_verbosity()))
    print(f"Inception FID ({n} samples against {len(evaluator.test_images)} real test images): {fid:.4g}")
    return fid


def main(argv=None):
    args = parse_args(argv)
    path = generator_in(args.generator)
    recorded = None if args.data_dir else recorded_data_dir(path)
    if recorded is not None:
        args.data_dir = recorded
        print(f"data: {args.data_dir}, the folder the run was given (run.json); --data-dir reads another")
    cli.check_folders(data_dir=args.data_dir, judge_dir=args.judge_dir)
    info = read_generator_info(path)
    kind = gk.kind_of(info, path, generator=False)
    if (args.cas or args.cas_images) and kind.groups is not gk.asked_groups:
        raise UserError(f"--cas measures generators that take a class (cgan, acgan); this file is a {info['kind']} model")
    if args.cas_images and not args.cas:
        raise UserError("--cas-images sets the size of --cas's training set: give --cas too")
    if args.inception and (kind.measured_on != "samples" or info.get("image_shape", [0])[-1] != 3):
        raise UserError("--inception measures colour images (the CIFAR-10 generator); "
                        f"this file is a {info['kind']} model of {info.get('image_shape')}")
    out = Path(args.json) if args.json else path.with_name(f"{path.stem}_metrics.json")
    print(f"loading Keras, then {path} and what measures it", flush=True)
    from ganlib import tutorial as gu, judges as gj, metrics_log
    model, _ = gu.load_generator(path)
    evaluator = metrics_log.evaluator_for(info, args.judge_dir, args.data_dir, verbose=cli.progress_verbosity())
    results = evaluator(model, args.samples, args.seed)
    count = f"{results.get('samples', results.get('pairs', ''))} {evaluator.count}".strip()
    references = evaluator.references(results.get("samples", args.samples), args.seed)
    report = dict(generator=str(path), info=info, results=dict(metrics_log.figures_of(results), **results["details"]),
                  references=references)
    if getattr(evaluator, "judge_info", None):
        report["judge"] = evaluator.judge_info
        print(f"measured by {gj.describe(evaluator.judge_info)}")
    print(f"{path}: {info['kind']}, epoch {info.get('epoch')}")
    print(table(results, references, count))
    for line in results["lines"]:
        print(line)
    if args.inception:
        report["inception_fid"] = inception_fid(evaluator, model, args.samples, args.seed)
    if args.cas:
        cas, real = metrics_log.classification_accuracy_score(evaluator, model, args.cas_images, args.seed)
        report["cas"] = dict(generated=cas, real=real)
        print(f"Classification Accuracy Score: {cas:.1%} on the {len(evaluator.test_images):,} real test images, "
              f"trained on generated images; the same classifier trained on real images: {real:.1%}")
    write_text(out, json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    cli.run_main(main)
