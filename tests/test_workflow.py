"""The shipped Snakemake workflow gives the same VCF as `dvcall run` (header lines with the command aside)."""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cli.main import main
from deepvariant_py.workflow import snakefile_path

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "testdata")
REF = os.path.abspath(os.path.join(TESTDATA, "ucsc.hg19.chr20.unittest.fasta.gz"))
BAM = os.path.abspath(os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.bam"))
REGION = "chr20:10,002,000-10,006,000"


def _body(path: str) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return [line for line in fh if not line.startswith("##dvcall_command")]


def _snakemake() -> list[str]:
    exe = shutil.which("snakemake")
    if exe is None:
        pytest.skip("snakemake is not installed: pip install -e '.[test]'")
    return [exe]


def _run_workflow(tmp_path, config_text: str) -> None:
    """snakemake on the shipped Snakefile with this config, in tmp_path, on 2 cores."""
    snakemake = _snakemake()
    config = tmp_path / "config.yaml"
    config.write_text(config_text)
    proc = subprocess.run(snakemake + ["--snakefile", snakefile_path(), "--configfile", str(config), "--cores", "2",
                                       "--directory", str(tmp_path), "--quiet", "all"],
                          capture_output=True, text=True, env={**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_workflow_command_prints_paths_and_config():
    result = CliRunner().invoke(main, ["workflow", "--print-path"])
    assert result.exit_code == 0 and result.output.strip() == snakefile_path() and os.path.exists(snakefile_path())
    result = CliRunner().invoke(main, ["workflow", "--print-config"])
    assert result.exit_code == 0 and "samples:" in result.output and "shards:" in result.output


def test_snakemake_vcf_equals_dvcall_run(tmp_path):
    _run_workflow(tmp_path, f"reference: {REF}\nsamples:\n  NA12878: {BAM}\nshards: 3\nregions: ['{REGION}']\n"
                            f"gvcf: true\noutdir: {tmp_path / 'results'}\n")
    vcf = tmp_path / "results" / "NA12878.vcf.gz"
    assert vcf.exists() and (tmp_path / "results" / "NA12878.vcf.gz.tbi").exists()
    assert len(list((tmp_path / "results" / "NA12878").glob("examples-*-of-00003.tfrecord.gz"))) == 3

    direct, direct_g = tmp_path / "direct.vcf.gz", tmp_path / "direct.g.vcf.gz"
    result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", str(direct),
                                       "--output-gvcf", str(direct_g), "--regions", REGION,
                                       "--sample-name", "NA12878", "--num-shards", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    body = _body(str(direct))
    assert sum(1 for line in body if not line.startswith("#")) > 20
    assert _body(str(vcf)) == body
    assert _body(str(tmp_path / "results" / "NA12878.g.vcf.gz")) == _body(str(direct_g))


def test_snakemake_phases_untagged_long_reads_like_dvcall_run(tmp_path):
    pytest.importorskip("whatshap")
    from test_phasing import _two_haplotype_sample
    ref, bam, _ = _two_haplotype_sample(tmp_path)
    region = "chr1:2,001-22,000"
    _run_workflow(tmp_path, f"reference: {ref}\nsamples:\n  S1: {bam}\nshards: 2\nregions: ['{region}']\n"
                            f"model_type: pacbio\noutdir: {tmp_path / 'results'}\n")
    assert (tmp_path / "results" / "S1" / "haplotagged.bam").exists()  # the pacbio model pools by haplotype
    direct = tmp_path / "direct.vcf.gz"
    result = CliRunner().invoke(main, ["run", "--ref", ref, "--reads", bam, "--output-vcf", str(direct), "--regions", region,
                                       "--model-type", "pacbio", "--sample-name", "S1", "--num-shards", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    body = _body(str(direct))
    assert sum(1 for line in body if not line.startswith("#")) > 20
    assert _body(str(tmp_path / "results" / "S1.vcf.gz")) == body
