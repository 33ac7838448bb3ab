"""--model-type presets (docs/design.md §10): each type's defaults, the model's say, and explicit flags winning."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from deepvariant_py.cli.main import main
from deepvariant_py.errors import InputError, ModelError
from deepvariant_py.model_info import ModelInfo
from deepvariant_py.pileup import channel_enums
from deepvariant_py.presets import (PRESETS, make_examples_options, platform_warning, read_kind_warning, resolve_settings,
                                    settings_unlike_model)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "testdata")
REF = os.path.join(DATA, "ucsc.hg19.chr20.unittest.fasta.gz")
BAM = os.path.join(DATA, "NA12878.chr20_10.00-10.02Mb.bam")
TRUTH = os.path.join(DATA, "HG001.truth.chr20_10.00-10.02Mb.vcf.gz")
BED = os.path.join(DATA, "NA12878_confident.chr20_10.000-10.011Mb.bed")


@pytest.mark.parametrize("model_type, expected", [
    ("illumina", dict(realign=True, alt="diff_channels", sort=False, hp=False, width=221, partition=1000, reads=1500,
                      mapq=5, snps=0.12, indels=0.06, bq=10, channels=[1, 2, 3, 4, 5, 6, 9, 10])),
    ("pacbio", dict(realign=True, alt="diff_channels", sort=False, hp=True, width=199, partition=25000, reads=600,
                    mapq=1, snps=0.12, indels=0.12, bq=10, channels=[1, 2, 3, 4, 5, 6, 7, 9, 10])),
    ("ont", dict(realign=False, alt="diff_channels", sort=False, hp=True, width=199, partition=25000, reads=600,
                 mapq=5, snps=0.08, indels=0.12, bq=0, channels=[1, 2, 3, 4, 5, 6, 7, 9, 10])),
    ("hybrid", dict(realign=True, alt="diff_channels", sort=False, hp=True, width=221, partition=5000, reads=5000,
                    mapq=5, snps=0.12, indels=0.06, bq=10, channels=[1, 2, 3, 4, 5, 6, 7, 30, 9, 10])),
])
def test_each_preset_sets_its_sequencers_defaults(model_type, expected):
    opts = make_examples_options(resolve_settings(model_type, None))
    got = dict(realign=opts.realign, alt=opts.pileup.alt_aligned_pileup, sort=opts.pileup.sort_by_haplotypes,
               hp=opts.pileup.hp_channel, width=opts.pileup.width, partition=opts.partition_size,
               reads=opts.read_filter.max_reads_per_partition, mapq=opts.read_filter.min_mapping_quality,
               snps=opts.thresholds.min_fraction_snps, indels=opts.thresholds.min_fraction_indels,
               bq=opts.thresholds.min_base_quality, channels=channel_enums(opts.pileup))
    assert got == expected
    assert opts.pileup.min_mapping_quality == expected["mapq"]  # rows shown use the same floor
    assert opts.pileup.min_base_quality == expected["bq"]  # and the same base quality floor


def test_explicit_flags_win_over_preset_and_model():
    info = ModelInfo.from_json({"shape": [100, 199, 9], "channels": [1, 2, 3, 4, 5, 6, 7, 9, 10],
                                "settings": {"realign": False, "alt_aligned_pileup": "diff_channels", "sort_by_haplotypes": True}})
    s = resolve_settings("pacbio", info, realign=True, sort_by_haplotypes=True, hp_channel=False, pileup_width=221,
                         min_mapping_quality=20, vsc_min_fraction_indels=0.3, max_reads_per_partition=None)
    assert (s["realign"], s["sort_by_haplotypes"], s["hp_channel"], s["pileup_width"]) == (True, True, False, 221)
    assert (s["min_mapping_quality"], s["vsc_min_fraction_indels"]) == (20, 0.3)
    assert s["max_reads_per_partition"] == 600  # None = not given: the preset's


def test_flags_that_show_reads_otherwise_than_the_model_learnt_are_named():
    info = ModelInfo.from_json({"shape": [100, 221, 8], "channels": [1, 2, 3, 4, 5, 6, 9, 10],
                                "settings": {"realign": True, "alt_aligned_pileup": "diff_channels", "indel_reads": "spanning"}})
    lines = settings_unlike_model(info, {"realign": False, "indel_reads": "overlapping", "hp_channel": False,
                                         "min_mapping_quality": 20, "alt_aligned_pileup": None})
    assert len(lines) == 2, lines  # same hp_channel as the model, a preset-only setting and an unset flag: nothing
    assert lines[0].startswith("--no-realign: the model was trained on examples made with --realign,")
    assert lines[1].startswith("--indel-reads overlapping: the model was trained on examples made with --indel-reads spanning,")
    assert settings_unlike_model(info, {"realign": True, "indel_reads": "spanning"}) == []
    assert settings_unlike_model(None, {"realign": False}) == []  # no model (training examples for a new one)
    # a model from before indel_reads was recorded showed every overlapping read
    older = ModelInfo.from_json({"shape": [100, 221, 8], "channels": [1, 2, 3, 4, 5, 6, 9, 10], "settings": {"realign": True}})
    assert [line.split(":")[0] for line in settings_unlike_model(older, {"indel_reads": "spanning"})] == ["--indel-reads spanning"]
    # a model from before min_base_quality was recorded was trained at DeepVariant's 10; one trained at 0 runs at 0
    assert settings_unlike_model(older, {"min_base_quality": 0})[0].startswith(
        "--min-base-quality 0: the model was trained on examples made with --min-base-quality 10,")
    assert resolve_settings("ont", older)["min_base_quality"] == 10
    at0 = ModelInfo.from_json({"shape": [100, 199, 9], "channels": [1, 2, 3, 4, 5, 6, 7, 9, 10],
                               "settings": {"min_base_quality": 0}})
    assert resolve_settings("ont", at0)["min_base_quality"] == 0
    assert resolve_settings("ont", at0, min_base_quality=5)["min_base_quality"] == 5
    for bad in ({"min_base_quality": None}, {"min_base_quality": 10.5}, {"min_base_quality": 200}, {"realign": "yes"},
                {"indel_reads": "all"}):  # review46: null was "a bug in dvcall", 200 was taken as it was
        damaged = ModelInfo.from_json({"shape": [100, 199, 9], "channels": [1, 2, 3, 4, 5, 6, 7, 9, 10], "settings": bad})
        with pytest.raises(ModelError, match=rf"records {next(iter(bad))}=.* cannot be: the file is damaged"):
            resolve_settings("ont", damaged)
    hp = ModelInfo.from_json({"shape": [100, 199, 7], "channels": [1, 2, 3, 4, 5, 6, 7], "settings": {}})
    assert settings_unlike_model(hp, {"hp_channel": False})[0].startswith(
        "--channels none: the model was trained on examples made with --channels haplotype,")


def test_model_decides_how_its_examples_look_and_preset_the_rest():
    long_read_model = ModelInfo.from_json({"shape": [100, 199, 7], "channels": [1, 2, 3, 4, 5, 6, 7],
                                           "settings": {"realign": False, "alt_aligned_pileup": "none", "sort_by_haplotypes": True}})
    s = resolve_settings("illumina", long_read_model)
    assert (s["pileup_width"], s["hp_channel"], s["alt_aligned_pileup"], s["realign"]) == (199, True, "none", False)
    assert s["sort_by_haplotypes"] is False  # row order is not part of a model's look: the preset's
    assert (s["partition_size"], s["vsc_min_fraction_indels"]) == (1000, 0.06)  # thresholds stay the preset's
    legacy = resolve_settings("illumina", ModelInfo.from_json({"shape": [100, 221, 6], "channels": [1, 2, 3, 4, 5, 6]}))
    assert (legacy["realign"], legacy["alt_aligned_pileup"], legacy["hp_channel"]) == (False, "none", False)
    assert legacy["indel_reads"] == "overlapping"  # recorded since 2026-12: every model before showed all reads
    assert legacy["support_channel"] == "binary"  # DeepVariant's, the only one before it was recorded


def test_a_model_trained_on_spanning_indel_reads_gets_them_unless_the_flag_says_otherwise():
    info = ModelInfo.from_json({"shape": [100, 221, 8], "channels": [1, 2, 3, 4, 5, 6, 9, 10],
                                "settings": {"realign": True, "alt_aligned_pileup": "diff_channels", "indel_reads": "spanning"}})
    assert make_examples_options(resolve_settings("illumina", info)).pileup.indel_reads == "spanning"
    assert resolve_settings("illumina", info, indel_reads="overlapping")["indel_reads"] == "overlapping"
    assert resolve_settings("illumina", None)["indel_reads"] == "spanning"


def test_presets_show_reads_as_each_types_shipped_model_was_trained():
    """Without a model, the preset's values, which must be what each type's shipped model records (so --help and
    `dvcall presets` are true): every setting a model decides (indel_reads, support_channel, channels, ...)."""
    from deepvariant_py.presets import model_look, resolve_model
    for mt in ("illumina", "pacbio", "ont", "hybrid"):
        look, preset_settings = model_look(resolve_model(mt, None)[1]), resolve_settings(mt, None)
        assert {"indel_reads", "support_channel", "alt_aligned_pileup", "hp_channel"} <= set(look)
        assert {k: preset_settings[k] for k in look} == look, mt


def test_a_model_trained_with_other_alts_support_gets_it_and_is_warned_about_otherwise():
    info = ModelInfo.from_json({"shape": [100, 221, 8], "channels": [1, 2, 3, 4, 5, 6, 9, 10],
                                "settings": {"realign": True, "support_channel": "other_alts"}})
    assert make_examples_options(resolve_settings("illumina", info)).pileup.support_channel == "other_alts"
    assert [line.split(":")[0] for line in settings_unlike_model(info, {"support_channel": "binary"})] == \
        ["--support-channel binary"]


def test_unknown_model_type_is_a_user_error():
    with pytest.raises(InputError, match="--model-type"):
        resolve_settings("iontorrent", None)
    assert set(PRESETS) == {"illumina", "pacbio", "ont", "hybrid"}


def test_make_examples_with_a_long_read_preset_and_an_override(tmp_path, caplog):
    out = str(tmp_path / "ex.tfrecord.gz")
    result = CliRunner().invoke(main, [
        "make-examples", "--ref", REF, "--reads", BAM, "--examples", out, "--regions", "chr20:10,002,000-10,003,000",
        "--truth-vcf", TRUTH, "--confident-bed", BED, "--model-type", "ont", "--model", os.path.join(HERE, "..", "models", "illumina-wgs"),
        "--pileup-width", "199", "--channels", "haplotype", "--no-realign", "--sort-by-haplotypes", "--quiet"])
    assert result.exit_code == 0, result.output
    with open(out + ".example_info.json") as fh:
        info = json.load(fh)
    # the Illumina model's look (ALT-aligned channels) with the flags' width, HP channel and no realignment
    assert info["shape"] == [100, 199, 9] and info["channels"] == [1, 2, 3, 4, 5, 6, 7, 9, 10]
    assert info["settings"]["realign"] is False and info["settings"]["sort_by_haplotypes"] is True
    assert caplog.text.count("but --model-type ont is for long reads: use --model-type illumina") == 1  # short reads


def test_run_without_a_shipped_model_for_the_type_says_how_to_get_one(tmp_path, monkeypatch):
    import deepvariant_py.model as model
    monkeypatch.setattr(model, "default_model_dir", lambda name="illumina-wgs": str(tmp_path / "models" / name))
    out = str(tmp_path / "o.vcf.gz")
    result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", out, "--model-type", "ont",
                                       "--regions", "chr20:10,002,000-10,003,000"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "no shipped model for --model-type ont" in result.output
    assert not os.path.exists(out)


def test_the_hybrid_model_on_one_kind_of_reads_says_which_model_fits(tmp_path, caplog):
    out = str(tmp_path / "o.vcf.gz")
    result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", out, "--model-type", "hybrid",
                                       "--no-phase-reads", "--regions", "chr20:10,002,000-10,003,000"])
    assert result.exit_code == 0, result.output
    assert caplog.text.count("for short reads alone --model-type illumina is more accurate") == 1
    assert os.path.exists(out)


@pytest.mark.parametrize("n_reads, n_long, alone", [(10, 0, "illumina"), (10, 10, "pacbio"), (10, 3, None), (0, 0, None)])
def test_technology_mix_warning_names_the_model_for_one_kind(n_reads, n_long, alone):
    from deepvariant_py.pipeline import technology_mix_warning

    text = technology_mix_warning(n_reads, n_long)
    assert (text is None) if alone is None else (f"--model-type {alone}" in text and text.startswith("the reads are all"))


@pytest.mark.parametrize("model_type, n_reads, n_long, advice", [
    ("illumina", 100, 100, "--model-type pacbio (HiFi) or ont"), ("illumina", 100, 51, "--model-type pacbio"),
    ("illumina", 100, 50, "--model-type hybrid"), ("illumina", 2000, 55, "--model-type hybrid"),  # hostile19: HiFi
    ("illumina", 2000, 4, None), ("illumina", 100, 0, None),                                      # beside Illumina
    ("pacbio", 100, 0, "--model-type illumina"), ("ont", 2000, 4, "--model-type illumina"),
    ("pacbio", 2000, 55, "--model-type hybrid"), ("ont", 100, 49, "--model-type hybrid"), ("ont", 100, 50, None),
    ("pacbio", 100, 100, None), ("hybrid", 100, 0, None), ("illumina", 0, 0, None)])
def test_read_kind_warning_names_the_model_type_for_the_reads(model_type, n_reads, n_long, advice):
    text = read_kind_warning(model_type, n_reads, n_long)
    assert (text is None) if advice is None else (advice in text and f"--model-type {model_type} is for" in text)


def test_long_read_model_on_short_reads_says_so_once_and_does_not_ask_for_phasing_it_did(tmp_path, caplog):
    out = str(tmp_path / "o.vcf.gz")
    result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", out, "--model-type", "pacbio",
                                       "--regions", "chr20:10,002,000-10,003,000", "--num-shards", "1"])
    assert result.exit_code == 0, result.output
    assert caplog.text.count("but --model-type pacbio is for long reads: use --model-type illumina") == 1
    assert "phasing tagged only" in caplog.text and "add --phase-reads" not in caplog.text
    assert os.path.exists(out)


def _tagged_bam(tmp_path) -> str:
    import pysam
    out = str(tmp_path / "tagged.bam")
    with pysam.AlignmentFile(BAM) as inp, pysam.AlignmentFile(out, "wb", template=inp) as dst:
        for i, read in enumerate(inp.fetch("chr20", 10_002_000, 10_003_000)):
            read.set_tag("HP", 1 + i % 2, "i")
            dst.write(read)
    pysam.index(out)
    return out


def test_dropping_hp_tags_for_training_is_by_read_and_repeatable(tmp_path):
    from deepvariant_py.make_examples import process_partition
    from deepvariant_py.alignment_files import open_alignments
    from deepvariant_py.reference import Reference
    from deepvariant_py.regions import Region

    reference = Reference(REF)
    handle = open_alignments(_tagged_bam(tmp_path), reference)
    region = Region("chr20", 10_002_000, 10_003_000)
    base = make_examples_options(resolve_settings("pacbio", None, partition_size=1000))

    def hp(fraction):
        part = process_partition(handle, reference, region, replace(base, drop_hp_fraction=fraction))
        return part.canvas.events.hp.copy()

    tagged, none, half = hp(0.0), hp(1.0), hp(0.5)
    assert set(tagged.tolist()) == {1, 2} and not none.any()
    dropped = (half == 0)
    assert 0.3 < dropped.mean() < 0.7 and np.array_equal(half[~dropped], tagged[~dropped])
    assert np.array_equal(hp(0.5), half)  # the same reads every time


def test_with_a_technology_channel_only_long_reads_are_expected_to_carry_hp_tags(tmp_path):
    # whatshap tags a short read only where it crosses a heterozygous site: the untagged warning of a hybrid run
    # counts the long reads, which phasing tags nearly all of
    from deepvariant_py.make_examples import process_partition
    from deepvariant_py.alignment_files import open_alignments
    from deepvariant_py.reference import Reference
    from deepvariant_py.regions import Region

    reference = Reference(REF)
    handle = open_alignments(_tagged_bam(tmp_path), reference)  # short reads, every one tagged
    region = Region("chr20", 10_002_000, 10_003_000)
    one_kind = process_partition(handle, reference, region, make_examples_options(resolve_settings("pacbio", None, partition_size=1000)))
    assert one_kind.n_reads > 0 and one_kind.n_taggable == one_kind.n_tagged == one_kind.n_reads
    hybrid = process_partition(handle, reference, region, make_examples_options(resolve_settings("hybrid", None, partition_size=1000)))
    assert hybrid.n_reads > 0 and hybrid.n_taggable == hybrid.n_tagged == 0


def test_run_warns_when_a_haplotype_model_gets_untagged_reads(tmp_path, caplog):
    import logging
    out = str(tmp_path / "o.vcf.gz")
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", BAM, "--output-vcf", out, "--model-type", "pacbio",
                                           "--regions", "chr20:10,002,000-10,003,000", "--num-shards", "1", "--no-phase-reads"])
    assert result.exit_code == 0, result.output
    assert any("carry an HP tag" in r.getMessage() and "--phase-reads" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        result = CliRunner().invoke(main, ["run", "--ref", REF, "--reads", _tagged_bam(tmp_path), "--output-vcf", out,
                                           "--model-type", "pacbio", "--regions", "chr20:10,002,000-10,003,000", "--num-shards", "1"])
    assert result.exit_code == 0, result.output
    assert not any("carry an HP tag" in r.getMessage() for r in caplog.records)
    # these tags alternate read by read, whatever the alleles: the partition is phased from its reads, and said so
    assert any("HP tags contradicted their own alleles" in r.getMessage() for r in caplog.records)


def test_each_setting_is_declared_once_and_reaches_flags_presets_and_options():
    from deepvariant_py.cli.main import main
    from deepvariant_py.model import default_model_dir
    from deepvariant_py.presets import PRESETS, make_examples_options, resolve_settings
    from deepvariant_py.settings import MODEL_TYPES, SETTING_KEYS, SETTINGS

    assert len(set(SETTING_KEYS)) == len(SETTING_KEYS)
    for command in ("run", "make-examples"):
        assert set(SETTING_KEYS) <= {p.name for p in main.commands[command].params}, command
    assert all(set(PRESETS[mt].settings) == set(SETTING_KEYS) for mt in MODEL_TYPES)
    settings = resolve_settings("illumina", None)
    ont = default_model_dir("ont")  # ships a candidate pre-filter, which the candidate_filter setting loads
    for s in SETTINGS:  # every setting moves the options make_examples runs with
        value = settings[s.key]
        if s.kind[0] == "choice":
            other = next(c for c in s.kind[1] if (s.flag_values or {}).get(c, c) != value)
            other = (s.flag_values or {}).get(other, other)
        elif s.kind[0] == "bool":
            other = not value
        elif s.kind[0] == "fraction":
            other = value / 2
        else:
            other = value + 1
        assert make_examples_options({**settings, s.key: other}, model_dir=ont) != make_examples_options(settings, model_dir=ont), s.key
        assert s.default_text().startswith("Default: ")


def test_a_model_with_a_technology_channel_gets_it_whatever_the_type():
    hybrid_model = ModelInfo.from_json({"shape": [100, 221, 9], "channels": [1, 2, 3, 4, 5, 6, 30, 9, 10],
                                        "settings": {"realign": True, "alt_aligned_pileup": "diff_channels"}})
    assert resolve_settings("illumina", hybrid_model)["technology_channel"] is True
    plain_model = ModelInfo.from_json({"shape": [100, 221, 8], "channels": [1, 2, 3, 4, 5, 6, 9, 10]})
    assert resolve_settings("hybrid", plain_model)["technology_channel"] is False



def test_long_read_realignment_is_the_models_when_recorded_else_the_presets():
    def hybrid_model(**recorded):
        return ModelInfo.from_json({"shape": [100, 221, 10], "channels": [1, 2, 3, 4, 5, 6, 7, 30, 9, 10],
                                    "settings": {"realign": True, "alt_aligned_pileup": "diff_channels", **recorded}})
    assert resolve_settings("hybrid", hybrid_model())["realign_long_reads"] is True  # recorded before it existed
    assert resolve_settings("hybrid", hybrid_model(realign_long_reads=False))["realign_long_reads"] is False
    assert resolve_settings("illumina", hybrid_model(realign_long_reads=True))["realign_long_reads"] is True
    assert resolve_settings("hybrid", hybrid_model(), realign_long_reads=False)["realign_long_reads"] is False
    opts = make_examples_options(resolve_settings("hybrid", None))
    assert opts.realigner.long_reads is True
    assert make_examples_options(resolve_settings("pacbio", None)).realigner.long_reads is True  # HiFi alone (§3.5)
    assert make_examples_options(resolve_settings("ont", None)).realigner.long_reads is False


def test_make_examples_warns_when_a_flag_overrides_the_models_look_except_for_training_examples(tmp_path, caplog):
    import logging
    common = ["make-examples", "--ref", REF, "--reads", BAM, "--regions", "chr20:10,002,000-10,002,600", "--indel-reads", "overlapping"]
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        result = CliRunner().invoke(main, [*common, "--examples", str(tmp_path / "a.tfrecord.gz"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert any(r.getMessage().startswith("--indel-reads overlapping: the model was trained on") for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        result = CliRunner().invoke(main, [*common, "--examples", str(tmp_path / "b.tfrecord.gz"), "--truth-vcf", TRUTH,
                                           "--confident-bed", BED, "--quiet"])
    assert result.exit_code == 0, result.output
    assert not any("the model was trained on" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("model_type, platforms, advice", [
    ("pacbio", {"ONT"}, "--model-type ont"), ("ont", {"PACBIO"}, "--model-type pacbio"), ("pacbio", {"PACBIO"}, None),
    ("ont", {"ONT"}, None), ("pacbio", set(), None), ("pacbio", {"ONT", "PACBIO"}, None), ("illumina", {"ONT"}, None),
    ("pacbio", {"ILLUMINA"}, None)])
def test_platform_warning_tells_hifi_from_nanopore_by_the_read_group(model_type, platforms, advice):
    """HiFi and ONT reads are both long, so their lengths cannot say which model is wrong; @RG PL can (ONT reads
    called with --model-type pacbio: INDEL F1 0.93 -> 0.87 without a word). Short-read mix-ups are the length
    check's."""
    text = platform_warning(model_type, platforms)
    assert (text is None) if advice is None else (advice in text and f"--model-type {model_type} is for" in text)


def test_the_long_reads_indel_rate_tells_hifi_from_nanopore_whatever_the_read_group_says(tmp_path):
    """hostile16: ONT reads without @RG PL (or PL:PACBIO) called with --model-type pacbio went from 1 to 12 INDEL
    false positives without a word, HiFi reads labelled PL:ONT were told to switch to the ont model, which made them
    worse, and ONT qualities on a Q50+ scale passed unnoticed. The sampled long reads' indels per 1,000 aligned
    bases and mean quality say what they look like."""
    from builders import header_for, make_read, write_bam, write_fasta

    from deepvariant_py.presets import long_read_kind_warning
    from deepvariant_py.reads import LongReadProfile, long_read_profile, open_reads
    from deepvariant_py.reference import Reference
    ref = Reference(write_fasta(tmp_path / "ref.fa", {"chr1": "A" * 60_000}))
    header = header_for("chr1", 60_000)
    noisy = [make_read(f"n{i}", 100 * i, "1000M1D1000M1I999M1D1000M", quals=20, header=header) for i in range(30)]
    with open_reads(write_bam(tmp_path / "n.bam", noisy, header), ref) as sources:
        profile = long_read_profile(sources, [])
        assert abs(profile.indels_per_kb - 0.75) < 0.01 and profile.mean_quality == 20  # 3 indels, 3,999 bases
        assert long_read_profile(sources, [], least=31) is None  # too few long reads to say

    def say(model_type, rate, platforms=(), quality=25.0):
        return long_read_kind_warning(model_type, LongReadProfile(rate, quality), set(platforms))
    assert say("pacbio", 4.0).startswith("the long reads show 4.0 indels per 1,000 aligned bases, more than PacBio HiFi")
    assert "use --model-type ont" in say("pacbio", 4.0, {"PACBIO"})
    assert say("pacbio", 1.8) is None and say("pacbio", 1.0, quality=93) is None  # real Revio HiFi's rate; HiFi's Q93
    assert "use --model-type pacbio" in say("ont", 0.8)
    assert say("ont", 0.8, {"ONT"}) is None  # labelled ONT: duplex ONT can be that clean
    assert "mean base quality is 55" in say("ont", 4.0, quality=55.0) and say("ont", 4.0) is None
    assert say("illumina", 9.0) is None and long_read_kind_warning("pacbio", None, set()) is None


def test_make_examples_warns_when_an_hp_channel_draws_untagged_reads():
    """Training examples for an HP-channel model made from an untagged BAM drew HP 0 on every read, while `dvcall
    run` phases the same reads (train/serve skew), without a word."""
    from dataclasses import replace

    from deepvariant_py.make_examples import MakeExamplesStats, hp_tag_warning
    from deepvariant_py.pileup import PileupOptions

    untagged = [MakeExamplesStats(hp_taggable_reads=68, hp_tagged_reads=0)]
    hp = replace(PileupOptions(), hp_channel=True)
    assert "only 0 of 68 reads carry an HP tag" in hp_tag_warning(untagged, hp, phased=False)
    assert "add --phase-reads" in hp_tag_warning(untagged, hp, phased=False)
    assert "phasing tagged only 0 of 68" in hp_tag_warning(untagged, hp, phased=True)
    assert hp_tag_warning(untagged, replace(hp, hp_channel=False), phased=False) is None
    assert hp_tag_warning([MakeExamplesStats(hp_taggable_reads=68, hp_tagged_reads=60)], hp, phased=False) is None


def test_a_model_folder_of_an_unfinished_training_run_is_named(tmp_path, caplog):
    import logging
    import shutil

    from deepvariant_py.model import default_model_dir
    from deepvariant_py.presets import resolve_model

    model = tmp_path / "m"
    shutil.copytree(default_model_dir("ont"), model)
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        resolve_model("ont", str(model))
        assert not caplog.records
        (model / "resume").mkdir()
        resolve_model("ont", str(model))
    assert "holds a training run that has not finished" in caplog.records[-1].getMessage()


def test_a_model_given_with_model_is_checked_against_the_reads_by_its_own_kind():
    """`--model my-hifi-model` with the default --model-type illumina on Illumina reads: the model's channels say
    it is a long-read model, and the warning names it (the model type alone said nothing)."""
    from deepvariant_py.model_info import load_model_info
    from deepvariant_py.presets import model_read_kind

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")
    kinds = {name: model_read_kind(load_model_info(os.path.join(root, name)))
             for name in ("illumina-wgs", "pacbio-hifi", "ont", "hybrid-hifi-illumina")}
    assert kinds == {"illumina-wgs": "short", "pacbio-hifi": "long", "ont": "long", "hybrid-hifi-illumina": None}
    text = read_kind_warning("illumina", 2000, 0, "my-hifi-model", "long")
    assert text == ("2,000 of 2,000 sampled reads are short (500 bp or less: Illumina), but --model my-hifi-model is "
                    "for long reads: call them with a short-read model (--model-type illumina without --model)")
    assert read_kind_warning("pacbio", 2000, 2000, "my-short-model", "short").endswith(  # hostile17: the advice was a flag
        "but --model my-short-model is for short reads: call them with a long-read model (--model-type pacbio for "  # already in use
        "HiFi, or ont, without --model)")
    assert read_kind_warning("illumina", 2000, 0, "my-illumina-model", "short") is None
    assert read_kind_warning("illumina", 2000, 0, "my-hybrid-model", None) is None


def test_presets_command_prints_each_models_version_and_where_the_models_are():
    """A pip install puts the models inside the package: `dvcall presets` says where (for --model, --init-model)."""
    from click.testing import CliRunner

    from deepvariant_py.cli.main import main
    from deepvariant_py.model import default_model_dir
    from deepvariant_py.model_info import load_model_info
    result = CliRunner().invoke(main, ["presets"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    versions = next(line for line in lines if line.startswith("model version")).split()[2:]
    want = [load_model_info(default_model_dir(PRESETS[t].model)).model_version for t in PRESETS]
    assert versions == want and all(v.isdigit() for v in versions)
    folder = os.path.dirname(default_model_dir(PRESETS["illumina"].model))
    assert lines[-1] == f"model folders: {folder}/<model>" and os.path.isdir(os.path.join(folder, "ont"))


def test_low_depth_is_said_by_the_depth_over_the_positions_reads_reach(tmp_path):
    """hostile16: ~4x HiFi came out at SNP precision 0.885 / recall 0.42 without a word. Depth counts only positions a
    read reaches, so an exome's or panel's targets are judged by their own depth."""
    from builders import header_for, make_read, write_bam, write_fasta

    from deepvariant_py.make_examples import MakeExamplesOptions, MakeExamplesStats, low_depth_warning, process_partition
    from deepvariant_py.reads import open_reads
    from deepvariant_py.reference import Reference
    from deepvariant_py.regions import Region
    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("ACGT"), 4_000))
    ref = Reference(write_fasta(tmp_path / "ref.fa", {"chr1": seq}))
    header = header_for("chr1", 4_000)
    reads = [make_read(f"r{i}", s, "100M", seq=seq[s:s + 100], header=header) for i, s in enumerate(range(1000, 1500, 25))]
    with open_reads(write_bam(tmp_path / "r.bam", reads, header), ref) as sources:
        part = process_partition(sources, ref, Region("chr1", 1000, 2000), MakeExamplesOptions(realign=False))
    assert part.n_covered == 575 and part.n_bases == 2000  # 20 reads x 100 bases starting 1000-1475 reach 1000-1575
    assert low_depth_warning([MakeExamplesStats(bases=34_000, covered_positions=10_000)]).startswith(
        "the reads cover the positions they reach at 3.4x on average")
    assert low_depth_warning([MakeExamplesStats(bases=300_000, covered_positions=10_000)]) is None  # 30x
    assert low_depth_warning([MakeExamplesStats(bases=3_000, covered_positions=1_000)]) is None  # too little to say


def test_a_model_records_the_preset_its_examples_were_made_under_and_run_takes_it(tmp_path, caplog):
    """hostile17: a model retrained from `make-examples --model-type ont` examples recorded none of ONT's thresholds,
    and `run --model it` called with Illumina's (MAPQ 5, SNP fraction 0.12, 1 kb partitions) without a word."""
    import shutil

    from deepvariant_py.cli.common import setting_flags
    from deepvariant_py.errors import ModelError
    from deepvariant_py.examples_io import examples_model_type, read_sidecar
    from deepvariant_py.model import default_model_dir
    from deepvariant_py.presets import model_type_for, preset, resolve_model

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ex = tmp_path / "ex.tfrecord.gz"
    result = CliRunner().invoke(main, ["make-examples", "--ref", os.path.join(root, "testdata", "ucsc.hg19.chr20.unittest.fasta.gz"),
                                       "--reads", os.path.join(root, "testdata", "NA12878.chr20_10.00-10.02Mb.bam"),
                                       "--examples", str(ex), "--regions", "chr20:10,000,000-10,001,000", "--quiet"])
    assert result.exit_code == 0, result.output
    assert read_sidecar(str(ex)).model_type == "illumina" and examples_model_type([str(ex)]) == "illumina"
    mine = tmp_path / "my-ont"
    shutil.copytree(default_model_dir("ont"), mine)
    assert model_type_for(None, str(mine)) == "ont"
    with caplog.at_level(logging.WARNING, logger="dvcall"):
        assert model_type_for("pacbio", str(mine)) == "pacbio"  # given: it wins, with a warning (review40)
    assert "was trained on examples made under --model-type ont" in caplog.text
    from deepvariant_py.workflow import check_config
    config = {"reference": "r.fa", "samples": {"S": "s.bam"}, "model": str(mine)}
    assert check_config(config)["model_type"] == "ont"  # as `dvcall run --model` takes it
    assert check_config({**config, "model_type": ""})["model_type"] == "ont"
    assert check_config({**config, "model_type": "illumina"})["model_type"] == "illumina"
    kwargs = {"model_type": None, **{key: None for key in preset("illumina").settings}}
    assert setting_flags(dict(kwargs), str(mine))[0] == "ont" and setting_flags(dict(kwargs))[0] == "illumina"
    info = json.loads((mine / "model_info.json").read_text())
    del info["model_type"]  # a model from before the record: illumina, as before
    (mine / "model_info.json").write_text(json.dumps(info))
    assert model_type_for(None, str(mine)) == "illumina"
    info["model_type"] = "nanopore"
    (mine / "model_info.json").write_text(json.dumps(info))
    with pytest.raises(ModelError, match="model_type 'nanopore' is not one of"):
        resolve_model("ont", str(mine))


def test_merged_illumina_pairs_over_500_bp_are_not_a_second_technology():
    """review42: overlapping 2x300 pairs merged into one read (~590 bp) counted as long reads beside short ones."""
    assert read_kind_warning("illumina", 2000, 300, n_second=0) is None  # none over 1,000 bp
    assert "--model-type hybrid" in read_kind_warning("illumina", 2000, 55, n_second=55)
    assert "use --model-type illumina" in read_kind_warning("pacbio", 2000, 300, n_second=0)


def test_technology_mix_warning_with_two_files_says_one_had_no_reads_there():
    """hostile19: two --reads files, the Illumina one empty over the regions: the line asked for 'two --reads'."""
    from deepvariant_py.pipeline import technology_mix_warning
    text = technology_mix_warning(40, 40, 2)
    assert "though 2 --reads files were given: the file of short (Illumina) reads has none there" in text
    assert "(two --reads)" not in text and "--model-type pacbio" in text
