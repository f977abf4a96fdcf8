"""The ctypes structures of deepmotif/_lib.py against include/deepmotif.h: a C program compiled from
the header prints the size of every structure and the offset of every field; a mismatch (a field
added to the header but not to the bindings) fails here rather than corrupting memory at run time."""

import ctypes
import os
import re
import shutil
import subprocess

import pytest

from deepmotif import _lib

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER_DIR = os.environ.get("DEEPMOTIF_INCLUDE",
                            os.path.join(os.path.dirname(os.path.dirname(HERE)), "include"))


def test_struct_layouts_match_header(tmp_path):
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler to compile the header")
    if not os.path.exists(os.path.join(HEADER_DIR, "deepmotif.h")):
        pytest.skip("deepmotif.h not found in %s" % HEADER_DIR)
    lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "deepmotif.h"', "int main(void) {"]
    for cname, cls in _lib.STRUCTS.items():
        lines.append('printf("%s sizeof %%zu\\n", sizeof(%s));' % (cname, cname))
        for f in cls._fields_:
            fc = _lib.FIELD_C_NAME.get(f[0], f[0])
            lines.append('printf("%s %s %%zu\\n", offsetof(%s, %s));' % (cname, f[0], cname, fc))
    lines.append("return 0; }")
    src = tmp_path / "abi.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "abi"
    r = subprocess.run([cc, "-std=c11", "-I", HEADER_DIR, str(src), "-o", str(exe)],
                       capture_output=True, text=True)
    assert r.returncode == 0, "the header does not compile with the bindings' field names:\n" + r.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    got, want = {}, {}
    for line in out.splitlines():
        s, f, v = line.split()
        got[(s, f)] = int(v)
        cls = _lib.STRUCTS[s]
        want[(s, f)] = ctypes.sizeof(cls) if f == "sizeof" else getattr(cls, f).offset
    bad = ["%s.%s: C %d, ctypes %d" % (s, f, got[(s, f)], want[(s, f)]) for (s, f) in got
           if got[(s, f)] != want[(s, f)]]
    assert not bad, "ctypes structures differ from deepmotif.h:\n" + "\n".join(bad)


def test_every_declared_function_is_in_the_header():
    """Each function the bindings declare is declared DM_API in the header (a renamed C function is
    caught here, not when a user first calls it)."""
    path = os.path.join(HEADER_DIR, "deepmotif.h")
    if not os.path.exists(path):
        pytest.skip("deepmotif.h not found in %s" % HEADER_DIR)
    text = open(path).read()
    missing = [n for n in _lib.SIGNATURES if not any(
        ("%s(" % n) in line and "DM_API" in line for line in text.splitlines())]
    assert not missing, "declared in _lib.py but not DM_API in deepmotif.h: %s" % ", ".join(missing)


def test_layer_ops_match_header(tmp_path):
    """_lib.LAYER_OPS[i] is the op whose value is i in the header's enum dm_layer_op, and the header
    has no op the bindings lack (deepmotif.torch has one case per op)."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    path = os.path.join(HEADER_DIR, "deepmotif.h")
    if not cc or not os.path.exists(path):
        pytest.skip("no C compiler or no deepmotif.h in %s" % HEADER_DIR)
    text = open(path).read()
    enum = text[text.index("typedef enum dm_layer_op {"):]
    enum = enum[:enum.index("}")]
    declared = sorted(re.findall(r"\bDM_LAYER_([A-Z0-9_]+)\b", enum))
    assert declared == sorted(op.upper() for op in _lib.LAYER_OPS), \
        "the header's layer ops %s differ from _lib.LAYER_OPS %s" % (declared, _lib.LAYER_OPS)
    src = tmp_path / "ops.c"
    src.write_text('#include <stdio.h>\n#include "deepmotif.h"\nint main(void) {\n'
                   + "".join('printf("%%d\\n", (int)DM_LAYER_%s);\n' % op.upper() for op in _lib.LAYER_OPS)
                   + 'printf("%d\\n", DM_MAX_LAYERS);\nreturn 0; }\n')
    exe = tmp_path / "ops"
    r = subprocess.run([cc, "-std=c11", "-I", HEADER_DIR, str(src), "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    vals = [int(v) for v in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()]
    assert vals[:-1] == list(range(len(_lib.LAYER_OPS))), "DM_LAYER_* values %s" % vals[:-1]
    assert vals[-1] == _lib.MAX_LAYERS


# Structures of the header that the Python package does not bind (no function of _lib.SIGNATURES
# takes them): motif comparison.
UNBOUND = {"dm_compare_options", "dm_hit"}


def test_every_header_struct_is_bound():
    """Every structure the header defines has its ctypes twin in _lib.STRUCTS (so the layout test
    above covers it), unless listed in UNBOUND."""
    path = os.path.join(HEADER_DIR, "deepmotif.h")
    if not os.path.exists(path):
        pytest.skip("deepmotif.h not found in %s" % HEADER_DIR)
    structs = set(re.findall(r"^typedef struct (\w+) \{", open(path).read(), re.M))
    missing = structs - set(_lib.STRUCTS) - UNBOUND
    assert not missing, "structures of deepmotif.h without a ctypes twin in _lib.STRUCTS: %s" % sorted(missing)
    assert "dm_layer_info" in structs
