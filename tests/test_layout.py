"""The code's layout as the documents describe it: tools load only what they use."""
import subprocess
import sys

import pytest

from conftest import REPO

TRAINING_SCRIPTS = ["gan_fashion", "cgan_fashion", "dcgan_cifar10", "acgan_fashion", "infogan_mnist", "pix2pix_maps"]

LOADED = """
import sys

import pytest
sys.path.insert(0, "scripts")
import pytest
import {module}
{call}
print("loaded:", *sorted(m for m in sys.modules if m.split(".")[0] in {names!r}))
"""


def modules_loaded(module, names, call=""):
    result = subprocess.run([sys.executable, "-c", LOADED.format(module=module, call=call, names=names)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.splitlines()[-1].split()[1:]


def test_report_rebuilds_a_page_without_loading_keras_or_tensorflow(tmp_path):
    (tmp_path / "losses.csv").write_text("epoch,step,d,g\n1,1,0.7,0.7\n1,2,0.6,0.8\n")
    loaded = modules_loaded("report", ["keras", "tensorflow", "jax", "torch"], f"report.main([{str(tmp_path)!r}])")
    assert loaded == [] and (tmp_path / "report.html").is_file()


@pytest.mark.slow
def test_sample_and_evaluate_import_no_training_script():
    for tool in ("sample", "evaluate"):
        assert modules_loaded(tool, TRAINING_SCRIPTS) == [], tool
