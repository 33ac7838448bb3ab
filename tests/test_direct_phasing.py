"""direct_phasing: HP tags for a partition's reads from its own heterozygous-looking sites, and `run` with the
default phaser (one pass, no whatshap)."""
from __future__ import annotations

import logging
import os

import numpy as np
import pysam
from click.testing import CliRunner

from builders import pileup_reads, two_haplotype_sample
from deepvariant_py.cli.main import main
from deepvariant_py.direct_phasing import PhasingOptions, allele_matrix, phase_matrix, phase_reads, phasing_sites
from deepvariant_py.make_examples import MakeExamplesOptions, process_partition
from deepvariant_py.read_events import extract_events
from deepvariant_py.reads import open_reads
from deepvariant_py.reference import Reference
from deepvariant_py.regions import Region


def _same_haplotype_same_label(labels: np.ndarray, origin: np.ndarray) -> bool:
    """Every tagged read of one label comes from one haplotype, and the two labels from different ones."""
    tagged = labels != 0
    groups = {int(lab): set(origin[tagged & (labels == lab)].tolist()) for lab in np.unique(labels[tagged])}
    return all(len(g) == 1 for g in groups.values()) and len(set().union(*groups.values())) == len(groups)


def test_reads_of_two_haplotypes_get_two_labels_despite_an_error():
    # 3 sites; reads 0-2 from haplotype A (alt, ref, alt), reads 3-5 from B; read 1 has an error at site 2.
    m = np.array([[1, -1, 1], [1, -1, -1], [0, -1, 1], [-1, 1, -1], [-1, 1, 0], [0, 1, -1]], np.int8)
    h, reads = phase_matrix(m)
    assert _same_haplotype_same_label(reads, np.array([0, 0, 0, 1, 1, 1]))
    assert np.all(reads != 0)
    assert abs(int(h @ np.array([1, -1, 1]))) == 3  # the sites are oriented as haplotype A, up to the label


def test_a_site_whose_reads_disagree_with_every_phase_is_dropped():
    # Sites 0, 1, 3 phase the reads cleanly; site 2 shows the alt on reads of both haplotypes at random.
    m = np.array([[1, 1, 1, 1], [1, 1, -1, 1], [1, 1, 1, 1], [-1, -1, 1, -1], [-1, -1, -1, -1], [-1, -1, 1, -1]], np.int8)
    h, reads = phase_matrix(m)
    assert h[2] == 0 and np.all(h[[0, 1, 3]] != 0)
    assert _same_haplotype_same_label(reads, np.array([0, 0, 0, 1, 1, 1])) and np.all(reads != 0)


def test_unlinked_blocks_are_phased_apart_and_reads_without_a_site_stay_untagged():
    # Reads 0-3 cover sites 0-1 only, reads 4-7 sites 2-3 only; read 8 covers no site.
    m = np.zeros((9, 4), np.int8)
    m[0:2, 0:2], m[2:4, 0:2] = [1, -1], [-1, 1]
    m[4:6, 2:4], m[6:8, 2:4] = [1, 1], [-1, -1]
    _, reads = phase_matrix(m)
    assert reads[8] == 0
    assert _same_haplotype_same_label(reads[:4], np.array([0, 0, 1, 1]))
    assert _same_haplotype_same_label(reads[4:8], np.array([0, 0, 1, 1]))


def test_a_tie_between_linking_reads_leaves_the_site_out():
    # Site 1 is linked to site 0 by one read saying "same phase" and one saying "opposite".
    m = np.array([[1, 1], [-1, 1], [1, 0], [-1, 0]], np.int8)
    h, _ = phase_matrix(m)
    assert h[1] == 0


def test_sites_are_heterozygous_looking_substitutions_only():
    ref = "ACGTACGTACGTACGTACGT"
    # a het SNP A>T at column 4; read 0 also has a lone error at column 11 (1 read of 4: not a site)
    rows = ["ACGTTCGTACGGACGTAC", "ACGTTCGTACGTACGTAC", "ACGTACGTACGTACGTAC", "ACGTACGTACGTACGTAC"]
    reads = pileup_reads(ref, rows)
    events = extract_events(reads, ref, 0, 10)
    positions, ref_codes, alt_codes = phasing_sites(events, ref, 0, PhasingOptions(min_reads_each=2))
    assert positions.tolist() == [4]
    assert "ACGT"[ref_codes[0]] == "A" and "ACGT"[alt_codes[0]] == "T"
    m = allele_matrix(events, positions, ref_codes, alt_codes)
    assert m[:, 0].tolist() == [1, 1, -1, -1]


def test_low_quality_bases_neither_make_sites_nor_vote():
    ref = "ACGTACGTACGTACGTACGT"
    rows = [("ACGTTCGTACGTACGTAC", {"col_quals": {4: 3}}), ("ACGTTCGTACGTACGTAC", {"col_quals": {4: 3}}),
            "ACGTACGTACGTACGTAC", "ACGTACGTACGTACGTAC"]
    events = extract_events(pileup_reads(ref, rows), ref, 0, 10)
    assert len(phasing_sites(events, ref, 0)[0]) == 0
    assert np.all(phase_reads(events, ref, 0) == 0)


def _events_of(bam: str, fasta: str, start: int, end: int):
    reference = Reference(fasta)
    with pysam.AlignmentFile(bam) as fh:
        reads = list(fh.fetch("chr1", start, end))
    seq = reference.fetch("chr1", 0, reference.length("chr1"))
    return reads, extract_events(reads, seq, 0, 10), seq


def test_long_reads_of_a_partition_are_split_by_haplotype(tmp_path):
    fasta, bam, _ = two_haplotype_sample(str(tmp_path))
    reads, events, seq = _events_of(bam, fasta, 10_000, 11_000)
    hp = phase_reads(events, seq, 0)
    origin = np.array([int(r.query_name[1]) for r in reads])
    assert np.count_nonzero(hp) == len(reads)
    assert _same_haplotype_same_label(hp, origin)


def test_make_examples_phase_reads_replaces_the_tags_the_reads_carry(tmp_path):
    fasta, bam, _ = two_haplotype_sample(str(tmp_path))
    tagged = str(tmp_path / "wrong_tags.bam")
    with pysam.AlignmentFile(bam) as inp, pysam.AlignmentFile(tagged, "wb", template=inp) as out:
        for read in inp:
            read.set_tag("HP", 1, "i")  # every read on one haplotype: wrong for half of them
            out.write(read)
    pysam.index(tagged)
    reference = Reference(fasta)
    region = Region("chr1", 10_000, 11_000)
    for phase, expect_split in ((False, False), (True, True)):
        with open_reads(tagged, reference) as handle:
            part = process_partition(handle, reference, region, MakeExamplesOptions(realign=False, phase_reads=phase))
        hp = part.canvas.events.hp
        origin = np.array([int(r.query_name[1]) for r in part.canvas.reads])
        assert _same_haplotype_same_label(hp, origin) == expect_split


def _run(tmp_path, ref, bam, *extra):
    work, out = tmp_path / "work", str(tmp_path / "out.vcf.gz")
    result = CliRunner().invoke(main, ["run", "--ref", ref, "--reads", bam, "--output-vcf", out, "--model-type", "pacbio",
                                       "--regions", "chr1:2,001-22,000", "--intermediate-dir", str(work),
                                       "--num-shards", "1", *extra])
    assert result.exit_code == 0, result.output
    return work, out


def test_run_phases_untagged_long_reads_in_one_pass_and_calls_the_hets(tmp_path, caplog):
    ref, bam, snps = two_haplotype_sample(str(tmp_path))
    with caplog.at_level(logging.INFO, logger="dvcall"):
        work, out = _run(tmp_path, ref, bam)
    messages = [r.getMessage() for r in caplog.records]
    assert any("phasing each partition's reads" in m for m in messages)
    assert not any("carry an HP tag" in m for m in messages)  # the shards saw tagged reads
    assert not os.path.exists(work / "firstpass.vcf.gz")  # one pass
    with pysam.VariantFile(out) as vcf:
        hets = {r.pos - 1 for r in vcf if "PASS" in r.filter.keys() and sorted(r.samples[0]["GT"]) == [0, 1]}
    inside = {p for p in snps if 2_000 <= p < 22_000}
    assert len(hets & inside) >= 0.95 * len(inside) and len(hets - inside) <= 1


def test_no_phase_reads_calls_the_untagged_reads_as_they_are_and_says_so(tmp_path, caplog):
    ref, bam, _ = two_haplotype_sample(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        _run(tmp_path, ref, bam, "--no-phase-reads")
    assert any("carry an HP tag" in r.getMessage() for r in caplog.records)


def test_phase_reads_refuses_a_model_without_an_hp_channel(tmp_path):
    ref, bam, _ = two_haplotype_sample(str(tmp_path))
    out = str(tmp_path / "out.vcf.gz")
    result = CliRunner().invoke(main, ["run", "--ref", ref, "--reads", bam, "--output-vcf", out, "--phase-reads",
                                       "--model-type", "illumina", "--regions", "chr1:2,001-3,000", "--num-shards", "1"])
    assert result.exit_code != 0 and "no HP channel" in result.output and "Traceback" not in result.output
    assert not os.path.exists(out)
    examples = str(tmp_path / "ex.tfrecord.gz")
    result = CliRunner().invoke(main, ["make-examples", "--ref", ref, "--reads", bam, "--examples", examples, "--phase-reads",
                                       "--regions", "chr1:2,001-3,000"])
    assert result.exit_code != 0 and "no HP channel" in result.output and "Traceback" not in result.output
    assert not os.path.exists(examples)


def test_the_default_phaser_is_direct_but_whatshap_for_the_hybrid_model_when_installed(monkeypatch):
    from deepvariant_py import phasing
    from deepvariant_py.model import default_model_dir
    from deepvariant_py.model_info import load_model_info
    hybrid, pacbio = (load_model_info(default_model_dir(m)) for m in ("hybrid-hifi-illumina", "pacbio-hifi"))
    monkeypatch.setattr(phasing, "whatshap_installed", lambda: True)
    assert phasing.default_phaser(pacbio) == "direct" and phasing.default_phaser(hybrid) == "whatshap"
    monkeypatch.setattr(phasing, "whatshap_installed", lambda: False)
    assert phasing.default_phaser(hybrid) == "direct"


def _retagged(bam, path, hp_of_read):
    with pysam.AlignmentFile(bam) as inp, pysam.AlignmentFile(path, "wb", template=inp) as out:
        for i, read in enumerate(inp):
            read.set_tag("HP", hp_of_read(i, int(read.query_name[1])), "i")
            read.set_tag("PS", 1, "i")
            out.write(read)
    pysam.index(path)
    return path


def test_tags_that_contradict_the_reads_alleles_are_replaced_where_run_trusts_tags(tmp_path):
    """Tags of another phasing (two runs haplotagged apart and merged) or random ones were trusted: clear hets
    called 1/1 or 0/0 (ONT SNP F1 0.22). With run's phase_untagged, a partition whose tags the reads' alleles
    contradict is phased from them; right tags are kept as they are."""
    from dataclasses import replace

    from deepvariant_py.direct_phasing import tag_concordance
    from deepvariant_py.pileup import PileupOptions

    fasta, bam, _ = two_haplotype_sample(str(tmp_path))
    rng = np.random.default_rng(3)
    right = _retagged(bam, str(tmp_path / "right.bam"), lambda i, hap: hap + 1)
    wrong = _retagged(bam, str(tmp_path / "random.bam"), lambda i, hap: int(rng.integers(1, 3)))
    reference = Reference(fasta)
    region = Region("chr1", 10_000, 11_000)
    opts = MakeExamplesOptions(realign=False, phase_untagged=True, pileup=replace(PileupOptions(), hp_channel=True))
    seq = reference.fetch("chr1", 0, reference.length("chr1"))
    for path, expect_retag in ((right, False), (wrong, True)):
        reads, events, _ = _events_of(path, fasta, 10_000, 11_000)
        share, seen = tag_concordance(events, seq, 0)
        assert seen >= 20 and (share < 0.8) == expect_retag
        with open_reads(path, reference) as handle:
            part = process_partition(handle, reference, region, opts)
        origin = np.array([int(r.query_name[1]) for r in part.canvas.reads])
        assert part.retagged == expect_retag
        assert _same_haplotype_same_label(part.canvas.events.hp, origin)  # the right tags, kept or made
        if not expect_retag:
            assert part.canvas.events.hp.tolist() == (origin + 1).tolist()


def test_run_names_the_partitions_whose_tags_were_replaced():
    from deepvariant_py.make_examples import MakeExamplesStats, retag_warning
    assert retag_warning([MakeExamplesStats(partitions=6)]) is None
    line = retag_warning([MakeExamplesStats(partitions=6, partitions_retagged=4), MakeExamplesStats(partitions=2)])
    assert line.startswith("in 4 of 8 partitions the reads' HP tags contradicted their own alleles")


def test_make_examples_checks_tags_as_run_does_unless_told_to_trust_them(tmp_path, caplog):
    """The make_examples stage (the workflow's) trusted every HP tag: tags from another phasing gave the same wrong
    calls run no longer makes. By default it now replaces the tags of partitions whose reads contradict them;
    --no-phase-reads keeps them; right tags give the same examples either way."""
    from deepvariant_py.tfrecord import read_records

    fasta, bam, _ = two_haplotype_sample(str(tmp_path))
    rng = np.random.default_rng(3)
    right = _retagged(bam, str(tmp_path / "right.bam"), lambda i, hap: hap + 1)
    wrong = _retagged(bam, str(tmp_path / "random.bam"), lambda i, hap: int(rng.integers(1, 3)))

    def examples(reads, *flags):
        out = str(tmp_path / f"ex{len(os.listdir(tmp_path))}.tfrecord.gz")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="dvcall"):
            result = CliRunner().invoke(main, ["make-examples", "--ref", fasta, "--reads", reads, "--examples", out,
                                               "--model-type", "pacbio", "--regions", "chr1:10,001-11,000", *flags])
        assert result.exit_code == 0, result.output
        return list(read_records(out)), " ".join(r.getMessage() for r in caplog.records)

    checked, said = examples(wrong)
    trusted, quiet = examples(wrong, "--no-phase-reads")
    assert "contradicted their own alleles" in said and "contradicted" not in quiet
    assert checked and len(checked) == len(trusted) and checked != trusted
    assert examples(right) [0] == examples(right, "--no-phase-reads")[0]


def test_hp_tags_other_than_1_and_2_are_counted_and_said(tmp_path):
    """hostile16: HP 1/3 (or 3/4) tags were read as half tagged (or untagged) without a word."""
    from deepvariant_py.make_examples import MakeExamplesStats, odd_hp_warning
    from deepvariant_py.pileup import PileupOptions
    fasta, bam, _ = two_haplotype_sample(str(tmp_path))
    tagged = str(tmp_path / "hp13.bam")
    with pysam.AlignmentFile(bam) as inp, pysam.AlignmentFile(tagged, "wb", template=inp) as out:
        for read in inp:
            read.set_tag("HP", 1 if read.query_name[1] == "1" else 3, "i")
            out.write(read)
    pysam.index(tagged)
    reference = Reference(fasta)
    with open_reads(tagged, reference) as handle:
        part = process_partition(handle, reference, Region("chr1", 10_000, 11_000), MakeExamplesOptions(realign=False))
    origin = np.array([int(r.query_name[1]) for r in part.canvas.reads])
    assert part.n_odd_hp == int(np.count_nonzero(origin != 1)) > 0
    stats = [MakeExamplesStats(reads=100, odd_hp_reads=40)]
    assert odd_hp_warning(stats, PileupOptions(hp_channel=True)).startswith(
        "40% of the reads carry HP tags other than 1 and 2, which dvcall reads as untagged")
    assert odd_hp_warning(stats, PileupOptions(hp_channel=False)) is None
    assert odd_hp_warning([MakeExamplesStats(reads=100)], PileupOptions(hp_channel=True)) is None


def _run_tagged_partition(fasta, path):
    """(HP, PS of each read as drawn, each read's true haplotype) of chr1:10,000-11,000 made as `dvcall run` makes it
    (phase_untagged: tags kept unless they cannot be trusted)."""
    from dataclasses import replace

    from deepvariant_py.pileup import PileupOptions
    reference = Reference(fasta)
    opts = MakeExamplesOptions(realign=False, phase_untagged=True, pileup=replace(PileupOptions(), hp_channel=True))
    with open_reads(path, reference) as handle:
        part = process_partition(handle, reference, Region("chr1", 10_000, 11_000), opts)
    events = part.canvas.events
    return events.hp, events.ps, np.array([int(r.query_name[1]) for r in part.canvas.reads])


def test_tags_in_phase_blocks_much_shorter_than_the_partition_are_phased_again(tmp_path):
    """hostile16: true HP tags but a new phase set every few reads (whatshap blocks of 5 kb under 25 kb partitions):
    the pileups read only the main block's tags, the rest as untagged, yet the partition counted as tagged and was
    not phased (INDEL F1 0.9866 -> 0.9614). Now such a partition is phased from its reads, as an untagged one is;
    one phase set keeps its tags."""
    fasta, bam, _ = two_haplotype_sample(str(tmp_path))
    blocks = str(tmp_path / "blocks.bam")
    with pysam.AlignmentFile(bam) as inp, pysam.AlignmentFile(blocks, "wb", template=inp) as out:
        for i, read in enumerate(inp):
            read.set_tag("HP", int(read.query_name[1]) + 1, "i")
            read.set_tag("PS", 1 + i // 4, "i")  # a new phase set every 4 reads
            out.write(read)
    pysam.index(blocks)
    one_block = _retagged(bam, str(tmp_path / "one.bam"), lambda i, hap: hap + 1)
    for path, phased in ((blocks, True), (one_block, False)):
        hp, ps, origin = _run_tagged_partition(fasta, path)
        assert _same_haplotype_same_label(hp, origin)
        assert (ps == 0).all() == phased  # phased from the reads: one phasing, no phase sets left


def test_tags_on_one_haplotype_only_are_not_trusted(tmp_path):
    """hostile16: one haplotype's reads tagged HP 1, the other's HP 0 (or none), 55% tagged: the partition counted as
    tagged, its tags agreed with the reads (there was only one label), and the pileups lost the second haplotype
    (17 indel FPs and 17 FNs on HiFi). Such a partition is phased from its reads; both haplotypes tagged keeps its tags."""
    from deepvariant_py.make_examples import _one_haplotype_tagged
    fasta, bam, _ = two_haplotype_sample(str(tmp_path))
    one_sided = _retagged(bam, str(tmp_path / "hp10.bam"), lambda i, hap: 1 if hap == 0 else 0)
    both = _retagged(bam, str(tmp_path / "hp12.bam"), lambda i, hap: hap + 1)
    for path, phased in ((one_sided, True), (both, False)):
        hp, ps, origin = _run_tagged_partition(fasta, path)
        assert _same_haplotype_same_label(hp, origin) and set(hp.tolist()) == {1, 2}
        assert (ps == 0).all() == phased
    assert _one_haplotype_tagged(np.array([0] * 12 + [2] * 10))
    assert not _one_haplotype_tagged(np.array([0] * 6 + [1] * 6 + [2] * 10))  # both haplotypes tagged
    assert not _one_haplotype_tagged(np.array([0] * 30 + [2] * 2))  # nearly all tagged: a homozygous stretch's reads
    assert not _one_haplotype_tagged(np.array([0] * 5 + [2] * 10))  # too few tags to say
