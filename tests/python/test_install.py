"""`pip install ./python` works offline (--no-index: no package index is
asked for anything) and the installed package finds the library."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

PYDIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")


def have_pip():
    return subprocess.run([sys.executable, "-m", "pip", "--version"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


class TestInstall(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lmq-pyinstall-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    @unittest.skipUnless(have_pip(), "no pip for this interpreter (python3-pip)")
    def test_pip_installs_offline_and_the_package_loads_the_library(self):
        target = os.path.join(self.dir, "site")
        p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index",
                            "--disable-pip-version-check", "--target", target, PYDIR],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=50)
        self.assertEqual(p.returncode, 0, p.stdout)
        env = dict(os.environ, PYTHONPATH=target)
        p = subprocess.run([sys.executable, "-c",
                            "import lunamq; print(lunamq.__file__); "
                            "print(lunamq.Topic('a/b').matches('a/+'))"],
                           env=env, cwd=self.dir, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.split()
        self.assertTrue(lines[0].startswith(target))
        self.assertEqual(lines[1], "True")

    def test_the_backend_builds_a_wheel_with_a_valid_record(self):
        sys.path.insert(0, os.path.join(PYDIR, "_build"))
        try:
            import backend
        finally:
            sys.path.pop(0)
        name = backend.build_wheel(self.dir)
        self.assertRegex(name, r"^lunamq-[0-9.]+-py3-none-\w+\.whl$")
        with zipfile.ZipFile(os.path.join(self.dir, name)) as z:
            names = z.namelist()
            record = z.read([n for n in names if n.endswith("/RECORD")][0]).decode()
        for module in ("__init__", "_ffi", "_common", "aio", "sync"):
            self.assertIn("lunamq/%s.py" % module, names)
        self.assertEqual(sorted(line.split(",")[0] for line in record.split()), sorted(names))
        self.assertTrue(backend.build_sdist(self.dir).endswith(".tar.gz"))


if __name__ == "__main__":
    unittest.main()
