"""Packaging: scripts/package makes a .deb, a tarball and a wheel; the wheel
installs into a fresh venv and its `viasock` works; `cmake --install`
installs a stripped binary, the manual page and the completion."""

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

from harness import REPO, ViasockTestCase, log


def run(args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, **kw)


class PackageTest(ViasockTestCase):
    def setUp(self):
        super().setUp()
        for program in ("dpkg-deb", "cpack", "cmake"):
            if not shutil.which(program):
                self.skipTest("%s is missing: packaging cannot be tested here" % program)
        if run([sys.executable, "-c", "import venv, ensurepip"]).returncode != 0:
            self.skipTest("python3 -m venv does not work here (install python3-venv)")
        self.build = os.path.dirname(self.bin)
        self.dist = os.path.join(self.tmp, "dist")
        r = run([os.path.join(REPO, "scripts", "package"), self.dist],
                env=self._env({"VIASOCK_BUILD_DIR": self.build}))
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        self.files = sorted(os.listdir(self.dist))
        log("packages: %s" % self.files)

    def one(self, suffix):
        found = [f for f in self.files if f.endswith(suffix)]
        self.assertEqual(len(found), 1, self.files)
        return os.path.join(self.dist, found[0])

    def test_packages_and_install(self):
        # One test: building the packages takes most of its time.
        self.check_packages()
        self.check_cmake_install()

    def check_packages(self):
        r = run(["dpkg-deb", "-c", self.one(".deb")])
        self.assertEqual(r.returncode, 0, r.stderr)
        listing = r.stdout.decode()
        for path in ("./usr/bin/viasock", "./usr/share/man/man1/viasock.1",
                     "./usr/share/bash-completion/completions/viasock"):
            self.assertIn(path + "\n", listing)
        r = run(["dpkg-deb", "-f", self.one(".deb"), "Package", "Version", "Section", "Description"])
        self.assertIn(b"Package: viasock", r.stdout)

        with tarfile.open(self.one(".tar.gz")) as tar:
            names = tar.getnames()
            binary = next(m for m in tar.getmembers() if m.name.endswith("/bin/viasock"))
        self.assertTrue(any(n.endswith("/share/man/man1/viasock.1") for n in names), names)
        self.assertLess(binary.size, os.path.getsize(self.bin), "the packaged binary is not stripped")

        wheel = self.one(".whl")
        with zipfile.ZipFile(wheel) as z:
            names = z.namelist()
            record = z.read([n for n in names if n.endswith(".dist-info/RECORD")][0]).decode()
        self.assertIn("Tag: py3-none-manylinux", zipfile.ZipFile(wheel).read(
            [n for n in names if n.endswith(".dist-info/WHEEL")][0]).decode())
        for name in names:
            self.assertIn(name + ",", record)

        venv = os.path.join(self.tmp, "venv")
        self.assertEqual(run([sys.executable, "-m", "venv", venv]).returncode, 0)
        r = run([os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--no-index", "-q", wheel])
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        installed = os.path.join(venv, "bin", "viasock")
        r = run([installed, "run", "cat"], input=b"from the wheel\n", cwd=self.tmp, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"from the wheel\n")
        self.assertEqual(run([installed, "stop", "--all"], cwd=self.tmp, env=self.env).returncode, 0)

    def check_cmake_install(self):
        prefix = os.path.join(self.tmp, "prefix")
        r = run(["cmake", "--install", self.build, "--prefix", prefix])
        self.assertEqual(r.returncode, 0, r.stderr)
        binary = os.path.join(prefix, "bin", "viasock")
        self.assertLess(os.path.getsize(binary), os.path.getsize(self.bin), "not stripped")
        self.assertTrue(os.path.isfile(os.path.join(prefix, "share", "man", "man1", "viasock.1")))
        self.assertTrue(os.path.isfile(os.path.join(prefix, "share", "bash-completion", "completions",
                                                    "viasock")))
        r = run([binary, "--version"])
        self.assertTrue(r.stdout.startswith(b"viasock "), r.stdout)
