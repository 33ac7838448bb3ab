"""Bad input gives one line naming the problem and the fix, exit 1, and no file at the output path."""
from __future__ import annotations

import os
import sys

import click
import pytest
from click.testing import CliRunner

from deepvariant_py.cli.main import main

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "testdata")
REF = os.path.join(TESTDATA, "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.bam")


def _run(tmp_path, *args, out_name="out.vcf.gz"):
    out = tmp_path / out_name
    overrides = dict(zip(args[::2], args[1::2]))
    argv = ["run"]
    opts = {"--ref": REF, "--reads": BAM, "--output-vcf": str(out), "--regions": "chr20:10,000,000-10,001,000", **overrides}
    for k, v in opts.items():
        argv += [k, v]
    result = CliRunner().invoke(main, argv)
    return result, out


@pytest.mark.parametrize("args, needle", [
    (("--reads", "/nonexistent.bam"), "does not exist"),
    (("--ref", "/nonexistent.fa"), "does not exist"),
    (("--regions", "20:1-100"), "the reference calls it 'chr20'"),
    (("--regions", "chr20:63025000-63025600"), "ends past the end"),
    (("--regions", "chr20:100-50"), "empty or reversed"),
    (("--model", "/nonexistent_model"), "does not exist"),
])
def test_bad_input_is_one_line(tmp_path, args, needle):
    result, out = _run(tmp_path, *args)
    assert result.exit_code == 1, result.output
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("dvcall: error: ") and needle in lines[0], result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_unwritable_output_directory(tmp_path):
    result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", str(tmp_path / "no" / "such" / "dir" / "o.vcf.gz")])
    assert result.exit_code == 1 and "does not exist (create it first)" in result.output


def test_output_must_be_vcf_gz(tmp_path):
    result, out = _run(tmp_path, out_name="out.vcf")
    assert result.exit_code == 1 and ".vcf.gz" in result.output and not out.exists()


def test_model_without_weights_is_refused(tmp_path):
    model = tmp_path / "empty_model"
    model.mkdir()
    result, out = _run(tmp_path, "--model", str(model))
    assert result.exit_code == 1 and "not a dvcall model" in result.output and not out.exists()


def test_debug_shows_traceback(tmp_path):
    from deepvariant_py.errors import InputError

    args = ["run", "--ref", REF, "--reads", "/nonexistent.bam", "--output-vcf", str(tmp_path / "o.vcf.gz")]
    plain = CliRunner().invoke(main, args)
    assert plain.exit_code == 1 and isinstance(plain.exception, SystemExit)  # one line, no traceback
    assert plain.output.strip().splitlines()[-1].startswith("dvcall: error:")
    debug = CliRunner().invoke(main, args + ["--debug"])
    assert isinstance(debug.exception, InputError) and debug.exc_info[2] is not None  # the error itself, with its traceback
    assert "does not exist" in str(debug.exception)


def _commands(group, path=()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, path + (name,))
        else:
            yield path + (name,), cmd


def test_every_command_and_every_flag_has_help():
    commands = list(_commands(main))
    assert {"run", "make-examples", "call-variants", "postprocess", "train", "train-merger"} <= {p[-1] for p, _ in commands}
    for path, cmd in commands:
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0 and "--help" in result.output, path
        assert (cmd.help or "").strip(), path
        bare = [p.opts[0] for p in cmd.params if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()]
        assert not bare, f"dvcall {' '.join(path)}: {bare} have no help text"


@pytest.mark.parametrize("flag, value", [("--vsc-min-fraction-snps", "nan"), ("--vsc-min-fraction-indels", "NaN"),
                                          ("--vsc-min-fraction-snps", "inf")])
def test_numbers_that_are_not_finite_are_refused(tmp_path, flag, value):
    """nan passed click's range (every comparison with it is false): every SNP candidate was dropped, exit 0."""
    result, out = _run(tmp_path, flag, value)
    assert result.exit_code == 2 and f"Invalid value for '{flag}'" in result.output and not out.exists()
    result = CliRunner().invoke(main, ["train", "--examples", "x", "--output", str(tmp_path / "m"), "--learning-rate", value])
    assert result.exit_code == 2 and "Invalid value for '--learning-rate'" in result.output


def test_postprocess_output_must_be_vcf_gz(tmp_path):
    out = tmp_path / "out.vcf"
    result = CliRunner().invoke(main, ["postprocess", "--ref", REF, "--calls", str(tmp_path / "c.jsonl.gz"), "--output-vcf", str(out)])
    assert result.exit_code == 1 and "--output-vcf" in result.output and "must end in .vcf.gz" in result.output
    assert not out.exists()


def test_an_unquoted_glob_gets_a_hint(capsys):
    """hostile17: `--examples examples/train-*.tfrecord.gz` unquoted became two arguments, and click's "Got unexpected
    extra argument" said nothing of why."""
    with pytest.raises(SystemExit) as exc:
        main.main(["train", "--examples", "a-1.tfrecord.gz", "a-2.tfrecord.gz", "--output", "m"], prog_name="dvcall")
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "unexpected extra argument (a-2.tfrecord.gz) (an unquoted glob? quote it" in err


def test_a_reader_closing_the_pipe_ends_the_command_quietly():
    import subprocess
    import sys
    # `true` reads nothing and exits at once: the output meets a closed pipe every time
    proc = subprocess.run(f"{sys.executable} -m deepvariant_py.cli presets | true; echo ${{PIPESTATUS[0]}}", shell=True,
                          capture_output=True, text=True, executable="/bin/bash")
    assert proc.stdout.strip() == "141" and proc.stderr == ""  # was "dvcall: error: Broken pipe", exit 1


def test_flags_that_cancel_each_other_are_named(tmp_path, caplog):
    import logging
    out = tmp_path / "out.vcf.gz"
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", str(out), "--regions",
                                           "chr20:10,000,000-10,001,000", "--phaser", "whatshap", "--no-phase-reads",
                                           "--no-realign", "--realign-long-reads"])
    assert result.exit_code == 0 and out.exists()
    messages = [r.getMessage() for r in caplog.records]
    assert "--phaser whatshap has no effect with --no-phase-reads: the reads are not phased" in messages
    assert "--realign-long-reads has no effect with --no-realign: no read is realigned" in messages


def test_keep_supplementary_uses_the_reads_flagged_supplementary(tmp_path):
    """Skipped by default, as DeepVariant skips them; a chimera-heavy 8x HiFi library lost sites to it (robust7)."""
    import pysam
    flagged = str(tmp_path / "supp.bam")
    with pysam.AlignmentFile(BAM) as inp, pysam.AlignmentFile(flagged, "wb", template=inp) as out:
        for read in inp.fetch("chr20", 10_000_000, 10_001_000):
            read.flag |= 0x800
            out.write(read)
    pysam.index(flagged)
    counts = []
    for extra in ([], ["--keep-supplementary"]):
        out = tmp_path / f"o{len(extra)}.vcf.gz"
        result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", flagged, "--output-vcf", str(out), "--regions",
                                           "chr20:10,000,000-10,001,000", *extra])
        assert result.exit_code == 0, result.output
        with pysam.VariantFile(str(out)) as vcf:
            counts.append(sum("PASS" in r.filter.keys() for r in vcf))
    assert counts[0] == 0 and counts[1] > 0


def test_ctrl_c_while_the_commands_load_is_one_line(monkeypatch, capsys):
    """The executable's entry point: an interrupt during the imports (before any handler exists) is no traceback."""
    from deepvariant_py.cli import entry

    class InterruptImport:
        def find_spec(self, name, path=None, target=None):
            if name == "deepvariant_py.cli.main":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "deepvariant_py.cli.main")
    monkeypatch.setattr(sys, "meta_path", [InterruptImport(), *sys.meta_path])
    with pytest.raises(SystemExit) as stop:
        entry.main()
    assert stop.value.code == 130
    assert capsys.readouterr().err == "dvcall: interrupted\n"


def test_the_recorded_command_can_be_pasted_into_a_shell(monkeypatch):
    """The VCF header's ##dvcall_command: a sample name with a space, a region with '*' come back as typed."""
    import shlex

    from deepvariant_py.cli.common import command_line

    argv = ["/usr/bin/dvcall", "run", "--sample-name", "my sample", "--regions", "{HLA-A*01:01:01:01}:2000-4000"]
    monkeypatch.setattr(sys, "argv", argv)
    assert shlex.split(command_line()) == ["dvcall", *argv[1:]]
