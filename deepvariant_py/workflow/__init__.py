"""The Snakemake workflow shipped with dvcall: where its Snakefile and example config live."""
from __future__ import annotations

import difflib
import os
import shlex

from ..errors import InputError
from ..htslib import index_suffix
from ..outputs import file_sha256

HERE = os.path.dirname(os.path.abspath(__file__))


def snakefile_path() -> str:
    return os.path.join(HERE, "Snakefile")


def example_config() -> str:
    with open(os.path.join(HERE, "config.example.yaml")) as fh:
        return fh.read()


KEYS = ("reference", "samples", "shards", "regions", "exclude_regions", "model_type", "model", "gvcf", "phase_reads", "phaser",
        "keep_supplementary", "ffpe_filter", "recurrent_error_gate", "haploid_contigs", "par_regions", "outdir")
"""The config keys the Snakefile reads (config.example.yaml shows each)."""


def check_config(config: dict) -> dict:
    """The workflow config with every value checked and normalised, so a typo fails before any job runs: an
    unknown key (`model-type`, `shard`) is one error naming the key it resembles, not a default applied in silence
    (the Illumina model on PacBio reads); booleans given as strings (`--config gvcf=false` passes "false") are
    read as what they say."""
    from ..settings import MODEL_TYPES

    unknown = [k for k in config if k not in KEYS]
    if unknown:
        near = difflib.get_close_matches(str(unknown[0]).replace("-", "_"), KEYS, n=1)
        raise InputError(f"unknown key {unknown[0]!r} in the workflow config{f' (did you mean {near[0]!r}?)' if near else ''}: "
                         f"the keys are {', '.join(KEYS)}")
    if not config.get("reference"):
        raise InputError("the workflow config needs `reference:`, the FASTA the reads are aligned to")
    out = dict(config)
    out["shards"] = _whole_number(config.get("shards", 8), "shards")
    out["gvcf"] = _boolean(config.get("gvcf", False), "gvcf")
    out["keep_supplementary"] = _boolean(config.get("keep_supplementary", False), "keep_supplementary")
    out["ffpe_filter"] = _boolean(config.get("ffpe_filter", False), "ffpe_filter")
    gate = config.get("recurrent_error_gate", "auto")
    out["recurrent_error_gate"] = "auto" if str(gate).strip().lower() == "auto" else _boolean(gate, "recurrent_error_gate", "or auto")
    phase = config.get("phase_reads", "auto")
    out["phase_reads"] = "auto" if str(phase).strip().lower() == "auto" else _boolean(phase, "phase_reads", "or auto")
    from ..presets import model_type_defaulted, model_type_for

    model_type = config.get("model_type") or None
    if model_type is not None and model_type not in MODEL_TYPES:
        raise InputError(f"model_type: {model_type!r} in the workflow config is not known: use one of {', '.join(MODEL_TYPES)}")
    model = str(config["model"]) if config.get("model") else None
    out["model_type"] = model_type_for(model_type, model)  # as run's
    out["model_type_defaulted"] = model_type_defaulted(model_type, model)  # then long reads are refused (check_read_kinds)
    outdir = str(config.get("outdir") or "dvcall_results")
    if "," in outdir:
        raise InputError(f"outdir: {outdir!r} in the workflow config holds a comma, which dvcall reads as a list of files: "
                         "pick a folder name without one")
    out["outdir"] = os.path.normpath(outdir)  # out/ and out name the same files (no doubled slashes in the rules)
    return out


def check_config_paths(config: dict) -> None:
    """The config's reference and model exist, in its own words (opening them would name the CLI's --ref, --model)."""
    for key, kind, test in (("reference", "FASTA file", os.path.isfile), ("model", "model folder", os.path.isdir)):
        if config.get(key) and not test(str(config[key])):
            raise InputError(f"{key}: {config[key]!r} in the workflow config is not an existing {kind} (relative paths "
                             "are read from the folder snakemake runs in)")


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0", "")


def _boolean(value, key: str, alternatives: str = "") -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise InputError(f"{key}: {value!r} in the workflow config is not true or false{f' {alternatives}' if alternatives else ''}")


def _whole_number(value, key: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise InputError(f"{key}: {value!r} in the workflow config must be a whole number of at least 1")
    return int(text)


def check_unique_keys(paths) -> None:
    """One error for a key written twice in a config file (two samples both named s1): YAML keeps the last one, so
    a sample would vanish from the run in silence."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: its keys may be overridden here
                continue
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise InputError(f"{key_node.start_mark.name} line {key_node.start_mark.line + 1}: {key!r} is given twice "
                                 "(YAML would keep only the last): give each sample, and each key, once")
            seen.add(key)
        return loader.construct_mapping(node, deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    for path in paths:
        with open(path) as fh:
            yaml.load(fh, Loader=Loader)


FIRST_PASS = ".firstpass"
"""The suffix of a sample's whatshap first pass (a pseudo-sample of the Snakefile's rules): no sample may end in it."""


def sample_reads(samples: dict, gvcf: bool = False) -> dict[str, list[str]]:
    """The config's `samples` as {sample: [reads files]}: each sample's reads are one BAM/CRAM path or a list of
    them (one sample's lanes or runs, read merged by position as `dvcall run --reads A --reads B` does). Names that
    would make two samples' files collide (`S` and `S.g` with gVCFs: both write S.g.vcf.gz), hold a comma (read as
    a list of files) or end in the first pass's suffix are refused."""
    if not isinstance(samples, dict) or not samples:
        raise InputError("the workflow config needs `samples:`, a mapping of sample name -> BAM/CRAM path (or a list of paths)")
    out = {}
    for name, reads in samples.items():
        paths = [reads] if isinstance(reads, str) else reads
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
            raise InputError(f"sample {name!r} in the workflow config: give its reads as a BAM/CRAM path or a list of paths, "
                             f"not {reads!r}")
        if not str(name).strip() or "/" in str(name) or str(name) != str(name).strip():
            raise InputError(f"sample name {name!r} in the workflow config names files under outdir: it cannot hold '/', be "
                             "empty or start or end with a space")
        if "," in str(name):
            raise InputError(f"sample name {name!r} in the workflow config holds a comma, which dvcall reads as a list of "
                             "files: rename the sample")
        if str(name).endswith(FIRST_PASS):
            raise InputError(f"sample name {name!r} in the workflow config ends in {FIRST_PASS!r}, which names a sample's "
                             "whatshap first pass in the workflow: rename the sample")
        out[str(name)] = list(paths)
    if gvcf:
        clash = next((n for n in out if f"{n}.g" in out), None)
        if clash is not None:
            raise InputError(f"samples {clash!r} and {clash + '.g'!r} in the workflow config would both write "
                             f"{clash}.g.vcf.gz (the first's gVCF, the second's VCF): rename one")
    return out


def haploid_args(config: dict, samples: dict[str, list[str]], contig_lengths: dict[str, int]) -> dict[str, str]:
    """{sample: its postprocess and make-examples flags} from the config's `haploid_contigs` (sample -> the contigs it carries once:
    a list or a comma-separated string) and `par_regions` (a BED, diploid in every sample), each checked as
    `dvcall postprocess` would check them, before any job runs."""
    from ..ploidy import contig_names, haploid_regions

    given = config.get("haploid_contigs") or {}
    par = str(config.get("par_regions") or "") or None
    if not isinstance(given, dict):
        raise InputError(f"haploid_contigs: {given!r} in the workflow config is not a mapping of sample -> contigs, e.g. "
                         "{HG002: [chrX, chrY]} for an XY sample on GRCh38")
    if par and not given:
        raise InputError(f"par_regions: {par!r} in the workflow config only matters with haploid_contigs (sample -> "
                         "contigs it carries once): give both, or neither")
    out = {}
    for sample, contigs in given.items():
        if str(sample) not in samples:
            raise InputError(f"haploid_contigs names sample {sample!r}, which `samples:` does not have: use the samples' "
                             "names")
        names = [contigs] if isinstance(contigs, str) else [] if contigs is None else contigs
        if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
            raise InputError(f"haploid_contigs of sample {sample!r} in the workflow config: give contig names (a list or "
                             f"a comma-separated string), not {contigs!r}")
        if not contig_names(names):  # `B: []`: a diploid sample, said plainly
            continue
        try:
            regions = haploid_regions(names, par, contig_lengths)
        except InputError as exc:  # the flags' message, said of the config's keys
            raise InputError(f"workflow config, haploid_contigs of sample {sample!r} / par_regions: "
                             f"{str(exc).replace('--haploid-contigs', 'haploid_contigs').replace('--par-regions', 'par_regions')}"
                             ) from None
        if regions is not None:
            out[str(sample)] = (" --haploid-contigs " + shlex.quote(",".join(contig_names(names)))
                                + (f" --par-regions {shlex.quote(par)}" if par else ""))
    if par and not out:  # `{A: [], B: []}`: every sample diploid, so the PARs would be ignored without a word
        raise InputError(f"par_regions: {par!r} in the workflow config only matters for a sample with haploid_contigs, and "
                         "every sample listed there has none: give a sample's contigs, or drop par_regions")
    return out


def check_sample_files(samples: dict[str, list[str]], reference) -> None:
    """Each sample's reads files opened as `dvcall run` opens them, before any job runs: one sample's files must name
    the same sample (@RG SM), as `dvcall run` requires; the workflow names every VCF after its config key, so two
    people's reads in one list would otherwise be called as one without a word."""
    from ..reads import open_reads

    for name, paths in samples.items():
        if len(paths) < 2:
            continue
        with open_reads(paths, reference) as reads:
            named = reads.file_samples()
        other = next(((p, sm) for p, sm in named[1:] if sm != named[0][1]), None)
        if other is not None:
            raise InputError(f"sample {name!r} in the workflow config lists reads of different samples: {named[0][0]} is "
                             f"{named[0][1]!r} and {other[0]} is {other[1]!r} (@RG SM): list one sample's files (if they "
                             "are one sample, give them one SM: samtools reheader)")


def check_read_kinds(config: dict, samples: dict[str, list[str]], reference, regions) -> None:
    """With no model_type in the config (and no model recording one), a sample of long reads is an error before
    any job, as `dvcall run` refuses it: make_examples would call it with the Illumina model and say so only in
    its shard logs. `regions`: the config's regions, parsed (empty: the whole genome)."""
    from ..presets import warn_about_read_kind
    from ..reads import open_reads

    if not config.get("model_type_defaulted"):  # check_config's
        return
    model = str(config["model"]) if config.get("model") else None
    for name, paths in samples.items():
        with open_reads(paths, reference) as reads:
            try:
                warn_about_read_kind(config["model_type"], reads, regions, model, defaulted=True)
            except InputError as exc:
                raise InputError(f"sample {name!r}: {exc} (the config's model_type is empty)") from None


_IDENTITIES: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> identity: a BED hashed once a process
HASHED_UP_TO = 64 << 20  # files this small (BEDs) are named by their content; larger ones (BAMs) by size and time


def file_params(paths: list[str]) -> str:
    """The files as a job's params: each one's content digest (up to HASHED_UP_TO bytes) or size and modification
    time, so that a file replaced by another with an older time (`cp -p`, `rsync -a`, a restore), which Snakemake's
    mtime trigger misses, still reruns the jobs that read it (workflow46: a stale VCF). Files not there yet (made
    by the workflow) are left out."""
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
        if key not in _IDENTITIES:
            if st.st_size <= HASHED_UP_TO:
                _IDENTITIES[key] = file_sha256(path)[:16]
            else:
                _IDENTITIES[key] = f"{st.st_size}:{st.st_mtime_ns}"
        out.append(f"{os.path.basename(path)}={_IDENTITIES[key]}")
    return " ".join(out)


def model_files(model_dir: str) -> list[str]:
    """The files of a model folder a job reads (its network, its settings and calibration, its merger): inputs of
    the rules, so a model retrained in place makes its samples be called again."""
    names = ("model.keras", "model_info.json", "merger.keras", "merger_info.json", "candidate_filter.json")
    return [os.path.join(model_dir, n) for n in names if os.path.exists(os.path.join(model_dir, n))]


EXAMPLE_MODEL_FILES = ("model_info.json", "candidate_filter.json")  # what make_examples reads of a model


def example_model_files(model_dir: str) -> list[str]:
    """The model files make_examples reads (its settings, the long-read candidate filter): its inputs, so weights
    retrained in place rerun call_variants and postprocess, not every make_examples shard (workflow46)."""
    return [os.path.join(model_dir, n) for n in EXAMPLE_MODEL_FILES if os.path.exists(os.path.join(model_dir, n))]


def config_regions(regions, key: str = "regions") -> list[str]:
    """The config's `regions` (or `exclude_regions`, as `key`) as a list of region strings / BED paths: one string
    (a region or a BED path, as the example config shows) is one entry, not a sequence of characters."""
    if regions is None:
        return []
    if isinstance(regions, str):
        return [regions] if regions.strip() else []
    if not isinstance(regions, list) or not all(isinstance(r, (str, int)) for r in regions):
        raise InputError(f"{key}: {regions!r} in the workflow config: give a region string, a BED path or a list of them")
    return [str(r) for r in regions]


def reads_args(paths: list[str]) -> str:
    """`--reads A --reads B` for a shell command."""
    return " ".join(f"--reads {shlex.quote(p)}" for p in paths)


def phaser(config: dict, info) -> str:
    """The config's `phaser` (default: phasing.default_phaser of the model `info`, as `dvcall run --phaser`)."""
    from ..phasing import PHASERS, default_phaser
    value = config.get("phaser") or default_phaser(info)
    if value not in PHASERS:
        raise InputError(f"phaser: {value!r} in the workflow config is not known: use one of {', '.join(PHASERS)}")
    return value


def check_phase_reads(phase_reads, info) -> None:
    """`phase_reads: true` only helps a model that reads HP tags: one error before any job (each make_examples job
    would fail on it)."""
    from ..pileup import HP_CHANNEL_ENUM
    if phase_reads is True and HP_CHANNEL_ENUM not in info.channels:
        raise InputError("phase_reads: true in the workflow config tags reads for models that read HP tags, and this "
                         "model has none: use model_type pacbio or ont (or a hybrid model), or set phase_reads: auto")


def index_suffixes(contig_lengths) -> tuple[str, str]:
    """The index files of the workflow's VCFs and tagged BAMs, as `dvcall postprocess` and `dvcall haplotag`
    write them: .tbi and .bai, or .csi for both where a contig is too long for those."""
    lengths = list(contig_lengths)
    return index_suffix(lengths, ".tbi"), index_suffix(lengths, ".bai")
