"""Which folders are polled: the file system type from /proc/self/mountinfo, checked against
this machine's real mounts (findmnt, util-linux's own reading, is the oracle), and the rule
that network and FUSE mounts are polled."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from app.formats.mounts import filesystem_type, needs_polling, parse_mountinfo, watch_mode

SAMPLE = """\
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
30 22 0:26 / /proc rw,nosuid - proc proc rw
41 22 0:40 / /mnt/nfs rw,relatime shared:5 - nfs4 server:/export rw,vers=4.2
42 41 0:41 / /mnt/nfs/inner rw - ext4 /dev/vdb rw
43 22 0:42 / /srv/remote\\040box rw,nosuid,nodev - fuse.sshfs me@host:/ rw
44 22 0:43 / /mnt/share rw - cifs //host/share rw
45 22 0:44 / /mnt/share rw - tmpfs tmpfs rw
46 22 0:45 / /mnt/nfsish rw - nfs server:/x rw
"""


def test_the_longest_mount_point_holding_a_path_gives_its_type():
    assert parse_mountinfo(SAMPLE)[0] == ("/", "ext4")
    assert filesystem_type("/srv/run", SAMPLE) == "ext4"
    assert filesystem_type("/mnt/nfs/run/train", SAMPLE) == "nfs4"
    assert filesystem_type("/mnt/nfs", SAMPLE) == "nfs4"
    assert filesystem_type("/mnt/nfs/inner/run", SAMPLE) == "ext4"      # mounted inside NFS
    assert filesystem_type("/mnt/nfsish/run", SAMPLE) == "nfs"          # not /mnt/nfs's
    assert filesystem_type("/srv/remote box/run", SAMPLE) == "fuse.sshfs"   # \040 is a space
    assert filesystem_type("/mnt/share/x", SAMPLE) == "tmpfs"          # the later mount hides the first


@pytest.mark.parametrize("fstype,poll", [("ext4", False), ("xfs", False), ("btrfs", False), ("tmpfs", False),
                                         ("overlay", False), ("nfs", True), ("nfs4", True), ("cifs", True),
                                         ("smb3", True), ("9p", True), ("fuse.sshfs", True),
                                         ("fuse.gcsfuse", True), ("fuse", True), ("fuseblk", True),
                                         ("virtiofs", True), (None, True)])
def test_network_and_fuse_mounts_are_polled(fstype, poll):
    assert needs_polling(fstype) is poll


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("findmnt") is None,
                    reason="needs Linux's /proc/self/mountinfo and findmnt (util-linux) as the oracle")
def test_every_real_mount_of_this_machine_reads_as_findmnt_reads_it(tmp_path):
    with open("/proc/self/mountinfo") as f:
        points = {p for p, _t in parse_mountinfo(f.read())}
    targets = [str(tmp_path)] + sorted(p for p in points if os.path.isdir(p) and os.access(p, os.R_OK))
    assert len(targets) > 3
    for target in targets:
        want = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "--target", target],
                              capture_output=True, text=True, timeout=30).stdout.strip().splitlines()
        if not want:
            continue
        assert filesystem_type(target) == want[-1], target
    mode, fstype = watch_mode(str(tmp_path))
    assert mode == ("poll" if needs_polling(fstype) else "notify")
    assert filesystem_type("/proc/self") == "proc"


def test_every_escape_mountinfo_writes_is_undone_and_a_trailing_space_is_part_of_the_name():
    text = ("22 1 252:1 / / rw - ext4 /dev/vda1 rw\n"
            "50 22 0:50 / /srv/a\\011b\\012c\\134d rw - nfs4 h:/x rw\n"
            "51 22 0:51 / /srv/box\\040 rw - cifs //h/s rw\n")
    assert parse_mountinfo(text)[1:] == [("/srv/a\tb\nc\\d", "nfs4"), ("/srv/box ", "cifs")]
    assert filesystem_type("/srv/a\tb\nc\\d/run", text) == "nfs4"
    assert filesystem_type("/srv/box /run", text) == "cifs"
    assert filesystem_type("/srv/box/run", text) == "ext4"      # "box" is not "box "


def test_mountinfo_bytes_that_are_not_utf8_are_read_and_a_missing_file_says_unknown(tmp_path, monkeypatch):
    from app.formats import mounts
    info = tmp_path / "mountinfo"
    info.write_bytes(b"22 1 252:1 / / rw - ext4 /dev/vda1 rw\n"
                     b"60 22 0:60 / /mnt/caf\xe9 rw - nfs h:/x rw\n")
    monkeypatch.setattr(mounts, "MOUNTINFO", str(info))
    assert filesystem_type("/mnt/other") == "ext4"
    monkeypatch.setattr(mounts, "MOUNTINFO", str(tmp_path / "absent"))
    assert filesystem_type("/mnt/other") is None
    assert watch_mode(str(tmp_path)) == ("poll", None)
