"""Trains the judges that ship with the project: the small classifier CNNs (gan_judges.py) whose
features and classes measure the generated images, one per dataset. Each is trained once, here,
on the dataset's real training split, tested on its test split, and written to judges/ with its
accuracy, the fingerprint of the images it learnt from and the command that made it, in
judges/judges.json beside a SHA-256 of each file (checked whenever one is loaded).

    python scripts/train_judges.py fashion_mnist mnist --data-dir DIR

Took 11 to 12 minutes a dataset on a 2-core AMD EPYC with AVX-512 (8 epochs of 469 steps).
"""
import os
import platform
import shlex
import sys
from pathlib import Path

from ganlib import data as gd
from ganlib.cli import ArgumentParser, check_folders, run_main
from ganlib.atomic_files import REPO_DIR


def machine_description():
    """For example "2-core AMD EPYC (x86_64, AVX-512)"."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{os.cpu_count()}-core {platform.machine()}"
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 platform.machine())
    avx512 = "AVX-512" if " avx512f" in cpuinfo else "no AVX-512"
    return f"{os.cpu_count()}-core {model} ({platform.machine()}, {avx512})"


def train_shipped_judge(dataset, data_dir, judges_dir, seed):
    import ganlib.start  # noqa: F401  first: the backend started before Keras loads
    import keras
    from ganlib import judges as gj
    keras.utils.set_random_seed(seed)
    train = gd.load_dataset(dataset, data_dir, "train")
    test = gd.load_dataset(dataset, data_dir, "test")
    path = judges_dir / f"{dataset}.h5"
    _, info = gj.train_judge(dataset, path, train, test)
    gj.record_shipped_judge(judges_dir, dataset, path, dict(
        info, seed=seed, command="python scripts/train_judges.py " + shlex.join(sys.argv[1:]),
        machine=machine_description(),
        keras=keras.__version__, backend=keras.backend.backend()))


def main(argv=None):
    parser = ArgumentParser(__doc__)
    parser.add_argument("datasets", nargs="+", choices=sorted(gd.DATASETS))
    parser.add_argument("--data-dir", default=None, help="a folder holding the dataset files")
    parser.add_argument("--out", type=Path, default=REPO_DIR / "judges",
                        help="where the judges and judges.json are written")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    check_folders(data_dir=args.data_dir, out=args.out)
    for dataset in args.datasets:
        train_shipped_judge(dataset, args.data_dir, args.out, args.seed)


if __name__ == "__main__":
    run_main(main)
