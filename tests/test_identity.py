"""identity.py: several --reads files of one sample that hold another individual's reads."""
from __future__ import annotations

import random

import numpy as np
import pysam
import pytest
from click.testing import CliRunner

from builders import header_for, make_read, write_bam, write_fasta
from deepvariant_py.cli.main import main
from deepvariant_py.identity import (MIN_SITES, ProbeCounts, ReadsUnit, agreement, disagreement_warning, individuals_warning, looks_haploid,
                                     probe_pieces, probe_windows, reads_units, worst_disagreement)
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
    assert disagreement_warning(["--reads a.bam", "--reads b.bam"], ProbeCounts.of(ref, sub)) is None


def test_another_individual_is_named():
    a_gts = [2] * 30 + [1] * 30
    b_gts = [2] * 10 + [1] * 10 + [0] * 10 + [1] * 15 + [0] * 15  # hom-ref or het at most of A's hom-ALT sites
    ref, sub = _counts([a_gts, b_gts])
    b = _pair(ref, sub, 1, 0)
    assert b.sites == 30 and b.ref_fraction == pytest.approx((10 * 10 + 10 * 20) / (30 * 20))
    assert not _pair(ref, sub, 0, 1).judged  # B's 10 hom-ALT sites are too few to judge A by
    text = disagreement_warning(["--reads a.bam", "--reads b.bam"], ProbeCounts.of(ref, sub))
    assert text.startswith("--reads b.bam and --reads a.bam look like two individuals' reads: where --reads a.bam is "
                           "homozygous ALT (30 SNPs), 50% of the 600 reads in --reads b.bam show the reference base")


def test_a_files_own_errors_do_not_select_its_sites():
    """A file is judged at the OTHER side's hom-ALT sites: its own errors never make one."""
    ref, sub = _counts([[0] * 40, [0] * 40])
    sub[1, :, 1], ref[1] = 20, 0  # file 1 reads C everywhere file 0 reads REF
    assert _pair(ref, sub, 1, 0).sites == 0


def test_of_several_files_the_stranger_is_named():
    a_gts = [2] * 30 + [1] * 30
    b_gts = [0] * 20 + [1] * 10 + [0] * 30
    ref, sub = _counts([a_gts, a_gts, b_gts, a_gts])
    assert disagreement_warning(["l1", "l2", "l3", "l4"], ProbeCounts.of(ref, sub)).startswith(
        "l3 and l1 look like two individuals' reads: where l1 is homozygous ALT (30 SNPs), 83% of the 600 reads in l3")


def test_two_lanes_of_a_stranger_do_not_hide_each_other():
    """Pooled, B's lanes would only be judged where A's and B's reads together look hom-ALT: where both are."""
    a_gts = [2] * 30 + [1] * 30 + [0] * 30
    b_gts = [2] * 10 + [0] * 20 + [1] * 20 + [2] * 20 + [0] * 20
    ref, sub = _counts([a_gts, a_gts, b_gts, b_gts])
    total_ref, total_sub = ref.sum(axis=0), sub.sum(axis=0)
    pooled = agreement(ref[2], sub[2], total_ref - ref[2], total_sub - sub[2])
    assert not pooled.disagrees  # what a pooled comparison alone would say
    text = disagreement_warning(["a1", "a2", "b1", "b2"], ProbeCounts.of(ref, sub))
    assert text is not None and "look like two individuals' reads" in text
    assert worst_disagreement(ProbeCounts.of(ref, sub)).other is not None


def test_low_coverage_lanes_are_judged_against_the_others_pooled():
    """Lanes of 4 reads a site: no pair has the depth to call a hom-ALT site, the pooled others have."""
    a_gts = [2] * 30 + [1] * 30
    b_gts = [0] * 30 + [1] * 30
    ref, sub = _counts([a_gts, a_gts, a_gts, a_gts, b_gts], depth=4)
    finding = worst_disagreement(ProbeCounts.of(ref, sub))
    assert finding is not None and (finding.own, finding.other) == (4, None)
    assert disagreement_warning(list("abcde"), ProbeCounts.of(ref, sub)).startswith(
        "e looks like another individual's reads: where the rest of the reads are homozygous ALT (30 SNPs), 100% of")


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
    assert disagreement_warning(["h1.bam", "h2.bam"], ProbeCounts.of(ref, sub)) is None  # a haploid side is no evidence
    ref, sub = _counts([[2] * 30 + [1] * 60])
    assert not looks_haploid(ref[0], sub[0])


def test_too_few_sites_say_nothing():
    ref, sub = _counts([[2] * (MIN_SITES - 1), [0] * (MIN_SITES - 1)])
    assert not _pair(ref, sub, 1, 0).judged
    assert disagreement_warning(["a", "b"], ProbeCounts.of(ref, sub)) is None


def test_one_file_is_never_judged():
    ref, sub = _counts([[2] * 40])
    assert disagreement_warning(["a"], ProbeCounts.of(ref, sub)) is None and worst_disagreement(ProbeCounts.of(ref, sub)) is None


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


def _sample_bam(path, ref: str, alt_at: dict[int, str], genotype: dict[int, int], sample: str, seed: int,
                header=None, rg: str = "rg1") -> str:
    """Reads of 100 bp every 6 bp, each from a random haplotype (~17x); haplotype 1 carries every ALT of genotype >= 1,
    haplotype 2 those of genotype 2."""
    header = header or header_for("chr1", len(ref), sample=sample)
    return write_bam(path, _sample_reads(ref, alt_at, genotype, seed, header, rg), header)


def _sample_reads(ref: str, alt_at: dict[int, str], genotype: dict[int, int], seed: int, header, rg: str) -> list:
    rng = random.Random(seed)
    haps = []
    for h in (1, 2):
        seq = list(ref)
        for pos, gt in genotype.items():
            if gt >= h:
                seq[pos] = alt_at[pos]
        haps.append("".join(seq))
    reads = []
    for start in range(0, len(ref) - 100, 6):
        h = rng.randrange(2)
        reads.append(make_read(f"r{seed}_{start}", start, "100M", haps[h][start:start + 100], header=header,
                               reverse=bool(start % 2), tags=[("RG", rg)]))
    return reads


@pytest.fixture(scope="module")
def two_people(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("identity")
    rng = random.Random(3)
    ref = "".join(rng.choice("ACGT") for _ in range(42_000))
    sites = list(range(300, 41_700, 1_050))  # 40 SNPs, each in its own 1 kb stretch (linked sites count once)
    alt_at = {p: "ACGT"[("ACGT".index(ref[p]) + 1) % 4] for p in sites}
    person_a = {p: 2 if k % 2 else 1 for k, p in enumerate(sites)}  # 20 hom-ALT, 20 het
    person_b = {p: (0, 1, 2)[k % 3] for k, p in enumerate(sites)}  # another mix over the same sites
    fasta = write_fasta(tmp / "ref.fa", {"chr1": ref})
    lanes = pysam.AlignmentHeader.from_dict({"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": len(ref)}],
                                             "RG": [{"ID": "L1", "SM": "S"}, {"ID": "L2", "SM": "S"}]})
    return {"ref": fasta, "alt_at": alt_at, "seq": ref, "gt_a": person_a, "gt_b": person_b, "lanes": lanes,
            "a1": _sample_bam(tmp / "a1.bam", ref, alt_at, person_a, "S", 1),
            "a2": _sample_bam(tmp / "a2.bam", ref, alt_at, person_a, "S", 2),
            "b": _sample_bam(tmp / "b.bam", ref, alt_at, person_b, "S", 4)}


def _warning(files, ref_path, regions=(Region("chr1", 0, 42_000),)):
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
    assert text is not None and "look like two individuals' reads" in text and "b.bam show the reference base" in text
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


def test_units_are_files_or_the_read_groups_of_one_sample():
    one = [("L1", "S"), ("L2", "S")]
    assert reads_units(["x.bam"], [one]) == [ReadsUnit(0, "x.bam", "L1"), ReadsUnit(0, "x.bam", "L2"),
                                             ReadsUnit(0, "x.bam", "")]
    assert reads_units(["x.bam"], [[("L1", "S"), ("L2", "T")]]) == [ReadsUnit(0, "x.bam")]  # pooled samples: warned apart
    assert reads_units(["x.bam", "y.bam"], [[("L1", "S")], []]) == [ReadsUnit(0, "x.bam"), ReadsUnit(1, "y.bam")]
    assert [u.name for u in reads_units(["x.bam"], [one])] == ["read group L1 of x.bam", "read group L2 of x.bam",
                                                                "the reads of x.bam without a known read group"]
    # an @RG line without SM belongs to the file's sample: its lane is compared too
    assert len(reads_units(["x.bam"], [[("L1", "S"), ("L2", "")]])) == 3


def _lanes_bam(two_people, path, second: str) -> str:
    reads = (_sample_reads(two_people["seq"], two_people["alt_at"], two_people["gt_a"], 11, two_people["lanes"], "L1")
             + _sample_reads(two_people["seq"], two_people["alt_at"], two_people[second], 12, two_people["lanes"], "L2"))
    return write_bam(path, reads, two_people["lanes"])


def test_a_lane_of_another_individual_inside_one_bam(two_people, tmp_path):
    swapped = _lanes_bam(two_people, tmp_path / "swapped.bam", "gt_b")
    text = _warning([swapped], two_people["ref"])
    assert text is not None and text.startswith(f"read group L2 of {swapped} and read group L1 of {swapped} look like "
                                                "two individuals' reads")
    assert _warning([_lanes_bam(two_people, tmp_path / "lanes.bam", "gt_a")], two_people["ref"]) is None


def test_hundreds_of_units_are_judged_against_the_pool_only(monkeypatch):
    import deepvariant_py.identity as identity
    monkeypatch.setattr(identity, "MAX_PAIRWISE", 3)
    a_gts, b_gts = [2] * 30 + [1] * 30, [0] * 30 + [1] * 30
    ref, sub = _counts([a_gts, a_gts, a_gts, b_gts])
    finding = worst_disagreement(ProbeCounts.of(ref, sub))
    assert finding is not None and (finding.own, finding.other) == (3, None)


def test_a_haploid_unit_is_still_judged_against_a_diploid_one():
    """A male's chrX lane beside a stranger's diploid reads: the lane's REF reads at the stranger's hom-ALT sites
    count; only the haploid side's own hom-ALT calls are no evidence."""
    male = [2] * 30 + [0] * 30 + [0] * 30
    stranger = [2] * 10 + [1] * 10 + [2] * 20 + [1] * 30 + [0] * 20
    ref, sub = _counts([male, stranger])
    assert looks_haploid(ref[0], sub[0]) and not looks_haploid(ref[1], sub[1])
    finding = worst_disagreement(ProbeCounts.of(ref, sub))
    assert (finding.own, finding.other) == (0, 1)


def test_hets_linked_on_a_few_long_reads_count_as_one_site():
    """Eight long reads over a stretch, all from one haplotype, show its six hets as hom-ALT together: one site."""
    same = [2] * 24 + [1] * 6
    ref, sub = _counts([same, same], depth=8)
    lone = np.arange(24) * 20_000  # 24 hom-ALT sites far apart
    pos = np.concatenate([lone, 410_000 + np.arange(6) * 100])  # six hets within 550 bp
    sub[1, 24:, 3], ref[1, 24:] = 8, 0  # file 1's eight reads there all carry the ALT haplotype
    flat = agreement(ref[0], sub[0], ref[1], sub[1])
    assert flat.sites == 30 and flat.ref_fraction == pytest.approx(24 / 240) and flat.disagrees  # what unlinked counting says
    linked = agreement(ref[0], sub[0], ref[1], sub[1], pos, 10_000)
    assert linked.sites == 25 and not linked.disagrees
    assert disagreement_warning(["a", "b"], ProbeCounts.of(ref, sub, long=[True, True], pos=pos)) is None


def test_copies_of_one_fragment_count_once(tmp_path):
    from deepvariant_py.identity import _counts as probe_counts
    ref_seq = "ACGT" * 50
    header = header_for("chr1", len(ref_seq))
    fasta = write_fasta(tmp_path / "r.fa", {"chr1": ref_seq})
    reads = [make_read("dup", 10, "50M", ref_seq[10:60], header=header) for _ in range(8)]
    reads.append(make_read("other", 12, "50M", ref_seq[12:62], header=header))
    reference = Reference(fasta)
    from deepvariant_py.read_events import encode_bases
    ref_count, _, n, _ = probe_counts(reads, reference, Region("chr1", 0, 100), encode_bases(ref_seq[:100]))
    reference.close()
    assert n == 2 and ref_count[20] == 2


def test_one_site_cannot_carry_the_warning():
    """A het where the other side's eight reads all came from one haplotype looks hom-ALT; this unit's REF reads
    there are many, but at one site: another individual shows REF at many sites."""
    gts = [2] * 16
    ref, sub = _counts([gts, gts], depth=8)
    ref[0, 0], sub[0, 0, 3] = 11, 0  # unit 0 reads 11 REF at the first site (its other haplotype)
    a = _pair(ref, sub, 0, 1)
    assert a.ref_fraction > 0.08 and a.ref_sites == 1 and not a.disagrees


def test_linked_sites_by_distance_not_bins():
    gts = [2] * 3
    ref, sub = _counts([gts, gts])
    pos = np.array([9_900, 10_500, 30_000])  # the first two 600 bp apart across a 10 kb boundary
    assert agreement(ref[0], sub[0], ref[1], sub[1], pos, 10_000).sites == 2


def test_integer_read_group_tags_name_their_read_group(two_people, tmp_path):
    """RG:i:2 on a read names @RG ID:2 (a tool that wrote the tag as a number)."""
    header = pysam.AlignmentHeader.from_dict({"HD": {"VN": "1.6", "SO": "coordinate"},
                                              "SQ": [{"SN": "chr1", "LN": len(two_people["seq"])}],
                                              "RG": [{"ID": "1", "SM": "S"}, {"ID": "2", "SM": "S"}]})
    reads = (_sample_reads(two_people["seq"], two_people["alt_at"], two_people["gt_a"], 21, header, 1)
             + _sample_reads(two_people["seq"], two_people["alt_at"], two_people["gt_b"], 22, header, 2))
    text = _warning([write_bam(tmp_path / "int.bam", reads, header)], two_people["ref"])
    assert text is not None and "read group 2 of" in text and "read group 1 of" in text


def test_three_hets_of_one_haplotype_in_29_sites_cannot_carry_it():
    """verify48's HiFi read group: 3 of 29 'hom-ALT' sites were hets whose 8 reads all came from one haplotype."""
    ref, sub = _counts([[2] * 29, [2] * 29], depth=8)
    for k in range(3):
        ref[0, k], sub[0, k, 3] = 4, 4  # this unit's reads there: half REF
    a = _pair(ref, sub, 0, 1)
    assert a.ref_fraction >= 0.05 and a.ref_sites == 3 and not a.disagrees
    ref[0, 3:6], sub[0, 3:6, 3] = 4, 4  # half REF at three more sites (a stranger's spread): 6 of 29 sites
    spread = _pair(ref, sub, 0, 1)
    assert spread.ref_sites == 6 and spread.ref_fraction == pytest.approx(24 / 232) and spread.disagrees


def test_the_unit_that_disagrees_with_most_others_is_named_first():
    """Of a good lane and a stranger, the stranger (at odds with every lane) leads the warning, whichever of the
    two showed the REF reads."""
    a_gts = [2] * 30 + [1] * 30 + [0] * 30
    b_gts = [0] * 30 + [1] * 30 + [2] * 30
    ref, sub = _counts([a_gts, a_gts, b_gts, a_gts])
    counts = ProbeCounts.of(ref, sub)
    worst = worst_disagreement(counts)
    assert (worst.own, worst.other) == (0, 2)  # lane 1 reads REF at the stranger's hom-ALT sites (100%, the first max)
    assert disagreement_warning(["l1", "l2", "l3", "l4"], counts).startswith(
        "l3 and l1 look like two individuals' reads: where l3 is homozygous ALT (30 SNPs), 100% of the 600 reads in l1")
