"""postprocess: calls merged as they are read when each file is in reference order (make_examples' shards),
gathered and sorted otherwise; the VCF is the same either way."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from deepvariant_py import postprocess as pp
from deepvariant_py.examples_io import VariantInfo, read_calls, write_calls
from deepvariant_py.postprocess import Site, postprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from regen_golden import vcf_lines  # noqa: E402

GOLDEN = os.path.join(ROOT, "testdata", "golden")
REF = os.path.join(ROOT, "testdata", "ucsc.hg19.chr20.unittest.fasta.gz")


def _vcf(tmp_path, calls: list[str], name: str) -> list[str]:
    out = str(tmp_path / f"{name}.vcf.gz")
    postprocess(",".join(calls), REF, out, "NA12878")
    return vcf_lines(out)


@pytest.fixture
def shards(tmp_path):
    """The golden calls split like two make_examples shards (blocks of positions in turn), each in order."""
    records = list(read_calls([os.path.join(GOLDEN, "calls.jsonl.gz")]))
    paths = []
    for i in range(2):
        path = str(tmp_path / f"calls-{i}.jsonl.gz")
        write_calls(path, [r for r in records if (r.variant.start // 2000) % 2 == i])
        paths.append(path)
    return records, paths


def test_shards_in_order_are_merged_as_read_and_equal_one_sorted_file(tmp_path, shards, monkeypatch):
    records, paths = shards
    whole = _vcf(tmp_path, [os.path.join(GOLDEN, "calls.jsonl.gz")], "whole")
    monkeypatch.setattr(pp, "_sites_in_memory", lambda *a: pytest.fail("the shards are in order: no gathering"))
    assert _vcf(tmp_path, paths, "shards") == whole
    assert len([line for line in whole if not line.startswith("#")]) > 20


def test_calls_out_of_order_are_gathered_and_sorted_first(tmp_path, shards):
    records, paths = shards
    backwards = str(tmp_path / "backwards.jsonl.gz")
    write_calls(backwards, records[::-1])
    whole = _vcf(tmp_path, [os.path.join(GOLDEN, "calls.jsonl.gz")], "whole")
    assert _vcf(tmp_path, [backwards], "backwards") == whole
    assert _vcf(tmp_path, paths[::-1] + [], "swapped") == whole  # files in any order: merged by position anyway
    assert not any(".partial" in name for name in os.listdir(tmp_path))


def test_a_shard_given_twice_is_refused_either_way(tmp_path, shards):
    from deepvariant_py.errors import InputError

    _, paths = shards
    with pytest.raises(InputError, match="twice"):
        postprocess(",".join(paths + paths[:1]), REF, str(tmp_path / "out.vcf.gz"), "NA12878")
    assert not os.path.exists(tmp_path / "out.vcf.gz")


def test_chunks_end_only_where_a_group_of_overlapping_sites_ends():
    def site(contig, start, ref_len):
        variant = VariantInfo(contig, start, "A" * ref_len, ("C",), 10, (5, 5))
        return Site(variant, variant.ref, ["C"], [5, 5], np.array([0.1, 0.8, 0.1]))

    sites = [site("chr1", 10, 5), site("chr1", 12, 1), site("chr1", 14, 3), site("chr1", 17, 1), site("chr1", 30, 1),
             site("chr2", 0, 20), site("chr2", 5, 1), site("chr2", 40, 1)]
    chunks = list(pp._closed_chunks(sites, size=1))
    assert [[s.variant.start for s in c] for c in chunks] == [[10, 12, 14], [17], [30], [0, 5], [40]]
    assert [s for c in chunks for s in c] == sites
    assert [len(c) for c in pp._closed_chunks(sites)] == [len(sites)]


@pytest.mark.parametrize("move, message", [
    (dict(contig="chr21"), "on a contig that --ref does not have"),
    (dict(start=63_025_520 - 1, ref="CA"), "past the end of the contig"),
    (dict(ref="GATTACA"), "whose REF is not the reference's bases there"),
])
def test_calls_made_on_another_reference_are_refused_with_nothing_written(tmp_path, shards, move, message):
    """Calls from another build or a FASTA cut to a region: one line naming the site and the fix, no VCF."""
    from dataclasses import replace

    from deepvariant_py.errors import InputError
    records, _ = shards
    site = records[5].variant
    bad = [replace(r, variant=replace(site, **move)) if r.variant == site else r for r in records]  # all its images
    path = str(tmp_path / "moved.jsonl.gz")
    write_calls(path, sorted(bad, key=lambda r: (r.variant.contig, r.variant.start)))
    out = tmp_path / "x.vcf.gz"
    with pytest.raises(InputError, match=f"{message}: give postprocess the --ref that make-examples used"):
        postprocess(path, REF, str(out), "NA12878")
    assert not out.exists() and not any(".partial" in n for n in os.listdir(tmp_path))


def test_postprocess_takes_the_model_the_calls_were_made_by(tmp_path, shards):
    """call-variants records its network (folder, weights digest): postprocess uses that model's merger and
    calibration by default and refuses a --model with other weights (its GQs and QUALs would be another model's)."""
    import shutil

    from deepvariant_py.errors import InputError
    from deepvariant_py.model import default_model_dir
    from deepvariant_py.model_info import weights_stamp
    from deepvariant_py.postprocess import calls_model_dir
    records, _ = shards
    models = {}
    for name, weights in (("a", b"weights of a"), ("b", b"weights of b")):
        models[name] = tmp_path / name
        models[name].mkdir()
        (models[name] / "model.keras").write_bytes(weights)
        (models[name] / "model_info.json").write_text("{}")
    calls = {}
    for name in ("a", "b"):
        calls[name] = str(tmp_path / f"calls_{name}.jsonl.gz")
        write_calls(calls[name], records, weights_stamp(str(models[name])))
    assert calls_model_dir([calls["a"]], None) == str(models["a"])
    twin = tmp_path / "a_copy"
    shutil.copytree(models["a"], twin)
    (twin / "model_info.json").write_text('{"recalibrated": true}')  # only the weights count
    assert calls_model_dir([calls["a"]], str(twin)) == str(twin)
    with pytest.raises(InputError, match=r"made by the model in .*/a, not by --model .*/b \(other weights\)"):
        calls_model_dir([calls["a"]], str(models["b"]))
    with pytest.raises(InputError, match="were made by different models"):
        calls_model_dir([calls["a"], calls["b"]], None)
    shutil.rmtree(models["a"])
    with pytest.raises(InputError, match=r"model in .*/a, which is no longer there .*: pass that model with --model"):
        calls_model_dir([calls["a"]], None)
    old = str(tmp_path / "old.jsonl.gz")  # as written before calls named their model
    write_calls(old, records)
    assert calls_model_dir([old], None) == default_model_dir() and calls_model_dir([old], str(twin)) == str(twin)


def test_calls_of_a_sharded_run_must_cover_every_shard(tmp_path, shards):
    """A forgotten or failed shard would drop its part of the genome from the VCF without a word."""
    from deepvariant_py.errors import InputError
    records, _ = shards
    half = {i: str(tmp_path / f"c{i}.jsonl.gz") for i in range(3)}
    for i in range(3):
        write_calls(half[i], [r for r in records if (r.variant.start // 2000) % 3 == i], shards=[(i, 3)])
    out = str(tmp_path / "x.vcf.gz")
    with pytest.raises(InputError, match=r"lack the make-examples shard\(s\) --shard 1/3: pass every shard's calls"):
        postprocess(f"{half[0]},{half[2]}", REF, out, "S")
    assert not os.path.exists(out)
    postprocess(",".join(half.values()), REF, out, "S")  # all three: fine
    other = str(tmp_path / "other.jsonl.gz")
    write_calls(other, records[:1], shards=[(0, 2)])
    with pytest.raises(InputError, match="different shard counts"):
        postprocess(f"{half[0]},{half[1]},{half[2]},{other}", REF, str(tmp_path / "y.vcf.gz"), "S")


def test_gvcf_blocks_of_a_sharded_run_must_cover_every_shard(tmp_path, shards):
    """A forgotten shard's blocks would leave holes in the gVCF (its variant records alone: no data to a merger)."""
    from deepvariant_py.errors import InputError
    from deepvariant_py.gvcf import write_blocks
    records, _ = shards
    calls = [str(tmp_path / f"c{i}.jsonl.gz") for i in range(3)]
    blocks = [str(tmp_path / f"b{i}.tsv.gz") for i in range(3)]
    for i in range(3):
        write_calls(calls[i], [r for r in records if (r.variant.start // 2000) % 3 == i], shards=[(i, 3)])
        write_blocks(blocks[i], [], shard=(i, 3))
    out, gvcf = str(tmp_path / "x.vcf.gz"), str(tmp_path / "x.g.vcf.gz")
    with pytest.raises(InputError, match=r"gVCF reference blocks lack the make-examples shard\(s\) --shard 1/3"):
        postprocess(",".join(calls), REF, out, "S", gvcf_blocks=f"{blocks[0]},{blocks[2]}", output_gvcf=gvcf)
    assert not os.path.exists(out) and not os.path.exists(gvcf)
    other = [str(tmp_path / f"other{i}.tsv.gz") for i in range(2)]  # a 2-shard run's blocks, complete
    for i in range(2):
        write_blocks(other[i], [], shard=(i, 2))
    with pytest.raises(InputError, match="calls come from 3 make-examples shards and the gVCF reference blocks from 2"):
        postprocess(",".join(calls), REF, out, "S", gvcf_blocks=",".join(other), output_gvcf=gvcf)
    postprocess(",".join(calls), REF, out, "S", gvcf_blocks=",".join(blocks), output_gvcf=gvcf)  # all three: fine
    assert os.path.exists(gvcf)


def test_the_vcf_sample_is_the_reads_sample_through_the_stage_commands(tmp_path):
    """make-examples records the reads' @RG SM, call-variants passes it on, postprocess names the VCF sample by it
    (as `dvcall run` does) unless --sample-name says otherwise; calls of two samples need --sample-name."""
    from deepvariant_py.call_variants import call_variants
    from deepvariant_py.errors import InputError
    from deepvariant_py.examples_io import calls_sample
    from deepvariant_py.make_examples import make_examples
    from deepvariant_py.postprocess import vcf_sample
    from deepvariant_py.presets import make_examples_options, resolve_model, resolve_settings
    from deepvariant_py.regions import Region

    bam = os.path.join(ROOT, "testdata", "NA12878.chr20_10.00-10.02Mb.bam")
    examples, calls = str(tmp_path / "e.tfrecord.gz"), str(tmp_path / "c.jsonl.gz")
    model_dir, info = resolve_model("illumina", None)
    make_examples(REF, bam, examples, [Region("chr20", 10_002_000, 10_003_000)],
                  make_examples_options(resolve_settings("illumina", info)))
    call_variants(examples, model_dir, calls)
    assert vcf_sample([calls], None) == "NA12878" and vcf_sample([calls], "other") == "other"
    unnamed = str(tmp_path / "old.jsonl.gz")  # calls from before samples were recorded, or reads without an SM
    write_calls(unnamed, [])
    assert vcf_sample([unnamed], None) == "SAMPLE" and calls_sample([calls, unnamed]) == "NA12878"
    second = str(tmp_path / "b.jsonl.gz")
    write_calls(second, [], sample="NA24385")
    with pytest.raises(InputError, match="the calls hold different samples: .* pass --sample-name NAME"):
        vcf_sample([calls, second], None)
    assert vcf_sample([calls, second], "both") == "both"


def test_progress_follows_the_position_in_the_reference(tmp_path, monkeypatch):
    """A genome's postprocess runs for many minutes: it reports the megabases of the reference passed."""
    monkeypatch.setattr(pp, "PROGRESS_SITES", 5)
    seen = []
    stats = postprocess(os.path.join(GOLDEN, "calls.jsonl.gz"), REF, str(tmp_path / "out.vcf.gz"), "NA12878",
                        progress=lambda done, total, **counts: seen.append((done, total, counts["sites"])))
    assert len(seen) == stats.sites // 5 and len(seen) > 3
    # the test reference is chr20 of hg19 (63 Mb), the calls at 10.00-10.02 Mb
    assert {total for _, total, _ in seen} == {64} and {done for done, _, _ in seen} == {10}
    assert [sites for _, _, sites in seen] == [5 * (i + 1) for i in range(len(seen))]


def test_a_repeated_calls_option_takes_every_file(tmp_path, shards):
    """hostile19: `--calls a --calls b` kept only b (click's last value), dropping a's sites without a word."""
    from click.testing import CliRunner

    from deepvariant_py.cli.main import main
    _, paths = shards
    outs = []
    for name, args in (("repeated", ["--calls", paths[0], "--calls", paths[1]]), ("listed", ["--calls", ",".join(paths)])):
        outs.append(str(tmp_path / f"{name}.vcf.gz"))
        result = CliRunner().invoke(main, ["postprocess", "--ref", REF, *args, "--output-vcf", outs[-1], "--quiet"])
        assert result.exit_code == 0, result.output
    assert vcf_lines(outs[0]) == vcf_lines(outs[1]) and len([x for x in vcf_lines(outs[0]) if not x.startswith("#")]) > 20
