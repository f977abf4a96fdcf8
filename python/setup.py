"""setup.py: only records, at install time, where the source tree's libdeepmotif.so is (if it has been
built), so an installed package finds it without DEEPMOTIF_LIB. Everything else is pyproject.toml."""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPy(build_py):
    def run(self):
        super().run()
        cands = [os.environ.get("DEEPMOTIF_LIB", "")]
        cands += [os.path.join(os.path.dirname(HERE), b, "libdeepmotif.so") for b in ("build", "build-release")]
        found = [os.path.abspath(c) for c in cands if c and os.path.exists(c)]
        out = os.path.join(self.build_lib, "deepmotif", "_build_info.py")
        with open(out, "w") as f:
            f.write("# written by setup.py at install time\nLIBRARY = %r\n" % (found[0] if found else None))


setup(cmdclass={"build_py": BuildPy})
