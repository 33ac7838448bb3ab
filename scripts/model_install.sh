# Sourced by the train_*_model.sh scripts: where a retrained model goes, checked before hours of work, and
# written there so that a reader never finds a mix of the old model's files and the new one's.

# check_model_dest DIR: DIR can be made or written (it is not a file, and its nearest existing folder is
# writable); else one line, exit 2. Run it before any simulation or training.
check_model_dest() {
  local dest=$1 parent
  if [[ -e $dest && ! -d $dest ]]; then
    echo "$(basename "$0"): MODEL_DIR $dest is a file, not a folder: pass a folder for the model" >&2
    exit 2
  fi
  parent=$dest
  while [[ ! -d $parent ]]; do parent=$(dirname "$parent"); done
  if [[ ! -w $parent ]]; then
    echo "$(basename "$0"): cannot write MODEL_DIR $dest ($parent is not writable): pass a folder you can write to" >&2
    exit 2
  fi
}

# install_model SRC DEST FILE...: copy each SRC/FILE into DEST (made if missing). The copies are made inside
# DEST/.install.partial first and then renamed into place, so an interrupted copy leaves the old model whole; a
# FILE given as SRC_PATH=NAME is copied from SRC_PATH (relative to SRC) under the name NAME.
install_model() {
  local src=$1 dest=$2 stage item from name made=0
  shift 2
  [[ -d $dest ]] || made=1
  mkdir -p "$dest"
  stage=$dest/.install.partial
  rm -rf "$stage"
  mkdir "$stage"
  for item in "$@"; do
    from=${item%%=*}
    name=${item#*=}
    if ! cp "$src/$from" "$stage/$(basename "$name")"; then
      rm -rf "$stage"
      if (( made )); then rmdir "$dest"; fi
      echo "$(basename "$0"): cannot copy $src/$from into $dest: the model there is unchanged" >&2
      exit 1
    fi
  done
  for item in "$@"; do
    name=$(basename "${item#*=}")
    mv -f "$stage/$name" "$dest/$name"
  done
  rmdir "$stage"
}
