#!/usr/bin/env python3
"""Builds the viasock wheel from an installed tree, with the standard library
only (the machines that build releases need no access to a package index).

The wheel holds the static viasock binary as a script, so that
`pip install viasock-*.whl` (in a venv, or with --user on a cluster without
root) puts `viasock` on PATH, plus the manual page and the bash completion as
data files. It is the wheel scikit-build-core would make from the same CMake
install (platform tag, .data/scripts, RECORD with SHA-256 hashes).

usage: make_wheel.py PREFIX VERSION OUTDIR
  PREFIX   a `cmake --install build --prefix PREFIX` tree
"""

import base64
import hashlib
import os
import sys
import zipfile

NAME = "viasock"
# A static binary needs no particular glibc; manylinux2014 is the oldest tag
# current pip versions still install on every x86-64 Linux.
TAG = "py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64"
SUMMARY = "Keep a slow-starting text filter alive and serve many calls from it"


def record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def add(wheel, records, arcname, data, executable=False):
    info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
    wheel.writestr(info, data)
    records.append(record_line(arcname, data))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def metadata(version, readme):
    head = ("Metadata-Version: 2.1\n"
            "Name: %s\n"
            "Version: %s\n"
            "Summary: %s\n"
            "Requires-Python: >=3.6\n"
            "Classifier: Environment :: Console\n"
            "Classifier: Operating System :: POSIX :: Linux\n"
            "Description-Content-Type: text/markdown\n\n" % (NAME, version, SUMMARY))
    return (head + readme).encode()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    prefix, version, outdir = sys.argv[1:]
    data = "%s-%s.data" % (NAME, version)
    info = "%s-%s.dist-info" % (NAME, version)
    path = os.path.join(outdir, "%s-%s-%s.whl" % (NAME, version, TAG))
    records = []
    os.makedirs(outdir, exist_ok=True)
    with zipfile.ZipFile(path, "w") as wheel:
        add(wheel, records, data + "/scripts/viasock", read(os.path.join(prefix, "bin", "viasock")),
            executable=True)
        for relative in ("share/man/man1/viasock.1", "share/bash-completion/completions/viasock"):
            add(wheel, records, data + "/data/" + relative, read(os.path.join(prefix, relative)))
        readme = read(os.path.join(prefix, "share", "doc", "viasock", "README.md")).decode()
        add(wheel, records, info + "/METADATA", metadata(version, readme))
        add(wheel, records, info + "/WHEEL",
            ("Wheel-Version: 1.0\nGenerator: viasock make_wheel.py\nRoot-Is-Purelib: false\nTag: %s\n"
             % TAG).encode())
        records.append(info + "/RECORD,,")
        add_record = "\n".join(records) + "\n"
        zinfo = zipfile.ZipInfo(info + "/RECORD", date_time=(2020, 1, 1, 0, 0, 0))
        zinfo.compress_type = zipfile.ZIP_DEFLATED
        zinfo.external_attr = 0o100644 << 16
        wheel.writestr(zinfo, add_record)
    print(path)


if __name__ == "__main__":
    main()
