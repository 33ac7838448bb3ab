"""The VCF does not depend on the shard count or the run (header lines with the date/command aside)."""
from __future__ import annotations

import gzip
import os

from click.testing import CliRunner

from cli.main import main

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "testdata")
REF = os.path.join(TESTDATA, "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.bam")


def _body(path: str) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return [line for line in fh if not line.startswith("##dvcall_command")]


def test_same_vcf_for_one_and_two_shards(tmp_path):
    bodies = []
    for shards in ("1", "2"):
        out = str(tmp_path / f"s{shards}.vcf.gz")
        result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", out, "--regions",
                                           "chr20:10,002,000-10,006,000", "--num-shards", shards, "--quiet"])
        assert result.exit_code == 0, result.output
        bodies.append(_body(out))
    assert len(bodies[0]) > 20 and bodies[0] == bodies[1]
