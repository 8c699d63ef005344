#!/usr/bin/env bash
# Regenerates testdata/recordings: the project's own sairedis.rec files, one per
# kind of line a recording can hold and one whole bring-up (orchagent/src/recgen/
# says what each holds). A test checks that the committed files are byte for byte
# what this writes.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf testdata/recordings
cargo run --quiet -p sairing-orchagent --bin orchagent -- generate-recordings testdata/recordings
