"""run.py: runs the Python tests for ctest (tests/CMakeLists.txt). Exits 77 (ctest's skip) with a
`dm-skipped:` line when numpy or pytest is missing; after pytest, prints one `dm-skipped:` line per
skipped test (what `make test` lists after ctest's summary). Arguments go to pytest."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

missing = []
for mod in ("numpy", "pytest"):
    try:
        __import__(mod)
    except ImportError:
        missing.append(mod)
if missing:
    print("dm-skipped: pytest: %s not installed for %s (Debian: apt-get install %s)"
          % (" and ".join(missing), sys.executable, " ".join("python3-" + m for m in missing)))
    sys.exit(77)

import pytest  # noqa: E402


class SkipLister:
    def __init__(self):
        self.skipped = []

    def pytest_runtest_logreport(self, report):
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            self.skipped.append((report.nodeid, reason.replace("Skipped: ", "")))


lister = SkipLister()
rc = pytest.main(["-q", "-p", "no:cacheprovider", HERE] + sys.argv[1:], plugins=[lister])
for nodeid, reason in lister.skipped:
    print("dm-skipped: %s: %s" % (nodeid, reason))
sys.exit(int(rc))
