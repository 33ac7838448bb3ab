"""Output paths: checked before any work starts, written atomically, and disk errors told as one line.

A caller run on irreplaceable BAMs must never overwrite an input, write two outputs to one file, or leave a
half-written file under a final name. `check_outputs` refuses all of that up front (resolved paths and
inodes, so symlinks and hard links count); `atomic_output` writes under a temporary name and renames only
a complete file; `disk_error` turns ENOSPC, EACCES and friends into an OutputError naming the path and
the free space.
"""
from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
from typing import Callable, Iterator, Mapping, Sequence

from .errors import OutputError

# errno values a user fixes by freeing space, changing permissions or picking another path
DISK_ERRNOS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
               errno.EFBIG: "the file is larger than this process may write (ulimit -f)",
               errno.EACCES: "permission denied", errno.EPERM: "permission denied",
               errno.EROFS: "the file system is read-only"}
FULL_DISK_BYTES = 1 << 20  # less than this free where a write failed without an errno (htslib's): the disk is full


def _free_bytes(path: str) -> tuple[str, int] | None:
    """(the nearest existing folder of `path`, the bytes free there), or None when it cannot be measured."""
    folder = os.path.abspath(path)
    while folder and not os.path.isdir(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
    try:
        return folder, shutil.disk_usage(folder).free
    except OSError:
        return None


def free_space(path: str) -> str:
    """'1.2 GB free on /tmp' for the nearest existing folder of `path` (or '' when it cannot be measured)."""
    measured = _free_bytes(path)
    if measured is None:
        return ""
    folder, free = measured
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if free >= size:
            return f"{free / size:.1f} {unit} free in {folder}"
    return f"{free} bytes free in {folder}"


def is_disk_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_ERRNOS


def disk_error(path: str, exc: OSError) -> OutputError:
    """One line for a failed write: what, where, why, how much space is left, and the fix."""
    target = final_name(str(exc.filename or path))
    code = exc.errno
    if code is None and (measured := _free_bytes(str(target))) and measured[1] < FULL_DISK_BYTES:
        code = errno.ENOSPC  # htslib's write errors (via pysam) carry no errno: a disk with nothing left is the cause
    why = DISK_ERRNOS.get(code, exc.strerror or str(exc))
    space = free_space(str(target))
    fix = ("free some space or point the output (or TMPDIR / --intermediate-dir) at a larger disk"
           if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else "pick a path you can write to")
    return OutputError(f"cannot write {target}: {why}{f' ({space})' if space else ''}: {fix}")


PARTIAL = ".partial"
"""What every temporary file of an output has in its name until the output is complete."""


def partial_path(path: str, suffix: str = "") -> str:
    """The temporary name of `path` while it is written; `suffix` keeps a file type that a writer infers from
    the name (e.g. '.vcf.gz')."""
    return f"{path}{PARTIAL}{suffix}"


def final_name(path: str) -> str:
    """The output a temporary name (partial_path, possibly of another temporary name) stands for: what messages name."""
    base = os.path.basename(path)
    return os.path.join(os.path.dirname(path), base.split(PARTIAL)[0]) if PARTIAL in base else path


def is_partial(name: str) -> bool:
    return PARTIAL in name


class AtomicFile:
    """An output written under a temporary name (partial_path) and renamed into place only when complete: the
    one implementation of dvcall's atomic writes. `companions` (e.g. ('.tbi', '.csi')) are files named after the
    temporary one (its index) that move along with it, first, so a reader of the new file finds its new index;
    one that was not written is removed at the path (an earlier file's index there would describe the new one)."""

    def __init__(self, path: str, suffix: str = "", companions: tuple[str, ...] = ()):
        self.path, self.tmp, self.companions = path, partial_path(path, suffix), tuple(companions)

    def commit(self) -> None:
        moved = []
        written = [ext for ext in self.companions if os.path.lexists(self.tmp + ext)]
        if self.companions and not written:
            self.discard()
            raise OutputError(f"{final_name(self.path)} was written without its index ({' or '.join(self.companions)})")
        try:
            for ext in written:
                os.replace(self.tmp + ext, self.path + ext)
                moved.append(self.path + ext)
            _remove(*(self.path + ext for ext in self.companions if ext not in written))
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.discard()
            _remove(*moved)  # an index without its file would describe whatever is (or is not) at the path
            raise disk_error(self.path, exc) from None

    def discard(self) -> None:
        """Remove the temporary file and its companions."""
        _remove(self.tmp, *(self.tmp + ext for ext in self.companions))

    def retract(self) -> None:
        """Remove the committed file and its companions (a set of outputs that failed after this one was in place)."""
        _remove(self.path, *(self.path + ext for ext in self.companions))


def hash_bytes(fh, digest, length: int | None = None) -> int:
    """Add to `digest` the next `length` bytes of the open binary file `fh` (None: to its end); the bytes added
    (fewer where the file ends first). The one streaming file hash of dvcall (file_sha256, checkpoints)."""
    added = 0
    while length is None or added < length:
        block = fh.read(1 << 20 if length is None else min(1 << 20, length - added))
        if not block:
            break
        digest.update(block)
        added += len(block)
    return added


def file_sha256(path: str, length: int | None = None) -> str | None:
    """SHA-256 of the file at `path`, or of its first `length` bytes (None where it is shorter than that)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        added = hash_bytes(fh, digest, length)
    return None if length is not None and added < length else digest.hexdigest()


def _gzip_member(raw, compresslevel: int = 9) -> gzip.GzipFile:
    """A gzip member written into the open binary file `raw`, with no name and no time in its header: the same text
    gives the same bytes, whatever the (temporary) file is called and whenever it is written."""
    return gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=compresslevel, mtime=0)


class GzipLines:
    """A gzipped text file written piece by piece under a temporary name (AtomicFile): `close` renames it into
    place, `abort` removes it; an OSError is one OutputError naming the final path (disk_error).

    For checkpoints (checkpoint.py): `checkpoint()` ends the current gzip member and returns the temporary file's
    length, at which the bytes are a complete gzip file, and their SHA-256; `resume_at=N` reopens an earlier run's
    temporary file cut to N bytes and appends to it; with `keep=True`, `abort` leaves the temporary file for such
    a rerun."""

    def __init__(self, path: str, compresslevel: int = 9, resume_at: int | None = None, keep: bool = False):
        self.path, self.compresslevel, self.keep = path, compresslevel, keep
        self._file = AtomicFile(path)
        self._raw = self._gz = self._fh = None
        self._digest, self._hashed = hashlib.sha256(), 0  # of the bytes up to the last checkpoint (hash_bytes)
        try:
            if resume_at is None:
                self._raw = open(self._file.tmp, "w+b")
            else:
                self._raw = open(self._file.tmp, "r+b")
                self._raw.truncate(resume_at)
                self._hash_to(resume_at)
            self._open_member()
        except OSError as exc:
            self.abort()
            raise disk_error(path, exc) from None

    def _open_member(self) -> None:
        self._gz = _gzip_member(self._raw, self.compresslevel)
        self._fh = io.TextIOWrapper(self._gz, encoding="utf-8")

    def write(self, text: str) -> None:
        try:
            self._fh.write(text)
        except OSError as exc:
            self.abort()
            raise disk_error(self.path, exc) from None

    def _hash_to(self, length: int) -> None:
        """Add the file's bytes from the last checkpoint to `length` to the digest (read back: they are in the page
        cache) and leave the file positioned at `length`."""
        self._raw.seek(self._hashed)
        self._hashed += hash_bytes(self._raw, self._digest, length - self._hashed)
        self._raw.seek(length)

    def checkpoint(self) -> tuple[int, str]:
        """End the gzip member, flush it to the disk and start another: (the file's length now, the SHA-256 of its
        bytes)."""
        try:
            self._fh.detach()  # flushes the text into the member without closing it
            self._gz.close()  # the member's trailer; the file itself stays open
            self._raw.flush()
            os.fsync(self._raw.fileno())
            length = self._raw.tell()
            self._hash_to(length)
            self._open_member()
        except OSError as exc:
            self.abort()
            raise disk_error(self.path, exc) from None
        return length, self._digest.hexdigest()

    def close(self) -> None:
        try:
            self._fh.close()
            self._raw.close()
        except OSError as exc:
            self.abort()
            raise disk_error(self.path, exc) from None
        self._file.commit()

    def abort(self) -> None:
        for handle in (self._fh, self._gz, self._raw):
            if handle is not None:
                with contextlib.suppress(OSError, ValueError):
                    handle.close()
        if not self.keep:
            self._file.discard()


def _remove(*paths: str) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            os.remove(p)


@contextlib.contextmanager
def atomic_output(path: str, suffix: str = "", companions: tuple[str, ...] = ()) -> Iterator[str]:
    """Yield a temporary path beside `path` (AtomicFile); on success it (and its companions) is renamed to
    `path`, on any failure removed; an OSError becomes one OutputError line (disk_error)."""
    with atomic_outputs([(path, suffix, companions)]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_outputs(specs: Sequence[tuple[str, str, tuple[str, ...]]]) -> Iterator[list[str]]:
    """Several outputs that appear together or not at all ((path, suffix, companions) each, as for AtomicFile):
    yields their temporary paths; on success all are renamed into place with SIGINT and SIGTERM held back until
    the last rename (a signal cannot leave some renamed and others not), on any failure all removed, the ones
    already renamed included."""
    files = [AtomicFile(path, suffix, companions) for path, suffix, companions in specs]
    try:
        yield [f.tmp for f in files]
    except BaseException as exc:
        for f in files:
            f.discard()
        if isinstance(exc, OSError):
            raise disk_error(exc.filename or files[0].path, exc) from None
        raise
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    done: list[AtomicFile] = []
    try:
        for f in files:
            f.commit()  # an OSError discards its own temporary files
            done.append(f)
    except BaseException:
        for f in files[len(done):]:
            f.discard()
        for f in done:
            f.retract()
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


@contextlib.contextmanager
def open_text(path: str, gzipped: bool = False) -> Iterator[io.TextIOBase]:
    """A text handle writing `path` (e.g. a temporary name from atomic_outputs), gzipped without a name or a time in
    the gzip header, as GzipLines writes: the same text gives the same bytes."""
    with open(path, "wb") as raw:
        if not gzipped:
            with io.TextIOWrapper(raw, encoding="utf-8") as fh:
                yield fh
            return
        with _gzip_member(raw) as gz, io.TextIOWrapper(gz, encoding="utf-8") as fh:
            yield fh


def write_json(path: str, data, indent: int | None = None, gzipped: bool | None = None) -> None:
    """Write `data` as JSON to `path` atomically (a reader sees the old file or the whole new one); gzipped (as
    open_text writes it) when `gzipped`, by default when the name ends in .gz."""
    with atomic_output(path) as tmp, open_text(tmp, path.endswith(".gz") if gzipped is None else gzipped) as fh:
        json.dump(data, fh, indent=indent)


def _identity(path: str) -> tuple:
    """What makes two paths the same file: the resolved path, and the inode when the file exists."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
        return real, (st.st_dev, st.st_ino)
    except OSError:
        return real, None


def _same(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] or (a[1] is not None and a[1] == b[1])


def repeated_file(paths: Sequence[str]) -> str | None:
    """The first of `paths` that names a file given earlier in the list (same resolved path or inode), or None:
    inputs given twice (--reads, calls, examples) would count twice."""
    seen: list[tuple] = []
    for path in paths:
        ident = _identity(path)
        if any(_same(ident, other) for other in seen):
            return path
        seen.append(ident)
    return None


def _named(label: str, path: str) -> str:
    """'--output x.gz' from a label and its path; a label that holds the path already ('--examples x.gz', one of
    several) is not followed by it again."""
    return label if label.endswith(f" {path}") else f"{label} {path}"


def refuse_replacing(label: str, path: str | None, kind: str, is_kind: Callable[[str], bool]) -> None:
    """An output that would replace an existing file must replace one of its own kind (`is_kind`, e.g. an earlier
    run's calls): never a model's weights, a sidecar, a truth VCF that a mistyped name points at."""
    if path and os.path.lexists(path) and not os.path.isdir(path) and not is_kind(path):
        raise OutputError(f"{_named(label, path)} exists and is not {kind}: writing it would destroy that file; pick another "
                          "name (or remove the file if you mean to replace it)")


def _kind_suffix(label: str) -> str:
    """A file suffix for an output flag's example name: --json x -> .json, a report -> .html, else none."""
    lowered = label.lower()
    return ".json" if "json" in lowered else ".html" if "report" in lowered or "html" in lowered else ""


INPUT_INDEX_SUFFIXES = (".tbi", ".csi", ".fai", ".gzi", ".bai", ".crai")
"""The index files htslib and pysam look for beside an input: check_outputs never writes over one."""


def check_outputs(outputs: Mapping[str, str | None], inputs: Mapping[str, str | None] = {},
                  directories: Mapping[str, str | None] = {}) -> None:
    """Refuse, before any work, outputs that clash or cannot be written.

    `outputs`: {label: file path}, e.g. {"--output-vcf": "x.vcf.gz", "--output-vcf's index": "x.vcf.gz.tbi"};
    `inputs`: {label: path} of every file read (reads, their index, reference, its indices, model files, BEDs);
    `directories`: {label: folder} that will be created or written into (e.g. --intermediate-dir).
    Each output must differ from every other output and every input, must not be an existing folder, device or
    pipe (nor "-"), and its folder must exist and be writable; each directory must not be an existing file or an input.
    """
    ins = [(label, path, _identity(path)) for label, path in inputs.items() if path]
    # an input's index sits beside it under a fixed suffix (a VCF's .tbi, a FASTA's .fai): writing over it
    # breaks the input for every later reader (eval --json q.vcf.gz.tbi did, exit 0)
    ins += [(f"{label}'s {ext} index", path + ext, _identity(path + ext)) for label, path in inputs.items() if path
            for ext in INPUT_INDEX_SUFFIXES]
    seen: list[tuple[str, str, tuple]] = []
    for label, path in outputs.items():
        if not path:
            continue
        ident = _identity(path)
        for other_label, other, other_ident in ins:
            if _same(ident, other_ident):
                raise OutputError(f"{_named(label, path)} is the input {_named(other_label, other)}: writing it would destroy the input; "
                                  "pick another output name")
        for other_label, other, other_ident in seen:
            if _same(ident, other_ident):
                raise OutputError(f"{_named(label, path)} and {_named(other_label, other)} are the same file: give each output its own name")
        if os.path.isdir(path):
            suffix = _kind_suffix(label) or os.path.splitext(path.rstrip(os.sep))[1]  # --output d.html/ -> .html
            example = os.path.join(path, "sample.vcf.gz" if "vcf" in label.lower() else "output" + suffix)
            raise OutputError(f"{label} {path} is an existing folder: give a file name (e.g. {example})")
        if path == "-":  # a file named "-" would appear where standard output was meant
            raise OutputError(f"{label} -: dvcall writes {label} to a file, not to standard output: give a file name")
        if (links := _link_trouble(path)) == "loop":
            raise OutputError(f"{label} {path} is a loop of symbolic links (it never reaches a file): remove the link "
                              "or give another file name")
        if (os.path.exists(path) and not os.path.isfile(path)) or links == "proc":
            # /dev/stdout, a pipe, a link to /proc/self/fd/1 (a regular file when stdout goes to one): the rename
            # would replace the device or the link, as root /dev/stdout itself
            raise OutputError(f"{label} {path} is not a regular file (a device, pipe, socket or a standard stream; "
                              "dvcall writes each output whole under a temporary name and renames it into place): "
                              "give a file name")
        _check_writable_folder(label, path)
        seen.append((label, path, ident))
    for label, folder in directories.items():
        if not folder:
            continue
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise OutputError(f"{label} {folder} is an existing file, not a folder: give a folder (it is created if missing)")
        ident = _identity(folder)
        for other_label, other, other_ident in ins + seen:
            if _same(ident, other_ident):
                raise OutputError(f"{label} {folder} is also {other_label} {other}: give another folder")
        existing = os.path.abspath(folder)
        while not os.path.isdir(existing):  # the nearest folder that exists: the rest is created
            existing = os.path.dirname(existing)
        if not os.access(existing, os.W_OK | os.X_OK):
            raise OutputError(f"{label} {folder} cannot be written ({existing} is not writable): give a folder you can write to")


def _link_trouble(path: str, hops: int = 40) -> str | None:
    """"proc" when `path`, or a link on the way from it to its target, lies in /proc (/dev/stdout and /dev/fd/1 lead
    to /proc/self/fd/1, as does a link of one's own): a standard stream, whatever fd 1 is (a regular file when
    stdout goes to one); "loop" for links that never end; else None. Folders on the way are resolved first
    (/dev/fd is itself a link); /dev/shm's files are files."""
    for _ in range(hops):
        path = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path))
        if path.startswith("/proc/"):
            return "proc"
        if not os.path.islink(path):
            return None
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    return "loop"


def _check_writable_folder(label: str, path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {label} {path}: folder {folder} does not exist (create it first)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {label} {path}: folder {folder} is not writable: pick a path you can write to")


def writable_folder(path: str, label: str = "output") -> None:
    """The folder that will hold `path` exists and can be written (for commands with a single output)."""
    _check_writable_folder(label, path)


def require_vcf_gz(flag: str, path: str | None) -> None:
    """A VCF output name must say what dvcall writes there: bgzipped, tabix-indexed (.vcf.gz)."""
    if path is not None and not path.endswith(".vcf.gz"):
        raise OutputError(f"{flag} {path} must end in .vcf.gz (the output is bgzipped and indexed)")
