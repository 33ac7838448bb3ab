"""call_variants: examples called as make_examples makes them (ExampleCaller, what `dvcall run` does) give the
calls call_variants gives on the same examples written to a file."""
from __future__ import annotations

import os

import pytest

from deepvariant_py.call_variants import ExampleCaller, call_variants, load_predictor
from deepvariant_py.errors import InputError
from deepvariant_py.examples_io import read_calls
from deepvariant_py.make_examples import make_examples
from deepvariant_py.pileup import channel_enums
from deepvariant_py.presets import make_examples_options, resolve_model, resolve_settings
from deepvariant_py.regions import Region

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF = os.path.join(ROOT, "testdata", "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = os.path.join(ROOT, "testdata", "NA12878.chr20_10.00-10.02Mb.bam")
REGION = [Region("chr20", 10_000_000, 10_004_000)]


def _calls(path):
    return [(c.variant.to_json(), c.alt_indices, c.probabilities) for c in read_calls([path])]


@pytest.mark.parametrize("batch_size", [128, 7])
def test_calling_examples_as_they_are_made_equals_calling_the_file(tmp_path, batch_size):
    model_dir, info = resolve_model("illumina", None)
    opts = make_examples_options(resolve_settings("illumina", info))
    keep = info.input_channels(opts.pileup.shape, channel_enums(opts.pileup))
    examples = str(tmp_path / "ex.tfrecord.gz")
    make_examples(REF, BAM, examples, REGION, opts)
    call_variants(examples, model_dir, str(tmp_path / "file.jsonl.gz"))
    caller = ExampleCaller(load_predictor(model_dir), str(tmp_path / "direct.jsonl.gz"), keep, batch_size)
    stats = make_examples(REF, BAM, caller, REGION, opts)
    want, got = _calls(tmp_path / "file.jsonl.gz"), _calls(tmp_path / "direct.jsonl.gz")
    assert len(got) == stats.examples == caller.stats.examples > 7  # several batches of 7
    assert [g[:2] for g in got] == [w[:2] for w in want]
    assert max(abs(a - b) for g, w in zip(got, want) for a, b in zip(g[2], w[2])) < 1e-6
    assert not any(name.endswith(".partial") for name in os.listdir(tmp_path))
    from deepvariant_py.examples_io import calls_model
    from deepvariant_py.model_info import weights_stamp
    assert calls_model([str(tmp_path / "file.jsonl.gz")]) == weights_stamp(model_dir)  # postprocess finds its model


def test_calls_of_sharded_examples_name_their_shards(tmp_path):
    import gzip
    import json

    from deepvariant_py.examples_io import read_sidecar
    model_dir, info = resolve_model("illumina", None)
    opts = make_examples_options(resolve_settings("illumina", info))
    examples = str(tmp_path / "ex1.tfrecord.gz")
    make_examples(REF, BAM, examples, REGION, opts, shard_index=1, num_shards=2)
    assert read_sidecar(examples).shard == (1, 2)
    call_variants(examples, model_dir, str(tmp_path / "c.jsonl.gz"))
    with gzip.open(tmp_path / "c.jsonl.gz", "rt") as fh:
        assert json.loads(fh.readline())["shards"] == [[1, 2]]


def test_a_failed_make_examples_leaves_no_calls_file(tmp_path):
    model_dir, info = resolve_model("illumina", None)
    opts = make_examples_options(resolve_settings("illumina", info))
    caller = ExampleCaller(load_predictor(model_dir), str(tmp_path / "calls.jsonl.gz"))

    def fail(*args, **kwargs):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        make_examples(REF, BAM, caller, REGION, opts, progress=fail)
    assert os.listdir(tmp_path) == []


def test_progress_counts_the_example_files_read(tmp_path):
    """Hours of examples called by one `dvcall call-variants`: progress in bytes of the files read, so it has an ETA."""
    model_dir, info = resolve_model("illumina", None)
    opts = make_examples_options(resolve_settings("illumina", info))
    paths = [str(tmp_path / f"ex{i}.tfrecord.gz") for i in range(2)]
    for path, region in zip(paths, ([Region("chr20", 10_000_000, 10_004_000)], [Region("chr20", 10_004_000, 10_008_000)])):
        make_examples(REF, BAM, path, region, opts)
    seen = []
    stats = call_variants(",".join(paths), model_dir, str(tmp_path / "c.jsonl.gz"), batch_size=4,
                          progress=lambda done, total, **counts: seen.append((done, total, counts["examples"])))
    sizes = [os.path.getsize(p) for p in paths]
    assert {total for _, total, _ in seen} == {-(-sum(sizes) // 1_000_000)}
    assert [n for _, _, n in seen] == [min(4 * (i + 1), stats.examples) for i in range(len(seen))]
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)  # never back


def test_read_records_tells_the_compressed_bytes_read(tmp_path):
    from deepvariant_py import tfrecord

    model_dir, info = resolve_model("illumina", None)
    path = str(tmp_path / "ex.tfrecord.gz")
    make_examples(REF, BAM, path, REGION, make_examples_options(resolve_settings("illumina", info)))
    read = []
    records = list(tfrecord.read_records(path, read.append))
    assert len(read) == len(records) > 3
    assert read == sorted(read) and read[-1] == os.path.getsize(path)


@pytest.mark.parametrize("model_type", ["illumina", "pacbio", "ont", "hybrid"])
def test_examples_made_for_a_shipped_model_are_called_by_it_without_model(tmp_path, model_type):
    """call-variants without --model ran the Illumina model on every examples file, so `make-examples --model-type
    ont` examples ended in a shape error; it now takes the shipped model they were made for (tensor and settings)."""
    from deepvariant_py.examples_io import write_sidecar
    from deepvariant_py.make_examples import example_settings
    from deepvariant_py.presets import model_for_examples
    model_dir, info = resolve_model(model_type, None)
    opts = make_examples_options(resolve_settings(model_type, info), model_dir=model_dir)
    examples = str(tmp_path / "ex.tfrecord.gz")
    open(examples, "wb").close()
    write_sidecar(examples, opts.pileup.shape, channel_enums(opts.pileup), example_settings(opts))
    assert model_for_examples([examples]) == (model_dir, f"the shipped --model-type {model_type} model, whose tensor and settings they have")
    # examples made with other flags fit no shipped model: the Illumina one, which then says how they differ
    write_sidecar(examples, opts.pileup.shape, channel_enums(opts.pileup),
                  {**example_settings(opts), "alt_aligned_pileup": "none"} if model_type != "ont" else
                  {**example_settings(opts), "realign": True, "realign_long_reads": False})
    assert model_for_examples([examples]) == (resolve_model("illumina", None)[0], None)


def test_examples_made_for_a_model_folder_are_called_by_it_without_model(tmp_path):
    """A model of one's own with a shipped model's tensor and settings: its examples went to the shipped model when
    call-variants got no --model. make-examples records the folder; call-variants takes it, and refuses once it is
    gone (hostile17: it called with the shipped model, saying so only in an info line)."""
    import shutil

    from deepvariant_py.examples_io import read_sidecar, write_sidecar
    from deepvariant_py.make_examples import example_settings
    from deepvariant_py.presets import model_for_examples
    shipped, info = resolve_model("illumina", None)
    mine = str(tmp_path / "my-model")
    shutil.copytree(shipped, mine)
    opts = make_examples_options(resolve_settings("illumina", info), model_dir=mine)
    examples = str(tmp_path / "ex.tfrecord.gz")
    make_examples(REF, BAM, examples, [Region("chr20", 10_000_000, 10_000_500)], opts, model_dir=mine)
    assert read_sidecar(examples).model == os.path.abspath(mine)
    assert model_for_examples([examples]) == (os.path.abspath(mine), "the model make-examples made them for")
    shutil.rmtree(mine)  # gone: refused, as postprocess refuses calls whose model is gone (it took the shipped one)
    with pytest.raises(InputError, match="made for the model in .*my-model, which is no longer there: pass that model"):
        model_for_examples([examples])
    moved = str(tmp_path / "old-venv" / "dvcall_models" / "illumina-wgs")  # review40: a shipped model's install moved
    write_sidecar(examples, opts.pileup.shape, channel_enums(opts.pileup), example_settings(opts), model=moved)
    assert model_for_examples([examples]) == (shipped, "the shipped model illumina-wgs they were made for, from this install")
    own = str(tmp_path / "lab" / "models" / "illumina-wgs")  # verify41: a user's own model kept under that name, moved
    write_sidecar(examples, opts.pileup.shape, channel_enums(opts.pileup), example_settings(opts), model=own)
    with pytest.raises(InputError, match="no longer there"):
        model_for_examples([examples])
    write_sidecar(examples, opts.pileup.shape, channel_enums(opts.pileup), example_settings(opts))  # no record
    assert model_for_examples([examples])[0] == shipped


def test_examples_of_two_samples_or_for_a_mixing_model_are_refused_before_any_call(tmp_path):
    """hostile19: call-variants merged two samples' examples (postprocess then named the VCF SAMPLE, silently), and
    the illumina-wgs model called hybrid examples (their HiFi reads taken for short ones: 44 INDEL FPs in 200 kb)
    with only a settings warning."""
    from deepvariant_py.examples_io import ExampleWriter, write_sidecar
    from deepvariant_py.make_examples import example_settings
    model_dir, info = resolve_model("illumina", None)
    opts = make_examples_options(resolve_settings("illumina", info))
    paths = []
    for sample in ("HG002", "HG001"):
        paths.append(str(tmp_path / f"{sample}.tfrecord.gz"))
        ExampleWriter(paths[-1]).close()
        write_sidecar(paths[-1], opts.pileup.shape, channel_enums(opts.pileup), example_settings(opts), sample=sample)
    out = str(tmp_path / "c.jsonl.gz")
    with pytest.raises(InputError, match=r"the examples hold different samples: .*HG002.tfrecord.gz is 'HG002' and .* is "
                                         r"'HG001' .*call each sample's examples apart"):
        call_variants(",".join(paths), model_dir, out)
    hybrid_dir, hybrid_info = resolve_model("hybrid", None)
    hybrid = make_examples_options(resolve_settings("hybrid", hybrid_info))
    mixed = str(tmp_path / "hybrid.tfrecord.gz")
    ExampleWriter(mixed).close()
    write_sidecar(mixed, (*opts.pileup.shape[:2], len(channel_enums(hybrid.pileup))), channel_enums(hybrid.pileup),
                  example_settings(hybrid))
    with pytest.raises(InputError, match="the examples carry the technology channel .* which model .*illumina-wgs does not read"):
        call_variants(mixed, model_dir, out)
    assert not os.path.exists(out)
