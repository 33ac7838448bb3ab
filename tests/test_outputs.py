"""outputs: files appear only when complete; several outputs of one run appear together or not at all."""
from __future__ import annotations

import errno
import re
import os

import pytest

from deepvariant_py.errors import OutputError
from deepvariant_py.outputs import atomic_output, atomic_outputs, check_outputs, disk_error, final_name, partial_path


def _write(path: str, text: str = "x") -> None:
    with open(path, "w") as fh:
        fh.write(text)


def specs(tmp_path):
    return [(str(tmp_path / "x.vcf.gz"), ".vcf.gz", (".tbi",)), (str(tmp_path / "x.g.vcf.gz"), ".g.vcf.gz", (".tbi",)),
            (str(tmp_path / "r.html"), "", ())]


def test_outputs_appear_together_once_all_are_written(tmp_path):
    with atomic_outputs(specs(tmp_path)) as tmp:
        for path in tmp:
            _write(path)
        for path in tmp[:2]:
            _write(path + ".tbi")
        assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in tmp + [t + ".tbi" for t in tmp[:2]])
    assert sorted(os.listdir(tmp_path)) == ["r.html", "x.g.vcf.gz", "x.g.vcf.gz.tbi", "x.vcf.gz", "x.vcf.gz.tbi"]


def test_a_failure_before_the_end_leaves_none_of_them(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_outputs(specs(tmp_path)) as tmp:
            _write(tmp[0])
            _write(tmp[0] + ".tbi")
            raise KeyboardInterrupt  # e.g. Ctrl-C while the report is written
    assert os.listdir(tmp_path) == []


def test_a_rename_that_fails_takes_back_the_ones_already_made(tmp_path):
    """The second output's place is a folder: the first, already renamed, is removed again."""
    os.mkdir(tmp_path / "x.g.vcf.gz")
    with pytest.raises(OutputError, match="x.g.vcf.gz"):
        with atomic_outputs(specs(tmp_path)) as tmp:
            for path in tmp:
                _write(path)
            for path in tmp[:2]:
                _write(path + ".tbi")
    assert os.listdir(tmp_path) == ["x.g.vcf.gz"] and os.listdir(tmp_path / "x.g.vcf.gz") == []


def test_messages_name_the_output_not_its_temporary_name(tmp_path):
    out = str(tmp_path / "x.vcf.gz")
    inner = partial_path(partial_path(out, ".vcf.gz"), ".vcf.gz")  # write_vcf's inside atomic_outputs'
    assert final_name(inner) == out and final_name(out) == out
    assert str(disk_error(inner, OSError(errno.ENOSPC, "No space left on device"))).startswith(f"cannot write {out}: the disk is full")
    with pytest.raises(OutputError, match=f"cannot write {out}: "):
        with atomic_output(out, ".vcf.gz") as tmp:
            raise OSError(errno.ENOSPC, "No space left on device", tmp)
    assert os.listdir(tmp_path) == []


def test_a_write_error_without_errno_on_a_full_disk_is_told_as_a_full_disk(tmp_path, monkeypatch):
    """htslib's write errors reach us (through pysam) with no errno: with nothing left on the disk, that is the cause."""
    import deepvariant_py.outputs as outputs
    out = str(tmp_path / "x.vcf.gz")
    flushing = OSError("Error flushing BGZFile object")
    assert str(disk_error(out, flushing)).endswith(": pick a path you can write to")  # space left: not the disk
    monkeypatch.setattr(outputs, "_free_bytes", lambda path: (str(tmp_path), 0))
    assert str(disk_error(out, flushing)) == (f"cannot write {out}: the disk is full (0 bytes free in {tmp_path}): free some "
                                              "space or point the output (or TMPDIR / --intermediate-dir) at a larger disk")


def test_an_output_never_replaces_an_inputs_index(tmp_path):
    """hostile13: `dvcall eval --json q.vcf.gz.tbi` wrote its JSON over the query's index (and --json ref.fa.fai over
    the reference's), exit 0; the next tabix or eval then failed."""
    query, ref = tmp_path / "q.vcf.gz", tmp_path / "ref.fa"
    for path in (query, tmp_path / "q.vcf.gz.tbi", ref, tmp_path / "ref.fa.fai"):
        path.write_text("x")
    for target, named in ((tmp_path / "q.vcf.gz.tbi", "--query's .tbi index"), (tmp_path / "ref.fa.fai", "--ref's .fai index"),
                          (tmp_path / "q.vcf.gz.csi", "--query's .csi index")):  # one not there yet: still its name
        with pytest.raises(OutputError, match=f"is the input {re.escape(named)}"):
            check_outputs({"--json": str(target)}, {"--query": str(query), "--ref": str(ref)})
    check_outputs({"--json": str(tmp_path / "eval.json")}, {"--query": str(query), "--ref": str(ref)})


def test_an_existing_folder_as_an_output_gets_a_name_of_its_kind(tmp_path):
    folder = tmp_path / "d.html"
    folder.mkdir()
    with pytest.raises(OutputError, match=r"d.html/output.html\)"):
        check_outputs({"--output": str(folder)})
    with pytest.raises(OutputError, match=r"output.json\)"):
        check_outputs({"--json": str(tmp_path)})
    with pytest.raises(OutputError, match=r"sample.vcf.gz\)"):
        check_outputs({"--output-vcf": str(tmp_path)})


def test_standard_output_a_device_or_a_pipe_is_refused_not_replaced(tmp_path):
    """hostile24: `eval --errors /dev/stdout` as root renamed a regular file over the /dev/stdout link, and
    `--errors -` wrote a file named '-'; review44: with stdout sent to a file, /dev/stdout is a regular file, so a
    link to /proc/self/fd/1 must be refused by where it leads, not by what it is."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    stream = tmp_path / "stdout"
    os.symlink("/proc/self/fd/1", stream)
    for path in ("/dev/null", "/dev/stdout", str(fifo), str(stream)):
        with pytest.raises(OutputError, match=r"is not a regular file .*: give a file name"):
            check_outputs({"--errors": path})
    with pytest.raises(OutputError, match=r"--json -: dvcall writes --json to a file, not to standard output"):
        check_outputs({"--json": "-"})
    regular = tmp_path / "old.tsv"
    regular.write_text("x")
    os.symlink(regular, tmp_path / "link.tsv")
    for path in (regular, tmp_path / "link.tsv"):  # a file, or a link to one, is replaced whole
        check_outputs({"--errors": str(path)})
    with pytest.raises(OutputError, match="is not a regular file"):
        check_outputs({"--errors": "/dev/fd/1"})  # /dev/fd is itself a link to /proc/self/fd
    os.symlink("loop_b.tsv", tmp_path / "loop_a.tsv")  # review45: a loop was called "not a regular file"
    os.symlink("loop_a.tsv", tmp_path / "loop_b.tsv")
    with pytest.raises(OutputError, match=r"loop_a.tsv is a loop of symbolic links \(it never reaches a file\)"):
        check_outputs({"--errors": str(tmp_path / "loop_a.tsv")})
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        check_outputs({"--errors": "/dev/shm/dvcall-test.tsv"})  # a file on tmpfs is a file


def test_eval_errors_to_a_link_to_standard_output_leaves_the_link(tmp_path):
    """End to end, with stdout sent to a file (where /dev/stdout is a regular file): refused, the link kept."""
    import subprocess
    import sys

    stream = tmp_path / "stdout"
    os.symlink("/proc/self/fd/1", stream)
    vcf = tmp_path / "t.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr20,length=100>\n##FORMAT=<ID=GT,Number=1,Type=String,"
                   "Description=\"g\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n")
    ref = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "ucsc.hg19.chr20.unittest.fasta.gz")
    with open(tmp_path / "report.txt", "w") as out:
        proc = subprocess.run([sys.executable, "-c", "import sys; sys.argv[0] = 'dvcall'; from deepvariant_py.cli.entry "
                               "import main; sys.exit(main())", "eval", "--truth", str(vcf), "--query", str(vcf),
                               "--ref", ref, "--errors", str(stream)], stdout=out, stderr=subprocess.PIPE, text=True)
    assert proc.returncode != 0 and "is not a regular file" in proc.stderr
    assert os.path.islink(stream) and os.readlink(stream) == "/proc/self/fd/1"
