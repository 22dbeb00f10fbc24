"""pip install . : the qs4dsim module, the qs4d trainer package and the presets as one wheel.

Offline, with Debian's setuptools, wheel and pybind11 (no build isolation):

    pip install --no-build-isolation --no-deps .

The extension is the one CMake builds (build/bindings/qs4dsim*.so; QS4D_BUILD_DIR names another
build folder): when it is missing, this runs `cmake -S . -B build` and builds the target
qs4dsim_python first. The presets (data/chips, data/devices, data/energy) go beside the module as
qs4dsim_data/, where the module finds them from any directory (QS4D_DATA_DIR still overrides).
Datasets and checkpoints are not part of the wheel.
"""

import glob
import os
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("QS4D_BUILD_DIR", os.path.join(ROOT, "build"))


def built_module():
    found = glob.glob(os.path.join(BUILD, "bindings", "qs4dsim*.so"))
    return found[0] if found else None


class CMakeModule(build_ext):
    """Copies the module CMake built (building it first when there is none)."""

    def build_extension(self, ext):
        if built_module() is None:
            subprocess.run(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release"], check=True)
            subprocess.run(["cmake", "--build", BUILD, "--target", "qs4dsim_python", "-j", str(os.cpu_count() or 1)],
                           check=True)
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built_module(), target)


class WithPresets(build_py):
    """The package, plus the presets as qs4dsim_data/ beside the module."""

    def run(self):
        super().run()
        for kind in ("chips", "devices", "energy"):
            dest = os.path.join(self.build_lib, "qs4dsim_data", kind)
            os.makedirs(dest, exist_ok=True)
            for f in glob.glob(os.path.join(ROOT, "data", kind, "*.json")):
                shutil.copy(f, dest)


setup(
    name="qs4dsim",
    version="0.1.0",
    description="QS4D-Sim: quantized S4D models on simulated memristor crossbars",
    packages=["qs4d"],
    package_dir={"qs4d": "python/qs4d"},
    ext_modules=[Extension("qs4dsim", sources=[])],
    cmdclass={"build_ext": CMakeModule, "build_py": WithPresets},
    options={"build": {"build_base": os.path.relpath(os.path.join(BUILD, "wheel"), ROOT)},
             "egg_info": {"egg_base": os.path.relpath(BUILD, ROOT)}},
    python_requires=">=3.9",
    zip_safe=False,
)
