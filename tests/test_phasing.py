"""`dvcall run --phase-reads --phaser whatshap`: first-pass calls -> whatshap phase + haplotag -> calls on the tagged
reads; and `dvcall haplotag`. (The default phaser: test_direct_phasing.py.)"""
from __future__ import annotations

import os
from dataclasses import replace

import pysam
import pytest
from click.testing import CliRunner

from builders import two_haplotype_sample
from deepvariant_py.cli.main import main

pytest.importorskip("whatshap")

LENGTH = 24_000


def _two_haplotype_sample(tmp_path):
    return two_haplotype_sample(str(tmp_path), LENGTH)


def test_phase_reads_tags_reads_by_their_haplotype_and_calls_the_hets(tmp_path):
    ref, bam, snps = _two_haplotype_sample(tmp_path)
    work, out = tmp_path / "work", str(tmp_path / "out.vcf.gz")
    args = ["run", "--ref", ref, "--reads", bam, "--output-vcf", out, "--model-type", "pacbio", "--phase-reads", "--phaser", "whatshap",
            "--regions", "chr1:2,001-22,000", "--intermediate-dir", str(work), "--num-shards", "1", "--quiet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert os.path.exists(work / "firstpass.vcf.gz")
    groups: dict[tuple[int, int], set[int]] = {}
    with pysam.AlignmentFile(str(work / "haplotagged.bam")) as tagged:
        reads = list(tagged)
    assert sum(r.has_tag("HP") for r in reads) >= 0.9 * len(reads)
    for r in reads:
        if r.has_tag("HP"):
            groups.setdefault((r.get_tag("PS"), r.get_tag("HP")), set()).add(int(r.query_name[1]))
    assert all(len(origin) == 1 for origin in groups.values()), groups  # a tag never mixes the two haplotypes
    with pysam.VariantFile(out) as vcf:
        hets = {r.pos - 1 for r in vcf if "PASS" in r.filter.keys() and sorted(r.samples[0]["GT"]) == [0, 1]}
    inside = {p for p in snps if 2_000 <= p < 22_000}
    assert len(hets & inside) >= 0.95 * len(inside) and len(hets - inside) <= 1
    # A rerun with the same intermediate dir reuses the phasing step (and everything else).
    assert CliRunner().invoke(main, args).exit_code == 0


def test_phase_reads_without_whatshap_says_how_to_install_it(tmp_path, monkeypatch):
    import importlib.util

    from deepvariant_py import phasing
    real = importlib.util.find_spec
    monkeypatch.setattr(phasing.importlib.util, "find_spec", lambda name, *a: None if name == "whatshap" else real(name, *a))
    ref, bam, _ = _two_haplotype_sample(tmp_path)
    out = str(tmp_path / "out.vcf.gz")
    result = CliRunner().invoke(main, ["run", "--ref", ref, "--reads", bam, "--output-vcf", out, "--model-type", "ont",
                                       "--phase-reads", "--phaser", "whatshap", "--regions", "chr1:2,001-3,000", "--num-shards", "1"])
    assert result.exit_code != 0 and "pip install 'dvcall[phasing]'" in result.output
    assert not os.path.exists(out)


def _run_ont(tmp_path, ref, bam, *extra):
    tmp_path.mkdir(exist_ok=True)
    work, out = tmp_path / "work", str(tmp_path / "out.vcf.gz")
    result = CliRunner().invoke(main, ["run", "--ref", ref, "--reads", bam, "--output-vcf", out, "--model-type", "ont",
                                       "--regions", "chr1:2,001-6,000", "--intermediate-dir", str(work),
                                       "--num-shards", "1", "--phaser", "whatshap", *extra])
    assert result.exit_code == 0, result.output
    return work


def test_a_model_that_pools_by_haplotype_phases_untagged_reads_unless_told_not_to(tmp_path):
    from deepvariant_py.model import default_model_dir
    from deepvariant_py.model_info import load_model_info
    assert load_model_info(default_model_dir("ont")).pools_by_haplotype
    ref, bam, _ = _two_haplotype_sample(tmp_path)
    assert (_run_ont(tmp_path / "auto", ref, bam) / "haplotagged.bam").exists()
    assert not (_run_ont(tmp_path / "off", ref, bam, "--no-phase-reads") / "haplotagged.bam").exists()
    # reads that already carry HP tags are called as they are
    tagged = str(tmp_path / "tagged.bam")
    with pysam.AlignmentFile(bam) as inp, pysam.AlignmentFile(tagged, "wb", template=inp) as out:
        for read in inp:
            read.set_tag("HP", 1 + int(read.query_name[1]), "i")
            out.write(read)
    pysam.index(tagged)
    assert not (_run_ont(tmp_path / "tagged", ref, tagged) / "haplotagged.bam").exists()


def _failed_run_without_work_folder(tmp_path):
    """`dvcall run --phaser whatshap` on untagged ONT-like reads, no --intermediate-dir; it must fail, leaving no VCF."""
    ref, bam, _ = _two_haplotype_sample(tmp_path)
    out = tmp_path / "out.vcf.gz"
    result = CliRunner().invoke(main, ["run", "--ref", ref, "--reads", bam, "--output-vcf", str(out), "--model-type", "ont",
                                       "--regions", "chr1:2,001-6,000", "--num-shards", "1", "--phaser", "whatshap"])
    assert result.exit_code != 0 and not out.exists()
    return result


def test_phaser_whatshap_named_without_whatshap_is_a_one_line_error(tmp_path, monkeypatch):
    """--phaser whatshap named, whatshap missing: the run used to warn and call the reads unphased (worse than the
    default direct phaser, and the candidate pre-filter off); it stops before any work, saying how to fix it."""
    from deepvariant_py import phasing
    monkeypatch.setattr(phasing, "whatshap_installed", lambda: False)
    result = _failed_run_without_work_folder(tmp_path)
    assert "--phaser whatshap needs whatshap, which is not installed" in result.output and "--phaser direct" in result.output
    assert "Traceback" not in result.output


def test_haplotag_command_tags_reads_from_a_vcf(tmp_path):
    ref, bam, snps = _two_haplotype_sample(tmp_path)
    calls = str(tmp_path / "calls.vcf.gz")
    header = pysam.VariantHeader()
    header.contigs.add("chr1", length=LENGTH)
    header.add_line('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    header.add_sample("S")
    seq = pysam.FastaFile(ref).fetch("chr1")
    with pysam.VariantFile(calls, "wz", header=header) as vcf:
        for pos in sorted(p for p in snps if 2_000 <= p < 22_000):
            alt = "ACGT"[("ACGT".index(seq[pos]) + 1) % 4]  # as _two_haplotype_sample plants them
            rec = vcf.new_record(contig="chr1", start=pos, stop=pos + 1, alleles=(seq[pos], alt))
            rec.samples["S"]["GT"] = (0, 1)
            vcf.write(rec)
    pysam.tabix_index(calls, preset="vcf", force=True)
    out = str(tmp_path / "tagged.bam")
    result = CliRunner().invoke(main, ["haplotag", "--ref", ref, "--reads", bam, "--calls", calls, "--output", out,
                                       "--regions", "chr1:2,001-22,000"])
    assert result.exit_code == 0, result.output
    with pysam.AlignmentFile(out) as tagged:
        reads = list(tagged)
    assert sum(r.has_tag("HP") for r in reads) >= 0.9 * len(reads)
    for bad, message in ((["--calls", str(tmp_path / "none.vcf.gz"), "--output", out], "does not exist"),
                         (["--calls", calls, "--output", str(tmp_path / "no" / "dir.bam")], "cannot write"),
                         (["--calls", calls, "--output", str(tmp_path / "x.sam")], "must end in .bam")):
        result = CliRunner().invoke(main, ["haplotag", "--ref", ref, "--reads", bam, *bad])
        assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


def test_a_gvcf_given_as_the_calls_to_phase_is_refused(tmp_path):
    """whatshap phases nothing in a gVCF (<*> on every record): haplotag would tag no read and say nothing."""
    import pysam

    from deepvariant_py.errors import InputError
    from deepvariant_py.phasing import _check_not_gvcf
    header = pysam.VariantHeader()
    header.contigs.add("chr20", length=1000)
    header.add_line('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    header.add_sample("S")
    paths = {}
    for kind, alts in (("vcf", ("G",)), ("gvcf", ("G", "<*>"))):
        paths[kind] = str(tmp_path / f"{kind}.vcf.gz")
        with pysam.VariantFile(paths[kind], "wz", header=header) as out:
            rec = out.new_record(contig="chr20", start=10, stop=11, alleles=("A", *alts))
            rec.samples["S"]["GT"] = (0, 1)
            out.write(rec)
    _check_not_gvcf(paths["vcf"])
    with pytest.raises(InputError, match="is a gVCF: pass the run's VCF"):
        _check_not_gvcf(paths["gvcf"])


def test_a_failing_whatshap_is_one_line_that_says_how_to_keep_its_log(tmp_path, monkeypatch):
    """Without --intermediate-dir whatshap's log lies in the run's temporary folder, gone when the run stops: the
    error named that path. It now carries whatshap's last line and says how to keep the log."""
    from deepvariant_py import phasing
    fake = tmp_path / "fake" / "whatshap"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text("import sys\nprint('RuntimeError: cannot read the BAM')\nsys.exit(1)\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(fake.parent), os.environ.get("PYTHONPATH")])))
    monkeypatch.setattr(phasing, "whatshap_installed", lambda: True)
    result = _failed_run_without_work_folder(tmp_path)
    assert "whatshap phase failed (RuntimeError: cannot read the BAM)" in result.output
    assert "rerun with --intermediate-dir DIR to keep whatshap's log" in result.output and "its log is" not in result.output


def test_a_bam_tagged_over_part_of_the_genome_has_its_untagged_partitions_phased(tmp_path):
    """`dvcall run` decides to phase from the first reads: a BAM haplotagged over part of the genome (most
    sampled reads tagged) had its untagged rest called unphased. With phase_untagged (run's default for a model
    that pools by haplotype when most reads are tagged) a partition whose reads are mostly untagged is phased;
    tagged partitions keep their tags."""
    from deepvariant_py.make_examples import make_examples
    from deepvariant_py.presets import make_examples_options, resolve_model, resolve_settings
    from deepvariant_py.regions import Region

    ref, bam, _ = _two_haplotype_sample(tmp_path)
    half = str(tmp_path / "half.bam")
    with pysam.AlignmentFile(bam) as inp, pysam.AlignmentFile(half, "wb", template=inp) as out:
        for read in inp:
            if read.reference_start < 10_000:  # tagged by the haplotype it came from, the rest untagged
                read.set_tag("HP", int(read.query_name[1]), "i")
            out.write(read)
    pysam.index(half)
    _, info = resolve_model("pacbio", None)
    opts = replace(make_examples_options(resolve_settings("pacbio", info, partition_size=5000)), phase_reads=False)
    tagged = {}
    for untagged_too in (False, True):
        stats = make_examples(ref, half, str(tmp_path / f"ex{untagged_too}.tfrecord.gz"), [Region("chr1", 2_000, 22_000)],
                              replace(opts, phase_untagged=untagged_too))
        tagged[untagged_too] = stats.hp_tagged_reads / stats.hp_taggable_reads
    assert tagged[False] < 0.4 and tagged[True] > 0.7  # 0.25 and 0.80 when written (direct phasing leaves a few)


def test_a_phaser_named_for_a_model_without_hp_tags_is_said_to_do_nothing(tmp_path, caplog):
    testdata = os.path.join(os.path.dirname(__file__), "..", "testdata")
    out = str(tmp_path / "out.vcf.gz")
    result = CliRunner().invoke(main, ["run", "--ref", os.path.join(testdata, "ucsc.hg19.chr20.unittest.fasta.gz"),
                                       "--reads", os.path.join(testdata, "NA12878.chr20_10.00-10.02Mb.bam"), "--output-vcf", out,
                                       "--regions", "chr20:10,002,000-10,003,000", "--num-shards", "1", "--phaser", "whatshap"])
    assert result.exit_code == 0, result.output
    assert "--phaser whatshap has no effect: this model reads no HP tags" in caplog.text and os.path.exists(out)


def _reads_file(path, header, reads):
    from builders import write_bam
    return write_bam(path, reads, header)


def test_files_listing_contigs_in_other_orders_are_merged_sorted_for_whatshap(tmp_path):
    """hostile19: files whose @SQ lines come in another order were merged unsorted (SO:unsorted), which the second
    pass refused after the whole first one (and `dvcall haplotag` wrote such a BAM, exit 0)."""
    from builders import header_for, make_read
    from deepvariant_py import phasing
    ab, ba = header_for("chrA", 5000, more=[("chrB", 5000)]), header_for("chrB", 5000, more=[("chrA", 5000)])
    first = _reads_file(tmp_path / "a.bam", ab, [make_read(f"a{i}", 100 * i, "50M", header=ab, contig=c)
                                                  for i in range(20) for c in ("chrA", "chrB")])
    second = _reads_file(tmp_path / "b.bam", ba, [make_read(f"b{i}", 100 * i + 50, "50M", header=ba, contig=c)
                                                   for i in range(20) for c in ("chrA", "chrB")])
    merged = phasing._merge_reads("ref.fa", [first, second], str(tmp_path / "m.bam"), [], str(tmp_path / "m"))
    with pysam.AlignmentFile(merged) as fh:
        assert fh.header.to_dict()["HD"]["SO"] == "coordinate"
        keys = [(fh.get_tid(r.reference_name), r.reference_start) for r in fh]
    assert len(keys) == 80 and keys == sorted(keys)


def test_whatshap_gets_one_region_a_flag():
    """hostile19: `--regions A B` (whatshap 2 takes one value a flag) failed every run over two contigs."""
    from deepvariant_py.phasing import region_args
    from deepvariant_py.regions import Region
    assert region_args([Region("chr1", 0, 100), Region("chr2", 5, 50), Region("chr1", 200, 300)]) == \
        ["--regions", "chr1:1-300", "--regions", "chr2:6-50"]


def test_whatshap_over_regions_without_reads_gives_an_empty_vcf(tmp_path):
    """hostile19: two --reads files merged for whatshap over a stretch without reads (chrY of an XX sample) made
    whatshap refuse the empty merged BAM; one file, or --phaser direct, gave an empty VCF."""
    from test_several_reads import split_by_name
    ref, bam, _ = _two_haplotype_sample(tmp_path)
    os.makedirs(tmp_path / "lanes")
    early = str(tmp_path / "early.bam")  # reads of the contig's first half only
    with pysam.AlignmentFile(bam) as src, pysam.AlignmentFile(early, "wb", template=src) as dst:
        for read in src:
            if read.reference_end <= 12_000:
                dst.write(read)
    pysam.index(early)
    lanes = split_by_name(early, tmp_path / "lanes")
    out = str(tmp_path / "empty.vcf.gz")
    result = CliRunner().invoke(main, ["run", "--ref", ref, "--reads", lanes[0], "--reads", lanes[1], "--output-vcf", out,
                                       "--model-type", "pacbio", "--phaser", "whatshap", "--phase-reads",
                                       "--regions", "chr1:16,001-20,000", "--num-shards", "1"])
    assert result.exit_code == 0, result.output
    with pysam.VariantFile(out) as vcf:
        assert not list(vcf)


def test_make_examples_says_when_it_phases_where_run_would_use_whatshap(tmp_path):
    """hostile19: stage-by-stage hybrid examples were phased in make_examples (direct) while `dvcall run` used
    whatshap, and nothing said the two differ."""
    from deepvariant_py.phasing import stage_phasing_note
    from deepvariant_py.presets import resolve_model
    from deepvariant_py.reference import Reference
    from deepvariant_py.regions import Region
    ref, bam, _ = _two_haplotype_sample(tmp_path)
    reference, regions = Reference(ref), [Region("chr1", 2_000, 22_000)]
    assert "phases with whatshap; to make the examples run makes, tag the reads first" in \
        stage_phasing_note(resolve_model("hybrid", None)[1], [bam], reference, regions)
    assert stage_phasing_note(resolve_model("pacbio", None)[1], [bam], reference, regions) is None  # run: direct too


def test_a_vcf_without_hets_is_not_taken_for_another_samples(tmp_path):
    """hostile20: haplotag on a haploid sample's first pass (1/1 and 0/0 only) warned 'a VCF of another sample?'."""
    from deepvariant_py.phasing import has_het_call
    header = pysam.VariantHeader()
    header.contigs.add("chr1", length=1000)
    header.add_line('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    header.add_line('##FILTER=<ID=RefCall,Description="ref">')
    header.add_sample("S")
    paths = {}
    for name, gts in (("haploid", [(1, 1), (0, 0), (None, None)]), ("diploid", [(1, 1), (0, 1)]),
                      ("refcall_het", [(1, 1), (0, 1)])):
        paths[name] = str(tmp_path / f"{name}.vcf.gz")
        with pysam.VariantFile(paths[name], "wz", header=header) as vcf:
            for i, gt in enumerate(gts):
                rec = vcf.new_record(contig="chr1", start=10 * i, stop=10 * i + 1, alleles=("A", "C"))
                rec.samples["S"]["GT"] = gt
                if name == "refcall_het" and gt == (0, 1):
                    rec.filter.add("RefCall")
                vcf.write(rec)
    assert [has_het_call(paths[n]) for n in ("haploid", "diploid", "refcall_het")] == [False, True, False]
