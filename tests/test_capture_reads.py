"""scripts/capture_reads.py: which read pairs an exome- or panel-like capture keeps."""
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pysam
import pytest

_path = Path(__file__).resolve().parent.parent / "scripts" / "capture_reads.py"
_spec = importlib.util.spec_from_file_location("capture_reads", _path)
cap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cap)


def test_targets_stay_inside_the_region_with_the_asked_lengths_and_gaps():
    targets = cap.make_targets("chr1", 1_000, 50_000, (100, 200), (300, 400), np.random.default_rng(3))
    assert len(targets) > 50
    assert all(1_000 <= s < e <= 50_000 and 100 <= e - s <= 200 for _, s, e in targets)
    assert all(300 <= b[1] - a[2] <= 400 for a, b in zip(targets, targets[1:]))


def test_a_fragment_is_kept_by_the_targets_it_overlaps_and_only_by_them():
    targets = [("chr1", 1_000, 1_200), ("chr1", 5_000, 5_100)]
    spans = {f"in{i}": ("chr1", 900 + i, 1_250 + i) for i in range(200)}  # each overlaps the first target
    spans |= {f"edge{i}": ("chr1", 650, 1_000) for i in range(200)}  # ends where the first target starts: no overlap
    spans |= {f"other{i}": ("chr2", 1_000, 1_200) for i in range(200)}  # same coordinates, another contig
    kept = cap.kept_templates(spans, targets, np.array([1.0, 0.0]), 0.0, seed=1)
    assert kept == {f"in{i}" for i in range(200)}
    half = cap.kept_templates(spans, targets, np.array([0.5, 0.0]), 0.0, seed=1)
    assert 70 < len(half) < 130 and half <= kept  # a draw per template against the target's efficiency
    assert cap.kept_templates(spans, targets, np.array([0.5, 0.0]), 0.0, seed=1) == half  # the same seed, the same reads
    assert 70 < len(cap.kept_templates(spans, targets, np.array([0.0, 0.0]), 0.25, seed=1)) < 230  # off-target share


def test_a_fragment_spanning_two_targets_takes_the_better_efficiency():
    targets = [("chr1", 1_000, 1_100), ("chr1", 1_150, 1_250)]
    spans = {f"t{i}": ("chr1", 1_050, 1_200) for i in range(100)}
    assert len(cap.kept_templates(spans, targets, np.array([0.0, 1.0]), 0.0, seed=2)) == 100


def test_targets_in_any_order_or_nested_keep_the_same_fragments():
    """review46: the search assumed sorted, disjoint targets; a reversed BED kept 3,050 reads of 5,457 and a
    fragment inside a big target with a small one nested in it was never kept."""
    rng = np.random.default_rng(5)
    targets = cap.make_targets("chr1", 0, 100_000, (100, 300), (200, 900), rng)
    spans = {f"f{i}": ("chr1", int(s), int(s) + 350) for i, s in enumerate(rng.integers(0, 100_000, 3_000))}
    p = np.ones(len(targets))
    forward = cap.kept_templates(spans, targets, p, 0.0, seed=3)
    assert forward and cap.kept_templates(spans, targets[::-1], p, 0.0, seed=3) == forward
    nested = [("chr1", 0, 300_000), ("chr1", 150_000, 150_100)]
    inside = {f"n{i}": ("chr1", 280_000, 280_350) for i in range(50)}
    assert len(cap.kept_templates(inside, nested, np.array([1.0, 0.0]), 0.0, seed=3)) == 50


def test_fragment_spans_come_from_the_leftmost_mate_of_proper_pairs(tmp_path):
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": 10_000}]}
    path = str(tmp_path / "r.bam")
    with pysam.AlignmentFile(path, "wb", header=header) as bam:
        for name, start, tlen, flag in (("p", 100, 400, 99), ("p", 400, -400, 147), ("s", 2_000, 0, 0)):
            read = pysam.AlignedSegment(bam.header)
            read.query_name, read.reference_id, read.reference_start, read.flag = name, 0, start, flag
            read.cigarstring, read.query_sequence, read.query_qualities = "100M", "A" * 100, [30] * 100
            read.template_length, read.mapping_quality = tlen, 60
            if flag & 1:
                read.next_reference_id, read.next_reference_start = 0, 400 if start == 100 else 100
            bam.write(read)
    assert cap.fragment_spans(path) == {"p": ("chr1", 100, 500), "s": ("chr1", 2_000, 2_100)}


def test_a_captured_sample_folder_from_a_genome_wide_bed(tmp_path, capsys):
    """End to end on testdata's NA12878 slice: lines on other contigs skipped (a real exome BED), the confident
    regions cut to the targets, the same output for the same seed, nothing left behind by a refused run."""
    data = Path(__file__).resolve().parent.parent / "testdata"
    sample = tmp_path / "sample"
    sample.mkdir()
    shutil.copy(data / "NA12878.chr20_10.00-10.02Mb.bam", sample / "reads.bam")
    shutil.copy(data / "NA12878.chr20_10.00-10.02Mb.bam.bai", sample / "reads.bam.bai")
    shutil.copy(data / "HG001.truth.chr20_10.00-10.02Mb.vcf.gz", sample / "truth.vcf.gz")
    shutil.copy(data / "HG001.truth.chr20_10.00-10.02Mb.vcf.gz.tbi", sample / "truth.vcf.gz.tbi")
    (sample / "confident.bed").write_text("chr20\t10000000\t10011000\n")
    (sample / "sample.json").write_text(json.dumps({"parameters": {
        "contig": "chr20", "region_start0": 9_999_000, "region_end0": 10_021_000, "region": "chr20:9999001-10021000"}}))
    targets = tmp_path / "exome.bed"
    targets.write_text("chr1\t100\t300\nchr20\t10005000\t10005300\nchr20\t10001000\t10001200\n"
                       "chr20\t10001100\t10001250\nchr20\t10015000\t10015200\n")
    outs = []
    for name in ("a", "b"):
        assert cap.main(["--sample", str(sample), "--out", str(tmp_path / name), "--targets", str(targets)]) == 0
        outs.append(tmp_path / name)
    assert "1 target line(s) on other contigs skipped" in capsys.readouterr().err
    a, b = outs
    assert (a / "confident.bed").read_text() == "chr20\t10001000\t10001250\nchr20\t10005000\t10005300\n"
    assert json.loads((a / "sample.json").read_text())["capture"]["target_bp"] == 250 + 300 + 200
    with pysam.AlignmentFile(str(a / "reads.bam")) as x, pysam.AlignmentFile(str(b / "reads.bam")) as y:
        reads = [r.to_string() for r in x]
        assert reads and reads == [r.to_string() for r in y]
    with pytest.raises(SystemExit, match="no target on chr20"):
        (tmp_path / "other.bed").write_text("chr1\t100\t300\n")
        cap.main(["--sample", str(sample), "--out", str(tmp_path / "c"), "--targets", str(tmp_path / "other.bed")])
    assert not (tmp_path / "c").exists() and not (tmp_path / "c.partial").exists()
