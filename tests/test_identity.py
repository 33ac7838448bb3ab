"""identity.py: several --reads files of one sample that hold another individual's reads."""
from __future__ import annotations

import random

import numpy as np
import pytest
from click.testing import CliRunner

from builders import header_for, make_read, write_bam, write_fasta
from deepvariant_py.cli.main import main
from deepvariant_py.identity import (MIN_SITES, agreement, disagreement_warning, individuals_warning, looks_haploid,
                                     probe_pieces, probe_windows, worst_disagreement)
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


def _pair(ref, sub, i, j):
    return agreement(ref[i], sub[i], ref[j], sub[j])


def test_one_individual_agrees():
    gts = [2] * 30 + [1] * 30 + [0] * 30
    ref, sub = _counts([gts, gts])
    for i, j in ((0, 1), (1, 0)):
        a = _pair(ref, sub, i, j)
        assert (a.sites, a.ref_reads, a.disagrees) == (30, 0, False)
    assert disagreement_warning(["a.bam", "b.bam"], ref, sub) is None


def test_another_individual_is_named():
    a_gts = [2] * 30 + [1] * 30
    b_gts = [2] * 10 + [1] * 10 + [0] * 10 + [1] * 15 + [0] * 15  # hom-ref or het at most of A's hom-ALT sites
    ref, sub = _counts([a_gts, b_gts])
    b = _pair(ref, sub, 1, 0)
    assert b.sites == 30 and b.ref_fraction == pytest.approx((10 * 10 + 10 * 20) / (30 * 20))
    assert not _pair(ref, sub, 0, 1).judged  # B's 10 hom-ALT sites are too few to judge A by
    text = disagreement_warning(["a.bam", "b.bam"], ref, sub)
    assert text.startswith("--reads b.bam and a.bam look like two individuals' reads: b.bam shows the reference base "
                           "in 50% of its 600 reads at 30 SNPs where a.bam is homozygous ALT")


def test_a_files_own_errors_do_not_select_its_sites():
    """A file is judged at the OTHER side's hom-ALT sites: its own errors never make one."""
    ref, sub = _counts([[0] * 40, [0] * 40])
    sub[1, :, 1], ref[1] = 20, 0  # file 1 reads C everywhere file 0 reads REF
    assert _pair(ref, sub, 1, 0).sites == 0


def test_of_several_files_the_stranger_is_named():
    a_gts = [2] * 30 + [1] * 30
    b_gts = [0] * 20 + [1] * 10 + [0] * 30
    ref, sub = _counts([a_gts, a_gts, b_gts, a_gts])
    assert disagreement_warning(["l1", "l2", "l3", "l4"], ref, sub).startswith(
        "--reads l3 and l1 look like two individuals' reads: l3 shows the reference base in 83% of its 600 reads")


def test_two_lanes_of_a_stranger_do_not_hide_each_other():
    """Pooled, B's lanes would only be judged where A's and B's reads together look hom-ALT: where both are."""
    a_gts = [2] * 30 + [1] * 30 + [0] * 30
    b_gts = [2] * 10 + [0] * 20 + [1] * 20 + [2] * 20 + [0] * 20
    ref, sub = _counts([a_gts, a_gts, b_gts, b_gts])
    total_ref, total_sub = ref.sum(axis=0), sub.sum(axis=0)
    pooled = agreement(ref[2], sub[2], total_ref - ref[2], total_sub - sub[2])
    assert not pooled.disagrees  # what a pooled comparison alone would say
    text = disagreement_warning(["a1", "a2", "b1", "b2"], ref, sub)
    assert text is not None and "look like two individuals' reads" in text
    assert worst_disagreement(ref, sub).other is not None


def test_low_coverage_lanes_are_judged_against_the_others_pooled():
    """Lanes of 4 reads a site: no pair has the depth to call a hom-ALT site, the pooled others have."""
    a_gts = [2] * 30 + [1] * 30
    b_gts = [0] * 30 + [1] * 30
    ref, sub = _counts([a_gts, a_gts, a_gts, a_gts, b_gts], depth=4)
    finding = worst_disagreement(ref, sub)
    assert finding is not None and (finding.own, finding.other) == (4, None)
    assert disagreement_warning(list("abcde"), ref, sub).startswith("--reads e shows the reference base in 100%")


def test_ten_x_files_are_judged():
    a_gts = [2] * 30 + [1] * 30
    b_gts = [0] * 30 + [1] * 30
    ref, sub = _counts([a_gts, b_gts], depth=10)
    assert _pair(ref, sub, 1, 0).disagrees


def test_one_persons_haplotypes_in_two_files_are_not_two_people():
    """whatshap split / trio-binned reads: each file is haploid, and they differ at every het by design."""
    hap1 = [2] * 30 + [2] * 30 + [0] * 30  # hom-ALT sites, then hets on haplotype 1, then hets on haplotype 2
    hap2 = [2] * 30 + [0] * 30 + [2] * 30
    ref, sub = _counts([hap1, hap2])
    assert looks_haploid(ref[0], sub[0]) and _pair(ref, sub, 1, 0).disagrees
    assert disagreement_warning(["h1.bam", "h2.bam"], ref, sub) is None
    ref, sub = _counts([[2] * 30 + [1] * 60])
    assert not looks_haploid(ref[0], sub[0])


def test_too_few_sites_say_nothing():
    ref, sub = _counts([[2] * (MIN_SITES - 1), [0] * (MIN_SITES - 1)])
    assert not _pair(ref, sub, 1, 0).judged
    assert disagreement_warning(["a", "b"], ref, sub) is None


def test_one_file_is_never_judged():
    ref, sub = _counts([[2] * 40])
    assert disagreement_warning(["a"], ref, sub) is None and worst_disagreement(ref, sub) is None


def test_probe_pieces_widen_small_intervals():
    lengths = {"c1": 100_000, "c2": 600}
    pieces = probe_pieces([Region("c1", 5_000, 5_001), Region("c1", 5_300, 5_350), Region("c1", 50_000, 60_000),
                           Region("c2", 100, 101)], lengths)
    assert pieces == [Region("c1", 4_500, 5_825), Region("c1", 50_000, 60_000), Region("c2", 0, 600)]


def test_probe_windows_spread_and_stay_inside():
    pieces = [Region("c1", 0, 1_000_000), Region("c2", 500, 2_000_500)]
    windows = probe_windows(pieces, width=5_000, most=48)
    assert len(windows) == 48 and all(len(w) == 1 and w[0].length == 5_000 for w in windows)
    first = [w[0] for w in windows[:24]]
    assert 15 <= sum(r.contig == "c2" for r in first) <= 17  # two thirds of the length, ~two thirds of a round
    for r in (w[0] for w in windows):
        p = next(p for p in pieces if p.contig == r.contig)
        assert p.start <= r.start and r.end <= p.end
    assert len({(w[0].contig, w[0].start) for w in windows}) == 48  # none twice


def test_probe_windows_cross_pieces_and_cover_short_regions():
    pieces = [Region("c1", 100, 3_100), Region("c1", 10_000, 14_000), Region("c2", 0, 500)]
    windows = probe_windows(pieces, width=5_000, most=192)
    assert len(windows) == 2  # 7,500 bp: two slots, each read once
    assert sorted(windows, key=lambda w: w[0].start) == [[Region("c1", 100, 3_100), Region("c1", 10_000, 12_000)],
                                                         [Region("c1", 12_000, 14_000), Region("c2", 0, 500)]]
    assert probe_windows([]) == []


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


def test_haplotag_warns(two_people, tmp_path, caplog):
    """The workflow's whatshap pass logs its first pass only: `dvcall haplotag`, which merges the files, says it."""
    pytest.importorskip("whatshap")
    files = ["--reads", two_people["a1"], "--reads", two_people["b"]]
    calls = str(tmp_path / "first.vcf.gz")
    assert CliRunner().invoke(main, ["run", "--ref", two_people["ref"], *files, "--output-vcf", calls,
                                     "--num-shards", "1", "--quiet"]).exit_code == 0
    caplog.clear()
    with caplog.at_level("WARNING", logger="dvcall"):
        result = CliRunner().invoke(main, ["haplotag", "--ref", two_people["ref"], *files, "--calls", calls,
                                           "--output", str(tmp_path / "tagged.bam"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert caplog.text.count("look like two individuals' reads") == 1
