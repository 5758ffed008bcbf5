"""An in-tree PEP 517 / PEP 660 build backend using only the standard
library, so that `pip install ./python` works offline: pip builds in an
isolated environment and would otherwise have to download setuptools (and
wheel) into it.  The package is pure Python; the metadata lives here.

A liblunamq.so* copied into python/lunamq/ is shipped in the wheel (and
found there first after $LUNAMQ_LIBRARY); the wheel is then tagged for
this platform instead of py3-none-any.
"""
import base64
import hashlib
import io
import os
import re
import sysconfig
import tarfile
import zipfile

NAME = "lunamq"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(HERE, NAME)
SUMMARY = ("asyncio MQTT 3.1/3.1.1/5.0 client over the lunamq C engine "
           "(ctypes, no compiled extension)")


def _version():
    with open(os.path.join(PKG, "__init__.py")) as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def _metadata():
    with open(os.path.join(HERE, "README.md")) as f:
        readme = f.read()
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\n"
            "Requires-Python: >=3.9\nClassifier: Framework :: AsyncIO\n"
            "Description-Content-Type: text/markdown\n\n%s" % (NAME, _version(), SUMMARY, readme))


def _package_files():
    out = []
    for name in sorted(os.listdir(PKG)):
        if name.endswith(".py") or name == "py.typed" or name.startswith("liblunamq.so"):
            out.append(name)
    return out


def _tag(files):
    if any(f.startswith("liblunamq") for f in files):
        plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        return "py3-none-" + plat, False
    return "py3-none-any", True


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def _write_wheel(wheel_directory, entries, tag, purelib):
    dist = "%s-%s" % (NAME, _version())
    info = dist + ".dist-info"
    entries = list(entries) + [
        (info + "/METADATA", _metadata().encode()),
        (info + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: lunamq-backend\n"
                           "Root-Is-Purelib: %s\nTag: %s\n"
                           % ("true" if purelib else "false", tag)).encode()),
        (info + "/top_level.txt", (NAME + "\n").encode()),
    ]
    record = [_record_line(a, d) for a, d in entries] + [info + "/RECORD,,"]
    entries.append((info + "/RECORD", ("\n".join(record) + "\n").encode()))
    filename = "%s-%s.whl" % (dist, tag)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for arcname, data in entries:
            zi = zipfile.ZipInfo(arcname, (2020, 1, 1, 0, 0, 0))
            zi.external_attr = (0o755 if ".so" in arcname else 0o644) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return filename


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = _package_files()
    tag, purelib = _tag(files)
    entries = [("%s/%s" % (NAME, f), _read(os.path.join(PKG, f))) for f in files]
    return _write_wheel(wheel_directory, entries, tag, purelib)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth line puts python/ on sys.path: edits take effect at once.
    entries = [("__editable__.%s.pth" % NAME, (HERE + "\n").encode())]
    return _write_wheel(wheel_directory, entries, "py3-none-any", True)


def build_sdist(sdist_directory, config_settings=None):
    dist = "%s-%s" % (NAME, _version())
    filename = dist + ".tar.gz"
    paths = ["pyproject.toml", "README.md", "_build/backend.py"]
    paths += ["%s/%s" % (NAME, f) for f in _package_files() if not f.startswith("liblunamq")]
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as t:
        for p in paths:
            t.add(os.path.join(HERE, p), "%s/%s" % (dist, p))
        data = _metadata().encode()
        ti = tarfile.TarInfo("%s/PKG-INFO" % dist)
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    return filename
