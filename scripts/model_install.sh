# Install a model folder: `bash scripts/model_install.sh SRC DEST` makes DEST the model in SRC (its files: the
# network, model_info.json, merger, card, training records; not resume/ or epoch-N/ folders), keeping DEST's
# MODEL_CARD.md and candidate_filter.json when SRC has none, dropping DEST's old merger and training records (a merger
# and a training record belong to the network they came with). DEST must be new, empty or a model folder without
# subfolders. DEST is swapped in whole: an interrupted install leaves the old model.
# Also sourced by the train_*_model.sh scripts (the functions below): where a retrained model goes, checked before
# hours of work, and written there so that a reader never finds a mix of the old model's files and the new one's.

# check_model_dest DIR: DIR can be made or written (it is not a file, and its nearest existing folder is
# writable) and replaced whole (it is new, empty, or a model folder: model_info.json and no subfolder, which the
# swap would delete); else one line, exit 2. Run it before any simulation or training.
check_model_dest() {
  local dest=$1 parent sub
  if [[ -e $dest && ! -d $dest ]]; then
    echo "$(basename "$0"): MODEL_DIR $dest is a file, not a folder: pass a folder for the model" >&2
    exit 2
  fi
  if [[ -d $dest && -n $(ls -A "$dest") ]]; then
    if [[ ! -f $dest/model_info.json ]]; then
      echo "$(basename "$0"): MODEL_DIR $dest holds files and is not a model folder (no model_info.json): installing would replace it whole; pass a new folder" >&2
      exit 2
    fi
    sub=$(find "$dest" -mindepth 1 -maxdepth 1 -type d -print -quit)  # hidden ones too (.git)
    if [[ -n $sub ]]; then
      echo "$(basename "$0"): MODEL_DIR $dest holds a folder ($(basename "$sub")) that installing would delete: pass a new folder, or move it out" >&2
      exit 2
    fi
  fi
  parent=$dest
  while [[ ! -d $parent ]]; do parent=$(dirname "$parent"); done
  if [[ ! -w $parent ]]; then
    echo "$(basename "$0"): cannot write MODEL_DIR $dest ($parent is not writable): pass a folder you can write to" >&2
    exit 2
  fi
}

# install_model SRC DEST FILE...: DEST (made if missing) becomes the new model: each SRC/FILE, plus the old
# model's files that do not belong to its network (MODEL_CARD.md and other notes, candidate_filter.json); the old
# network's merger (merger.keras, merger_info.json: trained on that network's outputs) and training logs go unless
# FILE replaces them. The new folder is assembled beside DEST and swapped in with two renames, so an interrupted
# copy leaves the old model whole and a reader never finds the new network beside the old merger. A FILE given as
# SRC_PATH=NAME is copied from SRC_PATH (relative to SRC) under the name NAME.
install_model() {
  local src=$1 dest=$2 stage old item from name f
  shift 2
  stage=$(dirname "$dest")/.$(basename "$dest").install.partial
  old=$(dirname "$dest")/.$(basename "$dest").install.old
  rm -rf "$stage" "$old"
  mkdir -p "$stage"
  for item in "$@"; do
    from=${item%%=*}
    name=${item#*=}
    if ! cp "$src/$from" "$stage/$(basename "$name")"; then
      rm -rf "$stage"
      echo "$(basename "$0"): cannot copy $src/$from into $dest: the model there is unchanged" >&2
      exit 1
    fi
  done
  if [[ -d $dest ]]; then
    for f in "$dest"/* "$dest"/.[!.]*; do  # hidden notes too; the lock of a finished training is not carried
      [[ -f $f && $(basename "$f") != .dvcall.lock ]] || continue
      name=$(basename "$f")
      case $name in merger.keras|merger_info.json|training_log*.csv|training_run.json|training_summary.json|best.json) continue ;; esac
      [[ -e $stage/$name ]] || cp -p "$f" "$stage/$name"
    done
    mv "$dest" "$old"
  fi
  mv "$stage" "$dest"
  rm -rf "$old"
}

# Run, not sourced: install SRC's files into DEST.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  if [[ $# -ne 2 || $1 == -h || $1 == --help ]]; then
    sed -n '1,4{s/^# \{0,1\}//p}' "$0" >&2
    echo "usage: $0 SRC DEST" >&2
    exit 2
  fi
  src=${1%/} dest=${2%/}
  if [[ ! -f $src/model.keras || ! -f $src/model_info.json ]]; then
    echo "$(basename "$0"): $src holds no model (model.keras and model_info.json): pass a dvcall model folder" >&2
    exit 2
  fi
  if [[ -d $src/resume ]]; then
    echo "$(basename "$0"): $src holds an unfinished training run (resume/): rerun the same \`dvcall train\` to finish it first" >&2
    exit 2
  fi
  real_src=$(realpath -m -- "$src") real_dest=$(realpath -m -- "$dest")
  if [[ "$real_src" == "$real_dest" || "$real_src" == "$real_dest"/* ]]; then
    echo "$(basename "$0"): DEST $dest is SRC or holds it: installing would delete SRC; pass another folder" >&2
    exit 2
  fi
  check_model_dest "$dest"
  files=()
  for f in "$src"/*; do
    [[ -f $f ]] && files+=("$(basename "$f")")
  done
  install_model "$src" "$dest" "${files[@]}"
  echo "$(basename "$0"): $src -> $dest (${#files[@]} files)" >&2
fi
