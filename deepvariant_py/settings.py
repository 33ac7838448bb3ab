"""The make_examples settings that a --model-type preset, a model and a user's flag decide: each is declared
once here, with its flag, its help and its value per sequencer. presets.PRESETS, the command-line flags
(cli/common.py makes the click options from this table) and `dvcall presets` are all made from it; adding a
setting means one entry here and one line where presets.make_examples_options applies it.

How the three sources combine is presets.resolve_settings (the user's flag, else the model for what shapes its
input, else the preset); docs/design.md §10 explains the presets.
"""
from __future__ import annotations

from dataclasses import dataclass

from .pileup import ALT_ALIGNED_MODES, INDEL_READS, SUPPORT_CHANNELS

MODEL_TYPES = ("illumina", "pacbio", "ont", "hybrid")


@dataclass(frozen=True)
class Setting:
    key: str  # the settings key (presets.resolve_settings, model_info "settings")
    flag: str  # the command-line flag as click declares it
    help: str  # what it does; the generated help adds the defaults
    values: dict  # per model type
    kind: tuple = ("bool",)  # ("bool",), ("choice", choices), ("int", min, max or None), ("fraction",)
    from_model: bool = False  # the model decides it when the user does not (its input shape or channels)
    flag_values: dict | None = None  # flag value -> setting value, when they differ (--channels haplotype -> True)

    def accepts(self, value) -> bool:
        """Whether `value` is one this setting can hold (a model_info.json's record is checked with it)."""
        kind = self.kind[0]
        if kind == "bool" or self.flag_values:
            return isinstance(value, bool) if kind == "bool" else value in self.flag_values.values()
        if kind == "choice":
            return value in self.kind[1]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind == "fraction":
            return number and 0.0 <= value <= 1.0
        lo, hi = self.kind[1], self.kind[2]
        return number and value == int(value) and value >= lo and (hi is None or value <= hi)

    def shown(self, value):
        """A setting value as the flag takes it (--channels haplotype for True)."""
        return next((k for k, v in (self.flag_values or {}).items() if v == value), value)

    def flag_text(self, value) -> str:
        """How a user writes `value`: --realign / --no-realign, --indel-reads spanning, --channels none."""
        if self.kind[0] == "bool" and "/" in self.flag:
            on, off = self.flag.split("/")
            return on if value else off
        return f"{self.flag} {self.shown(value)}"

    def default_text(self) -> str:
        """The 'Default: ...' sentence of the flag's help, from the values per model type."""
        shown = {mt: self.shown(self.values[mt]) for mt in MODEL_TYPES}
        shown = {mt: {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v for mt, v in shown.items()}
        same = len({str(v) for v in shown.values()}) == 1
        per_type = f"{shown['illumina']} for every type" if same else ", ".join(f"{v} {mt}" for mt, v in shown.items())
        if self.from_model:
            return f"Default: as the model was trained (the shipped models: {per_type})."
        return f"Default: from --model-type ({per_type})."


def _long_reads(long_reads, illumina, hybrid=None):
    """Values per model type: long reads (pacbio, ont), Illumina, and hybrid (HiFi + Illumina of one sample,
    DeepVariant's HYBRID_PACBIO_ILLUMINA: Illumina's unless given)."""
    return {"illumina": illumina, "pacbio": long_reads, "ont": long_reads, "hybrid": illumina if hybrid is None else hybrid}


SETTINGS: tuple[Setting, ...] = (
    Setting("realign", "--realign/--no-realign",
            "Locally realign reads in windows where they disagree with the reference (docs/design.md §3): short reads "
            "whole, long reads only with --realign-long-reads.",
            {"illumina": True, "pacbio": True, "ont": False, "hybrid": True}, from_model=True),
    Setting("realign_long_reads", "--realign-long-reads/--no-realign-long-reads",
            "With --realign: also realign long reads' pieces in hard windows to the window's haplotypes, so every read "
            "writes a repeat's alleles the same way. Beside short reads (--model-type hybrid) the short reads pick the "
            "windows and the long reads join the assembly (docs/design.md §3.4); long reads alone pick their own and "
            "take the sequences they spell as haplotypes (§3.5). Long reads are never realigned whole.",
            {"illumina": False, "pacbio": True, "ont": False, "hybrid": True}, from_model=True),
    Setting("alt_aligned_pileup", "--alt-aligned-pileup",
            "Also draw indel candidates' reads realigned to each alt haplotype: as two extra 'differs from ref' channels "
            "(diff_channels) or as extra rows (rows) (docs/design.md §5).",
            _long_reads("diff_channels", "diff_channels"), ("choice", ALT_ALIGNED_MODES), from_model=True),
    Setting("indel_reads", "--indel-reads",
            "Which reads an indel candidate's pileup shows: 'overlapping', every read within 5 bp of it (DeepVariant's), "
            "or 'spanning': a read that does not carry one of its alts is shown only if it covers the whole repeat the "
            "indel could slide along, since a read ending inside a homopolymer spells the reference and the indel alike "
            "and would otherwise count as reference support.",
            _long_reads("overlapping", "spanning", "overlapping"), ("choice", INDEL_READS), from_model=True),
    Setting("support_channel", "--support-channel",
            "The 'read supports variant' channel of a multi-allelic site's images (one per alt and per pair of alts): "
            "'binary', a read carrying one of the image's alts is marked and every other read is not (DeepVariant's), "
            "so the reads of the site's other alt look like reference reads; or 'other_alts', those reads get a third "
            "value. Sites with one alt look the same either way.",
            _long_reads("binary", "binary"), ("choice", SUPPORT_CHANNELS), from_model=True),
    Setting("sort_by_haplotypes", "--sort-by-haplotypes/--no-sort-by-haplotypes",
            "Group pileup rows by the reads' HP tag (HP=1, HP=2, then untagged), by start within a group. dvcall's "
            "network pools over reads, so row order changes no call (the HP tag reaches it through --channels haplotype).",
            _long_reads(False, False)),
    Setting("hp_channel", "--channels",
            "Extra pileup channel after the six: 'haplotype' (the read's HP tag: 0 none, 127 HP=1, 254 HP=2) or 'none'.",
            _long_reads(True, False, True), ("choice", ("haplotype", "none")), from_model=True,
            flag_values={"haplotype": True, "none": False}),
    Setting("technology_channel", "--technology-channel/--no-technology-channel",
            "Extra pileup channel telling each read's technology: 127 short (Illumina), 254 long (> 500 bp: HiFi, ONT); "
            "with it, neither kind takes more than half of the read rows while the other has reads left. For pileups "
            "that mix technologies (--model-type hybrid with --reads hifi.bam --reads illumina.bam).",
            _long_reads(False, False, True), from_model=True),
    Setting("pileup_width", "--pileup-width", "Pileup columns around the candidate (at most 1001: each example holds "
            "rows x width x channels bytes).",
            _long_reads(199, 221), ("int", 21, 1001), from_model=True),
    Setting("partition_size", "--partition-size", "Bases per partition (the unit of work and of the read cap).",
            _long_reads(25000, 1000, 5000), ("int", 100, None)),
    Setting("max_reads_per_partition", "--max-reads-per-partition",
            "Reservoir-sample at most this many reads per partition (0 = no cap).",
            _long_reads(600, 1500, 5000), ("int", 0, None)),
    Setting("min_mapping_quality", "--min-mapping-quality", "Reads below this MAPQ are ignored.",
            {"illumina": 5, "pacbio": 1, "ont": 5, "hybrid": 5}, ("int", 0, 255)),
    Setting("min_base_quality", "--min-base-quality",
            "Bases below this quality are not counted for candidates, phasing or gVCF depth (gVCF blocks count only bases of "
            "Q10 or more under a lower floor: their reference model assumes it), nor is an insertion whose "
            "bases average below it, and a read whose base (or first inserted base) at a candidate is below it is left "
            "out of that candidate's pileup (DeepVariant's --min_base_quality). The ont model is trained at 0: nanopore reads "
            "read a long homopolymer's bases at low quality (Q2-5 in dvcall's simulation), and under a floor of 10 true "
            "long insertions there lost their reads (models/ont/MODEL_CARD.md).",
            {"illumina": 10, "pacbio": 10, "ont": 0, "hybrid": 10}, ("int", 0, 93), from_model=True),
    Setting("vsc_min_fraction_snps", "--vsc-min-fraction-snps", "Minimum allele fraction for a SNP candidate.",
            {"illumina": 0.12, "pacbio": 0.12, "ont": 0.08, "hybrid": 0.12}, ("fraction",)),
    Setting("vsc_min_fraction_indels", "--vsc-min-fraction-indels", "Minimum allele fraction for an indel candidate.",
            _long_reads(0.12, 0.06), ("fraction",)),
    Setting("candidate_filter", "--candidate-filter/--no-candidate-filter",
            "Drop candidates that the model's candidate pre-filter (candidate_filter.json beside the weights; the shipped ont "
            "model has one) scores as sequencing errors, before any pileup is built: far fewer examples on noisy long reads. "
            "Models without one call every candidate.",
            _long_reads(True, True)),
    Setting("ffpe_filter", "--ffpe-filter/--no-ffpe-filter",
            "Drop C>T and G>A SNP candidates whose alt reads all come from the one read-pair orientation that shows "
            "deamination damage (read 1 forward / read 2 reverse for C>T, the other for G>A), at most 25% of the depth, "
            "where 3 or more reads of the other orientation cover the site: FFPE artifacts, which the models call as "
            "low-quality hets. For formalin-fixed samples; it needs reads in both orientations (single-end: both strands), and loses a true "
            "het whose few alt reads all share one orientation.",
            {"illumina": False, "pacbio": False, "ont": False, "hybrid": False}),
    Setting("recurrent_error_gate", "--recurrent-error-gate/--no-recurrent-error-gate",
            "Measure the sample's own error rate per base quality and its errors' spectrum (on 60 partitions spread over "
            "the called regions) and drop short-read SNP candidates whose alt reads those explain as coincident "
            "sequencing errors far better than a heterozygous variant (odds below 0.01): where the reads' qualities "
            "overstate them (every base ~Q23 in truth whatever it claims) or one change dominates the errors (FFPE C>T), "
            "2 alt reads of 14 are common errors that the models, trained on honest qualities, call as low-quality hets. "
            "Long reads are never gated.",
            {"illumina": True, "pacbio": False, "ont": False, "hybrid": False}),
)
SETTING_KEYS = tuple(s.key for s in SETTINGS)
# What examples and models made before a setting was recorded had: a sidecar or model_info without the key means this.
UNRECORDED = {"indel_reads": "overlapping", "support_channel": "binary", "min_base_quality": 10}


def preset_values(model_type: str) -> dict:
    """{setting key: value} of one --model-type."""
    return {s.key: s.values[model_type] for s in SETTINGS}
