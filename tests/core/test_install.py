"""The wheel carries the price tables, and the installed package finds them outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_pricing_and_installed_package_uses_it(tmp_path):
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True, timeout=300)
    wheel = next(out.glob("tokentrail-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "tokentrail/_pricing_tables/openai.yaml" in names
    assert "tokentrail/_pricing_tables/anthropic.yaml" in names

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    code = ("import tokentrail, tokentrail._pricing as p\n"
            "print(tokentrail.__file__)\nprint(p.builtin_dir())\n"
            "print(tokentrail.price_table().resolve('gpt-4o-2024-08-06')[0].key)\n")
    env = dict(os.environ, PYTHONPATH=str(site))
    res = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    mod_file, tables_dir, key = res.stdout.split("\n")[:3]
    assert mod_file.startswith(str(site)) and tables_dir.startswith(str(site))
    assert key == "gpt-4o"
