import subprocess
import sys


def test_quaterion_imports_on_current_torch():
    code = (
        "import torch.utils.data.dataloader as d\n"
        "assert not hasattr(d, 'T_co'), 'torch defines T_co again: the patch may be dropped'\n"
        "from training.compat import import_quaterion\n"
        "q = import_quaterion()\n"
        "from quaterion import TrainableModel\n"
        "print(q.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "quaterion"


def test_plain_quaterion_import_fails_without_the_patch():
    result = subprocess.run([sys.executable, "-c", "import quaterion"], capture_output=True, text=True)
    assert result.returncode != 0
    assert "T_co" in result.stderr
