"""identity.py: several --reads files of one sample that hold another individual's reads."""
from __future__ import annotations

import random

import numpy as np
import pytest
from click.testing import CliRunner

from builders import header_for, make_read, write_bam, write_fasta
from deepvariant_py.cli.main import main
from deepvariant_py.identity import (MIN_SITES, PROBE_CHUNK, agreement, disagreement_warning, individuals_warning,
                                     probe_windows)
from deepvariant_py.reads import open_reads
from deepvariant_py.reference import Reference
from deepvariant_py.regions import Region


def _counts(genotypes: list[list[int]], depth: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Per file and site, `depth` reads split by genotype (0 REF, 1 half ALT, 2 ALT); the ALT base is T (code 3)."""
    files, sites = len(genotypes), len(genotypes[0])
    ref, sub = np.zeros((files, sites), np.int64), np.zeros((files, sites, 4), np.int64)
    for f, gts in enumerate(genotypes):
        for s, gt in enumerate(gts):
            alt = depth * gt // 2
            ref[f, s], sub[f, s, 3] = depth - alt, alt
    return ref, sub


def test_one_individual_agrees():
    gts = [2] * 30 + [1] * 30 + [0] * 30
    ref, sub = _counts([gts, gts])
    for i in range(2):
        a = agreement(ref, sub, i)
        assert (a.sites, a.ref_reads, a.disagrees) == (30, 0, False)
    assert disagreement_warning(["a.bam", "b.bam"], ref, sub) is None


def test_another_individual_is_named():
    a_gts = [2] * 30 + [1] * 30
    b_gts = [2] * 10 + [1] * 10 + [0] * 10 + [1] * 15 + [0] * 15  # hom-ref or het at most of A's hom-ALT sites
    ref, sub = _counts([a_gts, b_gts])
    b = agreement(ref, sub, 1)
    assert b.sites == 30 and b.ref_fraction == pytest.approx((10 * 10 + 10 * 20) / (30 * 20))
    text = disagreement_warning(["a.bam", "b.bam"], ref, sub)
    assert text.startswith("--reads a.bam and b.bam look like two individuals' reads (b.bam shows the reference base "
                           "in 50% of its 600 reads at 30 SNPs where the other file is homozygous ALT")


def test_of_several_files_the_stranger_is_named():
    a_gts = [2] * 30 + [1] * 30
    b_gts = [0] * 20 + [1] * 10 + [0] * 30
    ref, sub = _counts([a_gts, a_gts, b_gts, a_gts])
    assert disagreement_warning(["l1", "l2", "l3", "l4"], ref, sub).startswith(
        "--reads l3 shows the reference base in 83% of its 600 reads at 30 SNPs where the other files are homozygous ALT")


def test_a_files_own_errors_do_not_select_sites():
    """Sites are the OTHER files' hom-ALT ones: reads of one file alone (its errors) never make a site."""
    ref, sub = _counts([[0] * 40, [0] * 40])
    sub[1, :, 1] = 20  # file 1 reads C everywhere the other reads REF
    ref[1] = 0
    assert agreement(ref, sub, 1).sites == 0


def test_too_few_sites_say_nothing():
    ref, sub = _counts([[2] * (MIN_SITES - 1), [0] * (MIN_SITES - 1)])
    assert not agreement(ref, sub, 1).judged
    assert disagreement_warning(["a", "b"], ref, sub) is None


def test_one_file_is_never_judged():
    ref, sub = _counts([[2] * 40])
    assert disagreement_warning(["a"], ref, sub) is None


def test_probe_windows_spread_and_stay_inside():
    regions = [Region("c1", 0, 1_000_000), Region("c2", 500, 2_000_500)]
    windows = probe_windows(regions, n=12, width=5_000)
    assert len(windows) == 12
    assert all(w.length == 5_000 for w in windows)
    assert {w.contig for w in windows} == {"c1", "c2"}
    for w in windows:
        r = next(r for r in regions if r.contig == w.contig)
        assert r.start <= w.start and w.end <= r.end
    assert sum(w.contig == "c2" for w in windows) == 8  # two thirds of the length, two thirds of the windows


def test_short_regions_are_read_whole():
    regions = [Region("c1", 100, 100 + PROBE_CHUNK + 10), Region("c2", 0, 40)]
    windows = probe_windows(regions, n=24, width=5_000)
    assert windows == [Region("c1", 100, 100 + PROBE_CHUNK), Region("c1", 100 + PROBE_CHUNK, 110 + PROBE_CHUNK),
                       Region("c2", 0, 40)]
    assert probe_windows([], n=24) == []


def _sample_bam(path, ref: str, alt_at: dict[int, str], genotype: dict[int, int], sample: str, seed: int) -> str:
    """Reads of 100 bp every 5 bp on both haplotypes (~20x each); haplotype 1 carries every ALT of genotype >= 1,
    haplotype 2 those of genotype 2."""
    rng = random.Random(seed)
    header = header_for("chr1", len(ref), sample=sample)
    haps = []
    for h in (1, 2):
        seq = list(ref)
        for pos, gt in genotype.items():
            if gt >= h:
                seq[pos] = alt_at[pos]
        haps.append("".join(seq))
    reads = []
    for start in range(0, len(ref) - 100, 5):
        h = rng.randrange(2)
        reads.append(make_read(f"r{seed}_{start}", start, "100M", haps[h][start:start + 100], header=header,
                               reverse=bool(start % 2), tags=[("RG", "rg1")]))
    return write_bam(path, reads, header)


@pytest.fixture(scope="module")
def two_people(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("identity")
    rng = random.Random(3)
    ref = "".join(rng.choice("ACGT") for _ in range(12_000))
    sites = list(range(300, 11_700, 190))  # 60 SNPs
    alt_at = {p: "ACGT"[("ACGT".index(ref[p]) + 1) % 4] for p in sites}
    person_a = {p: 2 if k % 2 else 1 for k, p in enumerate(sites)}  # 30 hom-ALT, 30 het
    person_b = {p: (0, 1, 2)[k % 3] for k, p in enumerate(sites)}  # another mix over the same sites
    fasta = write_fasta(tmp / "ref.fa", {"chr1": ref})
    return {"ref": fasta,
            "a1": _sample_bam(tmp / "a1.bam", ref, alt_at, person_a, "S", 1),
            "a2": _sample_bam(tmp / "a2.bam", ref, alt_at, person_a, "S", 2),
            "b": _sample_bam(tmp / "b.bam", ref, alt_at, person_b, "S", 4)}


def _warning(files, ref_path, regions=(Region("chr1", 0, 12_000),)):
    reference = Reference(ref_path)
    try:
        with open_reads(files, reference) as sources:
            return individuals_warning(sources, reference, list(regions))
    finally:
        reference.close()


def test_bams_of_one_individual_pass(two_people):
    assert _warning([two_people["a1"], two_people["a2"]], two_people["ref"]) is None


def test_bam_of_another_individual_is_warned_of(two_people):
    text = _warning([two_people["a1"], two_people["b"]], two_people["ref"])
    assert text is not None and "look like two individuals' reads" in text and "b.bam shows the reference base" in text
    # no regions: the probe reads the contigs that hold reads
    assert _warning([two_people["a1"], two_people["b"]], two_people["ref"], regions=()) == text


def test_one_file_is_not_probed(two_people):
    assert _warning([two_people["b"]], two_people["ref"]) is None


def test_run_and_the_first_shard_warn(two_people, tmp_path, caplog):
    """`dvcall run` says it before calling; of make-examples' shards only the first (the workflow runs many)."""
    files = ["--reads", two_people["a1"], "--reads", two_people["b"]]
    said = "look like two individuals' reads"
    with caplog.at_level("WARNING", logger="dvcall"):
        run = CliRunner().invoke(main, ["run", "--ref", two_people["ref"], *files, "--output-vcf",
                                        str(tmp_path / "o.vcf.gz"), "--num-shards", "1", "--quiet"])
    assert run.exit_code == 0, run.output
    assert caplog.text.count(said) == 1 and (tmp_path / "o.vcf.gz").exists()
    for shard, count in (("0/2", 1), ("1/2", 0)):
        caplog.clear()
        with caplog.at_level("WARNING", logger="dvcall"):
            me = CliRunner().invoke(main, ["make-examples", "--ref", two_people["ref"], *files, "--shard", shard,
                                           "--quiet", "--examples", str(tmp_path / f"ex{shard[0]}.tfrecord.gz")])
        assert me.exit_code == 0, me.output
        assert caplog.text.count(said) == count
