"""run: make_examples over shards in parallel processes, then call_variants, then postprocess."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace

from .alignment_files import reads_inputs, shared_reads_warning
from .call_variants import CallStats, ExampleCaller, check_runnable, load_predictor
from .checkpoint import CHECKPOINT_SECONDS, CHECKPOINT_SUFFIX, OTHER_INPUTS, ShardCheckpoints, drop_checkpoint, load_checkpoint
from .code_digest import code_digest
from .errors import InputError, OutputError
from .htslib import index_suffix
from .identity import individuals_warning
from .make_examples import (MakeExamplesOptions, MakeExamplesStats, calling_regions, calling_shard, dropped_note, error_table_note,
                            hp_tag_warning, make_examples, read_warnings, restorable, retag_warning, window_gap)
from .merger import load_merger
from .model import model_input_shape
from .model_info import ModelInfo, model_description, weights_stamp
from .outputs import atomic_outputs, check_outputs, disk_error, file_sha256, is_disk_error, require_vcf_gz
from .pileup import channel_enums
from .phasing import (PHASERS, WhatshapFailed, auto_phase, default_phaser, equals_warning, haplotag, require_hp_channel,
                      require_whatshap)
from .ploidy import HaploidRegions, haploid_regions, missing_par_warning, mostly_haploid
from .postprocess import postprocess
from .presets import (DEFAULT_MODEL_TYPE, make_examples_options, resolve_model, resolve_settings, warn_about_read_kind,
                      warn_about_settings_unlike_model)
from .progress import Progress, ProgressFile, RunProgress, configure_logging
from .reads import (log_read_counts, open_reads, read_group_samples, reads_paths, uncalled_contigs_note,
                    unreferenced_reads_warning)
from .report import write_report
from .reference import Reference
from .regions import (Region, RegionSet, absent_contigs_note, calling_windows, count_partitions, nothing_to_call_warning, parse_regions,
                      region_file_inputs)
from .resume import LOCK_FILE, MARKER_SUFFIX, DirectoryLock, clear, completed, file_identity, fingerprint, mark_done, reuse_or_run
from .vcf import VCF_INDEXES, check_sample_name, vcf_index_outputs
from .workers import JOB_FILE_PREFIX, run_jobs, usable_cpus

log = logging.getLogger("dvcall")


@dataclass
class RunOptions:
    ref: str
    reads: str | list[str]  # one BAM/CRAM, or several of one sample (lanes, runs), read merged by position
    output_vcf: str
    output_gvcf: str | None = None
    report: str | None = None
    regions: list[str] = field(default_factory=list)
    exclude_regions: list[str] = field(default_factory=list)  # region strings / BEDs left out of `regions`
    model_dir: str | None = None  # None: the model type's shipped model
    model_type: str = DEFAULT_MODEL_TYPE  # the CLI passes presets.model_type_for's: given, else the --model's, else this
    model_type_defaulted: bool = False  # nobody chose model_type (presets.model_type_defaulted): long reads are an error
    intermediate_dir: str | None = None
    sample_name: str | None = None
    num_shards: int | None = None  # None: the CPUs this process may use (workers.usable_cpus)
    command: str | None = None
    settings: dict = field(default_factory=dict)  # make_examples settings the user gave (presets.SETTING_KEYS)
    multiallelic_merge: str = "auto"
    haplotype_resolution: bool = True
    haploid_contigs: list[str] = field(default_factory=list)  # contigs the sample carries once (ploidy.haploid_regions)
    par_regions: str | None = None  # BED of pseudo-autosomal regions: diploid on those contigs
    phase_reads: bool | None = None  # tag untagged reads by haplotype; None: when it helps (_should_phase)
    phaser: str | None = None  # PHASERS: how phase_reads tags them; None: phasing.default_phaser of the model
    make_examples: MakeExamplesOptions = field(default_factory=MakeExamplesOptions)
    checkpoint_seconds: float = CHECKPOINT_SECONDS  # with intermediate_dir: how often a shard records how far it got

    def __post_init__(self):
        self.reads = list(reads_paths(self.reads))


@dataclass(frozen=True)
class ShardJob:
    """One make_examples shard of a run, as a worker process receives it."""

    ref: str
    reads: tuple[str, ...]
    output: str
    gvcf_output: str | None
    regions: list[Region]  # the calling regions, parsed once by _plan
    opts: MakeExamplesOptions
    index: int
    count: int
    quiet: bool
    inputs: str  # the resume fingerprint ("" when the run is not resumable)
    model_dir: str  # the examples are called as they are made (call_variants.ExampleCaller); `output` gets the calls
    channels: tuple[int, ...] | None  # the image channels the model reads (None: all)
    progress_file: str | None = None  # where the parent reads this shard's progress (progress.ProgressFile), if it does
    checkpoint_seconds: float = CHECKPOINT_SECONDS  # how often a resumable shard records how far it got (checkpoint.py)


def run_shard(job: ShardJob) -> dict:
    """make_examples and call_variants of one shard in one process: {"make_examples": MakeExamplesStats,
    "call_variants": CallStats} as dicts (also what the resume marker keeps), and "resumed_from": the partitions an
    earlier run's checkpoint had done (0: none)."""
    configure_logging(job.quiet)
    label = f"make_examples shard {job.index + 1}/{job.count}" if job.count > 1 else "make_examples"
    checkpoints = start = None
    files = [job.output] + ([job.gvcf_output] if job.gvcf_output else [])  # what the shard writes
    if job.inputs:  # resumable: from its checkpoint, if an earlier run of these inputs left one
        clear(job.output)
        start, why = load_checkpoint(job.output, job.inputs, files)
        if start is not None and not restorable(start):
            start, why = None, OTHER_INPUTS
        if start is None:
            drop_checkpoint(job.output)
            if why:
                log.warning("%s: the checkpoint an earlier run left in %s is %s: this shard starts over", label,
                            os.path.dirname(job.output) or ".", why)
        else:
            log.info("%s: going on from an earlier run's checkpoint (%d partitions done)", label, start.partitions)
        checkpoints = ShardCheckpoints(job.output, job.inputs, start, job.checkpoint_seconds)
    caller = ExampleCaller(load_predictor(job.model_dir), job.output, list(job.channels) if job.channels else None,
                           stamp=weights_stamp(job.model_dir), keep=bool(job.inputs),
                           resume_at=start.lengths[os.path.basename(job.output)] if start else None)
    done, done_counts = (start.partitions, {"examples": start.stats.get("examples", 0)}) if start else (0, {})
    progress = (ProgressFile(job.progress_file, start=done, start_counts=done_counts) if job.progress_file
                else None if job.quiet else Progress(label, start=done, start_counts=done_counts))
    stats = make_examples(job.ref, job.reads, caller, job.regions, job.opts, job.index, job.count,
                          progress=progress, gvcf_output=job.gvcf_output, checkpoints=checkpoints)
    result = {"make_examples": asdict(stats), "call_variants": asdict(caller.stats),
              "resumed_from": start.partitions if start else 0}
    if job.inputs:  # each shard marks itself done as soon as it is, so a kill later keeps it
        mark_done(job.output, job.inputs, files, result)
        drop_checkpoint(job.output)
    return result


def _model_identity(model_dir: str) -> list[dict]:
    return [file_identity(os.path.join(model_dir, f)) for f in sorted(os.listdir(model_dir))
            if os.path.isfile(os.path.join(model_dir, f))]


@dataclass
class _Plan:
    """Everything checked and decided before the long work starts."""

    sample: str
    model_dir: str
    model_info: ModelInfo
    merger: object
    channels: tuple[int, ...] | None  # the image channels the model reads (None: every channel make_examples draws)
    reference: Reference  # opened (and its index checked) once, in _plan; postprocess writes with it
    me_opts: MakeExamplesOptions
    regions: list[Region]  # as the user gave them, parsed (empty: every contig)
    called: list[Region]  # what make_examples calls: those regions, or every contig shared by reads and reference
    phase: bool  # two passes with whatshap between them (direct phasing is me_opts.phase_reads)
    shards: int
    processes: int
    haploid: HaploidRegions | None = None  # where genotypes are haploid (--haploid-contigs less --par-regions)


def run_pipeline(opts: RunOptions) -> dict:
    """The whole caller; returns a summary (seconds per stage, candidates, examples, variants).

    Every input, output path and the model are checked before make_examples starts; shards run in child
    processes (workers.run_jobs), and on any failure or signal nothing is left behind: no temporary folder,
    no partial output, no process.
    """
    plan = _plan(opts)
    opts = replace(opts, model_dir=plan.model_dir, num_shards=plan.shards)
    tmp_root = lock = None
    work = opts.intermediate_dir
    created = bool(work) and not os.path.exists(work)
    try:
        if work:  # locked before the model loads: a second run on it fails at once
            os.makedirs(work, exist_ok=True)
            lock = DirectoryLock(work, opts.command)
            if lock.remove_leftovers():
                log.info("--intermediate-dir %s: removed temporary files that earlier runs left and no checkpoint needs", work)
        if not work:
            tmp_root = work = tempfile.mkdtemp(prefix="dvcall-")
        if not plan.phase:
            return _one_pass(opts, plan, work, warn_about_reads=True)
        return _phased_passes(opts, plan, work)
    except BaseException as exc:
        if created and lock and os.listdir(work) == [LOCK_FILE]:  # nothing done yet: leave no trace
            lock.release()
            shutil.rmtree(work, ignore_errors=True)
        if is_disk_error(exc):
            raise disk_error(work, exc) from None
        raise
    finally:
        if lock:
            lock.release()
        if tmp_root:
            shutil.rmtree(tmp_root, ignore_errors=True)


def _plan(opts: RunOptions) -> _Plan:
    """Check every input and output and load the model: all that can fail does so here, in seconds."""
    for flag, path in (("--output-vcf", opts.output_vcf), ("--output-gvcf", opts.output_gvcf)):
        require_vcf_gz(flag, path)
    if (asked := os.environ.get("TMPDIR")) and os.path.realpath(tempfile.gettempdir()) != os.path.realpath(asked):
        # Python's tempfile skips a TMPDIR it cannot write without a word; on a cluster /tmp is often small
        log.warning("TMPDIR %s does not exist or cannot be written: temporary files go to %s instead; set TMPDIR to "
                    "a folder you can write (or pass --intermediate-dir)", asked, tempfile.gettempdir())
    reference = Reference(opts.ref)
    with open_reads(opts.reads, reference) as sources:
        sample = check_sample_name(*((opts.sample_name, "--sample-name") if opts.sample_name is not None else sources.sample()))
        regions = parse_regions(opts.regions, reference.lengths)
        excluded = parse_regions(opts.exclude_regions, reference.lengths, absent := [])
        if (note := absent_contigs_note("--exclude-regions", absent)):
            log.info("%s", note)
        haploid = haploid_regions(opts.haploid_contigs, opts.par_regions, reference.lengths, notes := [])
        for note in notes:
            log.info("%s", note)
        if (no_par := missing_par_warning(haploid, opts.par_regions, reference.lengths)):
            log.warning("%s", no_par)
        if haploid and opts.regions and (idle := sorted(haploid.contigs - {r.contig for r in regions})):
            log.info("--haploid-contigs %s: --regions calls nothing there", ",".join(idle))
        called = calling_regions(reference, set(sources.references), regions if opts.regions else None, excluded)
        _warn_about_reads(sources, reference, opts, called, sample, len(regions))
        equals_paths = sources.equals_paths
    model_dir, info = resolve_model(opts.model_type, opts.model_dir)
    settings = resolve_settings(opts.model_type, info, **opts.settings)
    warn_about_settings_unlike_model(info, opts.settings)
    me_opts = make_examples_options(settings, opts.make_examples, model_dir)
    if opts.phaser is not None and opts.phase_reads is False:
        log.warning("--phaser %s has no effect with --no-phase-reads: the reads are not phased", opts.phaser)
    if opts.settings.get("realign_long_reads") and opts.settings.get("realign") is False:
        log.warning("--realign-long-reads has no effect with --no-realign: no read is realigned")
    opts = replace(opts, phaser=opts.phaser or default_phaser(info))
    phase = _should_phase(opts, info, me_opts, reference, regions)
    if phase and opts.phaser == "direct":
        me_opts, phase = replace(me_opts, phase_reads=True), False
    if phase and (equals := equals_warning(equals_paths)):  # whatshap's first pass reads the files themselves
        log.warning("%s", equals)
    elif not phase and opts.phase_reads is None and info.pools_by_haplotype:
        me_opts = replace(me_opts, phase_untagged=True)  # mostly tagged: a partition left untagged is phased itself
    _check_run_paths(opts, model_dir, phase)
    info.check_weights(model_input_shape(model_dir))  # a damaged model.keras is the error, before any merger warning
    check_runnable(model_dir)  # a network only Keras runs, without Keras: one line now, not after the examples
    merger = load_merger(opts.multiallelic_merge, model_dir)
    keep = info.input_channels(me_opts.pileup.shape, channel_enums(me_opts.pileup))
    channels = None if keep == list(range(me_opts.pileup.shape[-1])) else tuple(keep)
    n_partitions = count_partitions(calling_windows(called, window_gap(me_opts.partition_size)), me_opts.partition_size)
    cpus = usable_cpus()
    shards = max(1, min(opts.num_shards or cpus, n_partitions))
    if shards > cpus:
        log.info("%d shards on %d processes (%d usable CPUs): each process takes the next shard when it finishes one",
                 shards, cpus, cpus)
    return _Plan(sample, model_dir, info, merger, channels, reference, me_opts, regions, called, phase, shards, min(shards, cpus),
                 haploid)


def _warn_about_reads(sources, reference: Reference, opts: RunOptions, regions: list[Region], sample: str,
                      n_regions: int) -> None:
    """Warnings (the run goes on) for input that gives an empty or pooled VCF (`regions`: the calling regions;
    `n_regions`: the intervals --regions holds)."""
    if (nothing := nothing_to_call_warning(opts.regions, opts.exclude_regions, len(regions), n_regions)):
        log.warning("%s and the VCF will have no records", nothing)
    if (shared := shared_reads_warning(sources)):
        log.warning("%s", shared)
    if regions and (other := individuals_warning(sources, reference, regions)):
        log.warning("%s", other)
    for path, handle in zip(sources.paths, sources.handles):
        samples = read_group_samples(handle)
        if len(samples) > 1:
            log.warning("%s holds reads of %d samples (%s): they are pooled and called as one sample named %r; to call "
                        "each, split the file by read group (`samtools split -f '%%!.bam'`, one file per @RG ID) and give "
                        "one sample's files together (--reads A.bam --reads B.bam)", path, len(samples),
                        ", ".join(samples[:5]), sample)
    if not opts.regions and (unreferenced := unreferenced_reads_warning(sources, reference)):
        log.warning("%s", unreferenced)
    if not opts.regions and (uncalled := uncalled_contigs_note(sources, reference)):
        log.info("%s", uncalled)
    if opts.sample_name is None and not sources.file_samples():
        log.info("the reads name no sample (no @RG SM): the VCF's sample is %r; --sample-name names it", sample)
    # No reads where calling happens: said after make_examples, from its read counts (reads.reads_warning).
    if regions and sources.mapped_reads({r.contig for r in regions}) != 0:
        warn_about_read_kind(opts.model_type, sources, regions, opts.model_dir, opts.model_type_defaulted)


def _check_run_paths(opts: RunOptions, model_dir: str, phase: bool) -> None:
    """Every output distinct from every other and from every input, writable, and not a folder."""
    outputs = {"--output-vcf": opts.output_vcf, **vcf_index_outputs("--output-vcf", opts.output_vcf)}
    if opts.output_gvcf:
        outputs.update({"--output-gvcf": opts.output_gvcf, **vcf_index_outputs("--output-gvcf", opts.output_gvcf)})
    if opts.report:
        outputs["--report"] = opts.report
    inputs = {"--ref": opts.ref, "the .fai of --ref": opts.ref + ".fai", "the .gzi of --ref": opts.ref + ".gzi",
              **reads_inputs(opts.reads)}
    inputs.update({f"the model file {f}": os.path.join(model_dir, f) for f in os.listdir(model_dir)})
    inputs.update(region_file_inputs({"--regions": opts.regions, "--exclude-regions": opts.exclude_regions,
                                      "--par-regions": [opts.par_regions]}))
    check_outputs(outputs, inputs, {"--intermediate-dir": opts.intermediate_dir})
    if phase and opts.intermediate_dir:  # the one file of --intermediate-dir a user could name as an output
        first = os.path.realpath(os.path.join(opts.intermediate_dir, "firstpass.vcf.gz"))
        clash = [label for label, path in outputs.items()
                 if os.path.realpath(path) in (first, *(first + ext for ext in VCF_INDEXES))]
        if clash:
            raise OutputError(f"{clash[0]} would be overwritten by the first pass's VCF in --intermediate-dir "
                              f"({first}): pick another output name")


def _should_phase(opts: RunOptions, info: dict, me_opts: MakeExamplesOptions, reference: Reference,
                  regions: list[Region]) -> bool:
    """--phase-reads given: yes (or a one-line error); --no-phase-reads: no; neither: yes for a model that pools
    reads by haplotype when the reads are mostly untagged (and, with --phaser whatshap, whatshap is installed)."""
    if opts.phaser not in PHASERS:
        raise InputError(f"--phaser {opts.phaser!r} is not known: use one of {', '.join(PHASERS)}")
    whatshap = opts.phaser == "whatshap"
    if not me_opts.pileup.hp_channel and opts.phase_reads is None and opts.phaser != default_phaser(info):
        log.warning("--phaser %s has no effect: this model reads no HP tags, so the reads are not phased", opts.phaser)
    if opts.phase_reads:
        require_hp_channel(me_opts.pileup.hp_channel)
        if whatshap:
            require_whatshap()
        return True
    if opts.phase_reads is False or not auto_phase(info, opts.reads, reference, regions, needs_whatshap=whatshap):
        return False
    if whatshap:
        log.info("phase-reads: most reads carry no HP tag: calling, tagging them with whatshap, calling again "
                 "(--no-phase-reads to skip)")
    else:
        log.info("phase-reads: most reads carry no HP tag: phasing each partition's reads from its heterozygous sites "
                 "(--no-phase-reads to skip)")
    return True


def _phased_passes(opts: RunOptions, plan: _Plan, work: str) -> dict:
    """--phaser whatshap: call the untagged reads, tag them with whatshap from those calls, call the tagged reads."""
    resumable = bool(opts.intermediate_dir)
    first_vcf = os.path.join(work, "firstpass.vcf.gz")
    first = _one_pass(replace(opts, output_vcf=first_vcf, output_gvcf=None, report=None), plan, os.path.join(work, "pass1"),
                      warn_about_reads=False)
    t0 = time.time()
    tagged_bam = os.path.join(work, "haplotagged.bam")
    inputs = fingerprint(step="phase_reads", code=code_digest(("run",)), ref=file_identity(opts.ref), reads=_reads_identity(opts.reads),
                         calls=file_sha256(first_vcf), regions=list(opts.regions)) if resumable else ""

    def run_haplotag() -> dict:
        try:
            tagged, total = haplotag(opts.ref, opts.reads, first_vcf, tagged_bam, plan.regions)
        except WhatshapFailed as exc:
            if resumable:
                raise
            # whatshap's log lies in the run's temporary folder, removed on the way out: say how to keep it
            raise InputError(f"{exc.failure}; rerun with --intermediate-dir DIR to keep whatshap's log there") from None
        return {"tagged": tagged, "reads": total}

    bam_index = index_suffix((c.length for c in plan.reference.contigs), ".bai")  # index_bam's choice
    done, reused = reuse_or_run(tagged_bam, inputs, run_haplotag, [tagged_bam, tagged_bam + bam_index])
    if reused:
        log.info("phase-reads: reads tagged in an earlier run, reused")
    log.info("phase-reads: whatshap tagged %d of %d reads from the first pass's calls", done["tagged"], done["reads"])
    phasing_seconds = round(time.time() - t0, 2)
    summary = _one_pass(replace(opts, reads=[tagged_bam]), plan, os.path.join(work, "pass2"), warn_about_reads=True)
    for stage in ("make_examples", "call_variants", "postprocess"):
        summary[f"{stage}_seconds"] = round(summary[f"{stage}_seconds"] + first[f"{stage}_seconds"], 2)
    summary["phase_reads_seconds"] = phasing_seconds
    summary["tagged_reads"], summary["first_pass"] = done["tagged"], first
    return summary


def _reads_identity(paths: list[str]) -> dict | list[dict]:
    """The resume fingerprint of --reads (one file's identity as before several files were accepted)."""
    return file_identity(paths[0]) if len(paths) == 1 else [file_identity(p) for p in paths]


SHARD_CALLS = "calls-{i:05d}-of-{n:05d}.jsonl.gz"  # a shard's calls in the run's work folder
_SHARD_CALLS_RE = re.compile(r"calls-\d{5}-of-(\d{5})\.jsonl\.gz")


def _other_shard_counts(work: str, n: int) -> dict[int, tuple[int, int]]:
    """{shard count: (finished shards, shards stopped with a checkpoint)} of earlier runs in `work` whose shard count
    is not `n` (the default count follows the CPUs, so a job requeued on another node changes it)."""
    counts: dict[int, tuple[int, int]] = {}
    for name in os.listdir(work):
        for suffix, stopped in ((MARKER_SUFFIX, False), (CHECKPOINT_SUFFIX, True)):
            if name.endswith(suffix) and (m := _SHARD_CALLS_RE.fullmatch(name[:-len(suffix)])) and int(m[1]) != n:
                finished, checkpointed = counts.get(int(m[1]), (0, 0))
                counts[int(m[1])] = (finished + (not stopped), checkpointed + stopped)
    return counts


def _one_pass(opts: RunOptions, plan: _Plan, work: str, warn_about_reads: bool) -> dict:
    """make_examples -> call_variants -> postprocess over opts.reads, intermediate files in `work` (resumable
    when the user keeps them: --intermediate-dir)."""
    os.makedirs(work, exist_ok=True)
    resumable = bool(opts.intermediate_dir)
    me_opts = plan.me_opts
    summary: dict = {}
    n = plan.shards
    shard_paths = [os.path.join(work, SHARD_CALLS.format(i=i, n=n)) for i in range(n)]
    block_paths = [os.path.join(work, f"gvcf-{i:05d}-of-{n:05d}.tsv.gz") if opts.output_gvcf else None for i in range(n)]
    t0 = time.time()
    quiet = not log.isEnabledFor(logging.INFO)
    inputs = [fingerprint(step="make_examples+call_variants", code=code_digest(("run",)), ref=file_identity(opts.ref),
                          reads=_reads_identity(opts.reads), regions=[str(r) for r in plan.called],
                          windows=window_gap(me_opts.partition_size), options=me_opts,  # how regions become partitions
                          shard=[i, n], gvcf=bool(opts.output_gvcf), model=_model_identity(opts.model_dir))
              if resumable else "" for i in range(n)]
    results: list[dict | None] = [None] * n
    for i, p in enumerate(shard_paths):
        done = completed(p, inputs[i]) if resumable else None
        if done is not None:
            results[i] = done
            log.info("make_examples shard %d/%d: finished in an earlier run, reused", i + 1, n)
    todo = [i for i in range(n) if results[i] is None]
    if resumable and todo and (other := _other_shard_counts(work, n)):
        count, (finished, stopped) = max(other.items(), key=lambda kv: kv[1])
        held = " and ".join(([f"{finished} finished shard(s)"] if finished else []) +
                            ([f"{stopped} shard(s) stopped with a checkpoint"] if stopped else []))
        log.warning("--intermediate-dir %s holds %s of an earlier run with --num-shards %d, which this run (--num-shards "
                    "%d) cannot reuse: rerun with --num-shards %d to reuse them", opts.intermediate_dir, held, count, n, count)
    # Shards in worker processes report to the parent, which logs one line for them all (with the shards not
    # started yet in its ETA); a shard run in this process logs its own.
    parallel = plan.processes > 1 and len(todo) > 1
    progress_files = [os.path.join(work, f"{JOB_FILE_PREFIX}progress-{i:05d}.pkl") if parallel and not quiet else None
                      for i in todo]
    jobs = [ShardJob(opts.ref, tuple(opts.reads), shard_paths[i], block_paths[i], plan.called, me_opts, i, n, quiet, inputs[i],
                     opts.model_dir, plan.channels, path, opts.checkpoint_seconds)
            for i, path in zip(todo, progress_files)]
    labels = [f"make_examples shard {i + 1}/{n}" for i in todo]
    tick = None
    if parallel and not quiet:
        totals = [len(calling_shard(plan.called, i, n, me_opts.partition_size)) for i in todo]
        tick = RunProgress(f"make_examples ({len(todo)} shards on {min(plan.processes, len(todo))} processes)",
                           [p for p in progress_files if p], totals)
    try:
        for i, result in zip(todo, run_jobs(run_shard, jobs, plan.processes, work, labels, tick)):
            results[i] = result
    finally:
        for path in filter(None, progress_files):
            with contextlib.suppress(OSError):
                os.remove(path)
    stats = [MakeExamplesStats(**r["make_examples"]) for r in results]
    calls = [CallStats(**r["call_variants"]) for r in results]
    # The shards called their examples as they made them: call_variants' share is the model's time in the shards this
    # run made (not those reused from an earlier one), spread over the processes that ran them.
    ran = [calls[i] for i in todo]
    cv = CallStats(sum(c.examples for c in ran), sum(c.seconds for c in ran) / max(1, min(plan.processes, len(ran))))
    summary["make_examples_seconds"] = round(time.time() - t0 - cv.seconds, 2)
    summary["candidates"] = sum(s.candidates for s in stats)
    summary["examples"] = sum(s.examples for s in stats)
    summary["filtered_candidates"] = sum(s.filtered_candidates for s in stats)
    summary["damaged_candidates"] = sum(s.damaged_candidates for s in stats)
    summary["recurrent_error_candidates"] = sum(s.recurrent_error_candidates for s in stats)
    dropped = dropped_note(summary["filtered_candidates"], summary["damaged_candidates"], me_opts,
                           summary["recurrent_error_candidates"])
    if (measured := error_table_note(stats, me_opts)):
        log.info("%s", measured)
    log.info("make_examples: %d candidates%s, %d examples in %.1f s", summary["candidates"], dropped, summary["examples"],
             summary["make_examples_seconds"])
    if plan.called:  # with nothing to call no read was looked at: _warn_about_reads said why
        log_read_counts([s.read_counts for s in stats], me_opts.read_filter)
    if (empty := sum(s.empty_pileups for s in stats)):
        log.info("%d candidate(s) had no read to show (each read's base there below base quality %d): written as "
                 "NoCall", empty, me_opts.thresholds.min_base_quality)
    for warning in read_warnings(stats, me_opts):  # warnings: the workflow's --quiet jobs show them too (hostile21)
        log.warning("%s", warning)
    taggable = sum(s.hp_taggable_reads for s in stats)
    # tags replaced in some partitions: that line says what happened (the count of tagged reads after it would not)
    retag = retag_warning(stats)
    few_tags = retag or hp_tag_warning(stats, me_opts.pileup, me_opts.phase_reads or plan.phase)
    if not retag and mostly_haploid(plan.called, plan.haploid):
        few_tags = None  # mostly one copy: no heterozygous site to phase by, so few tags are expected (review42)
    if warn_about_reads and few_tags:
        log.warning("%s", few_tags)
    if warn_about_reads and me_opts.pileup.technology_channel and \
            (mix := technology_mix_warning(sum(s.reads for s in stats), taggable, len(opts.reads))):
        log.warning("%s", mix)
    resumed = sum(1 for i in todo if results[i].get("resumed_from"))
    earlier = ([f"{len(stats) - len(todo)} shard(s) reused from an earlier run"] if len(todo) < len(stats) else []) + \
        ([f"{resumed} shard(s) went on from an earlier run's checkpoint: their examples before it not counted"] if resumed else [])
    reused = f" ({'; '.join(earlier)})" if earlier else ""
    log.info("call_variants (in the same processes): %d examples in %.1f s (%.0f/s)%s", cv.examples, cv.seconds,
             cv.per_second, reused)
    summary["call_variants_seconds"] = round(cv.seconds, 2)
    calls_path = ",".join(shard_paths)
    # The VCF, gVCF and report appear together once all are complete: a run that fails or is stopped leaves none.
    specs = [(opts.output_vcf, ".vcf.gz", VCF_INDEXES)]
    specs += [(opts.output_gvcf, ".g.vcf.gz", VCF_INDEXES)] if opts.output_gvcf else []
    specs += [(opts.report, "", ())] if opts.report else []
    with atomic_outputs(specs) as tmp:
        pp = postprocess(calls_path, plan.reference, tmp[0], plan.sample, opts.command, merger=plan.merger,
                         gvcf_blocks=",".join(block_paths) if opts.output_gvcf else None,
                         output_gvcf=tmp[1] if opts.output_gvcf else None,
                         resolve_haplotypes=opts.haplotype_resolution, calibration=plan.model_info.calibration,
                         progress=Progress("postprocess", unit="Mb of the reference"), model=model_description(plan.model_dir),
                         haploid=plan.haploid, called=RegionSet(plan.called))
        if opts.report:
            write_report(tmp[0], tmp[-1], title=f"dvcall report: {os.path.basename(opts.output_vcf)}")
    summary["postprocess_seconds"] = round(pp.seconds, 2)
    summary["sites"], summary["pass_snps"], summary["pass_indels"] = pp.sites, pp.pass_snps, pp.pass_indels
    if opts.report:
        log.info("report -> %s", opts.report)
    log.info("postprocess: %d sites, %d PASS SNPs, %d PASS indels -> %s", pp.sites, pp.pass_snps, pp.pass_indels, opts.output_vcf)
    return summary


def technology_mix_warning(n_reads: int, n_long: int, n_files: int = 1) -> str | None:
    """What to tell a user whose reads, under a model with a technology channel (the hybrid one), are all of one kind
    (`n_files`: the --reads files given: with several, one of them had no read of the other kind where it called)."""
    if n_reads == 0 or 0 < n_long < n_reads:
        return None
    kind, alone = ("long", "pacbio") if n_long else ("short", "illumina")
    other = "short (Illumina)" if n_long else "long (HiFi)"
    # no count: n_reads sums each partition's reads, and a long read spans several (3,065 said for 784 reads)
    if n_files > 1:
        return (f"the reads are all {kind} ones where this run called, though {n_files} --reads files were given: the "
                f"file of {other} reads has none there (is it of these regions, and of this sample?); this model expects "
                f"one sample's HiFi and Illumina reads together, and for {kind} reads alone --model-type {alone} is "
                "more accurate")
    return (f"the reads are all {kind} ones, but this model expects one sample's HiFi and Illumina reads together "
            f"(two --reads): for {kind} reads alone --model-type {alone} is more accurate")
