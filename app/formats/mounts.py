"""Which file system holds a folder, and whether change notifications can be trusted there.

inotify (what Qt's file watcher uses on Linux) only sees changes made through this
machine's kernel. On a network file system (NFS, SMB/CIFS, 9p) or a FUSE mount (sshfs,
s3fs, gcsfuse, rclone) a writer on another machine, or behind the FUSE daemon, changes
files without the kernel here hearing of it: a folder there must be polled.

Linux tells the type in /proc/self/mountinfo (field after the " - " separator); the
mount that holds a path is the one with the longest mount point that is a prefix of its
real path. Elsewhere the type is unknown and the caller polls (the safe choice).
"""

from __future__ import annotations

import os

MOUNTINFO = "/proc/self/mountinfo"

# File systems whose changes may come from elsewhere than this kernel.
REMOTE_TYPES = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs",
                          "lustre", "gpfs", "beegfs", "davfs", "ncpfs", "virtiofs", "vboxsf",
                          "fuse", "fuseblk"})


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes."""
    return (field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
            .replace("\\134", "\\"))


def parse_mountinfo(text: str) -> list[tuple[str, str]]:
    """[(mount point, file system type), …] in the order listed (later mounts on the same
    point hide earlier ones)."""
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            mounts.append((_unescape(fields[4]), fields[sep + 1]))
        except (ValueError, IndexError):
            continue   # a line of another shape: ignore it rather than guess
    return mounts


def filesystem_type(path: str, mountinfo: str | None = None) -> str | None:
    """The type of the file system that holds `path` (e.g. "ext4", "nfs4", "fuse.sshfs"),
    or None where it cannot be told (not Linux, /proc unreadable)."""
    if mountinfo is None:
        try:
            with open(MOUNTINFO, encoding="utf-8", errors="surrogateescape") as f:
                mountinfo = f.read()
        except OSError:
            return None
    real = os.path.realpath(path)
    best, kind = -1, None
    for point, fstype in parse_mountinfo(mountinfo):
        inside = real == point or point == "/" or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= best:   # >=: a later mount on the same point wins
            best, kind = len(point), fstype
    return kind


def needs_polling(fstype: str | None) -> bool:
    """Whether a folder on this file system must be polled: remote and FUSE ones, and
    any whose type is unknown."""
    if fstype is None:
        return True
    return fstype in REMOTE_TYPES or fstype.startswith("fuse.") or fstype.startswith("nfs")


def watch_mode(path: str) -> tuple[str, str | None]:
    """("notify" or "poll", the file system type) for a folder."""
    fstype = filesystem_type(path)
    return ("poll" if needs_polling(fstype) else "notify"), fstype
