#!/usr/bin/env bash
# Step 3 of the kernel-packer action: packs every requested kernel, continuing after failures,
# then writes the step outputs and the job summary, and fails when any kernel failed.
#
# Env in:  KP_BIN (kernel-packer binary), KP_KERNELS (unames / 64-hex manifest ids, one per line,
#          or `missing`), KP_MANIFEST (default: the manifest shipped with the action), KP_PACKAGES,
#          KP_OUTPUT (default kernel-bundles), KP_JOBS, KP_ARCH (input `arch`; default the
#          runner's, RUNNER_ARCH), GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_WORKSPACE,
#          RUNNER_TEMP, GITHUB_ACTION_PATH.
# Outputs: bundles  JSON list [{"kernel","id","arch","bundle","name","size","sha256"}] of packed
#          bundles;
#          failures JSON list [{"kernel","id","error"}];
#          bundle-dir absolute bundle directory (or the s3:// prefix).
# Each kernel runs `kernel-packer pack (--id|--kernel|--missing) --arch <arch> ... --json`, whose
# stdout has one JSON line per kernel: {"id","kernel","arch","bundle","size","sha256"} or
# {"id","error"}. The architecture selects the manifest sets: a uname of both architectures
# (Ubuntu -generic) packs the one of `arch`, `missing` only that architecture's ids. Packing itself
# runs the same on any runner (it never executes the bundle's host tools).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_env KP_BIN KP_PACKAGES GITHUB_OUTPUT GITHUB_STEP_SUMMARY RUNNER_TEMP
command -v jq >/dev/null 2>&1 || { echo "kernel-packer action: jq is required" >&2; exit 2; }

manifest=${KP_MANIFEST:-}
if [ -z "$manifest" ]; then
    require_env GITHUB_ACTION_PATH
    manifest="$(source_root)/kernel-package-lists/manifest.yml"
fi
manifest=$(absolute "$manifest")
packages=$(absolute "$KP_PACKAGES")
output=$(absolute "${KP_OUTPUT:-kernel-bundles}")
jobs=${KP_JOBS:-2}
arch=$(kernel_arch "${KP_ARCH:-}" "${RUNNER_ARCH:-}")
echo "kernel-packer: packing $arch kernels" >&2
case "$jobs" in '' | *[!0-9]*) echo "kernel-packer action: input jobs must be a number, got '$jobs'" >&2; exit 2 ;; esac
is_s3 "$output" || mkdir -p "$output"

work=$(mktemp -d "$RUNNER_TEMP/kernel-packer-pack.XXXXXX")
results="$work/results.jsonl"
: >"$results"

# record_failure KERNEL ID ERROR: appends one failure to the results.
record_failure() {
    jq -cn --arg kernel "$1" --arg id "$2" --arg error "$3" \
        '{kernel: $kernel, id: (if $id == "" then null else $id end), error: $error}' >>"$results"
}

# pack_one ENTRY: runs kernel-packer for one kernels line and records its JSON results.
pack_one() {
    local entry=$1 selector rc=0 out="$work/out.jsonl" err="$work/err.log" lines errors
    case "$entry" in
        missing) selector=(--missing --jobs "$jobs") ;;
        -* | *[[:space:]]*)
            record_failure "$entry" "" "not a kernel uname or manifest id: '$entry'"
            return 0
            ;;
        *)
            if [[ $entry =~ ^[0-9a-f]{64}$ ]]; then selector=(--id "$entry"); else selector=(--kernel "$entry"); fi
            ;;
    esac
    echo "::group::kernel-packer pack $entry"
    # stderr goes to the log and to $err (for the failure reason); stdout (JSON lines) to $out.
    set +e
    "$KP_BIN" pack "${selector[@]}" --arch "$arch" --manifest "$manifest" --packages "$packages" \
        --bundles "$output" --json 2>&1 >"$out" | tee "$err" >&2
    rc=${PIPESTATUS[0]}
    set -e
    echo "::endgroup::"
    jq -rR 'select(length > 0) | . as $l | try (fromjson | empty) catch "kernel-packer action: ignoring non-JSON output line: \($l)"' \
        "$out" >&2
    # A bundle given as a store key (relative) is made a path or URL under the bundle store.
    jq -cR --arg entry "$entry" --arg store "$output" '
        fromjson? | objects |
        if .error != null then
            {kernel: (.kernel // (if $entry == "missing" then null else $entry end)), id: .id,
             error: (.error | tostring)}
        else
            {kernel: (.kernel // (if $entry == "missing" then null else $entry end)), id: .id,
             arch: .arch,
             bundle: (.bundle | tostring | if startswith("/") or startswith("s3://") then . else "\($store)/\(.)" end),
             name: (.bundle | tostring | split("/") | last), size: .size, sha256: .sha256}
        end' "$out" >"$work/entry.jsonl"
    lines=$(jq -s 'length' "$work/entry.jsonl")
    errors=$(jq -s 'map(select(.error != null)) | length' "$work/entry.jsonl")
    cat "$work/entry.jsonl" >>"$results"
    if [ "$rc" -ne 0 ] && [ "$errors" -eq 0 ]; then
        local reason
        reason=$(grep -v '^[[:space:]]*$' "$err" | tail -n 1 || true)
        record_failure "$entry" "" "kernel-packer exited with status $rc${reason:+: $reason}"
    elif [ "$rc" -eq 0 ] && [ "$lines" -eq 0 ] && [ "$entry" != missing ]; then
        record_failure "$entry" "" "kernel-packer printed no result"
    fi
}

count=0
declare -A seen=()
while IFS= read -r raw || [ -n "$raw" ]; do
    entry=$(printf '%s' "$raw" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
    case "$entry" in '' | '#'*) continue ;; esac
    count=$((count + 1))
    # The same line twice packs once.
    [ -z "${seen[$entry]:-}" ] || continue
    seen[$entry]=1
    pack_one "$entry"
done <<<"${KP_KERNELS:-}"

if [ "$count" -eq 0 ]; then
    echo "::error title=kernel-packer::input kernels is empty: give kernel unames or manifest ids, one per line, or 'missing'"
    exit 1
fi

bundles=$(jq -sc '[.[] | select(.error == null)]' "$results")
failures=$(jq -sc '[.[] | select(.error != null)]' "$results")
set_output bundles "$bundles"
set_output failures "$failures"
set_output bundle-dir "$output"

# Job summary: one row per kernel result.
{
    jq -rs --arg dir "$output" '
        def cell: tostring | gsub("[\r\n]+"; " ") | gsub("\\|"; "\\|") | gsub("`"; "'"'"'");
        def human: if . == null then "" elif . >= 1048576 then "\((. / 1048576 * 10 | round) / 10) MiB"
                   elif . >= 1024 then "\((. / 1024 * 10 | round) / 10) KiB" else "\(.) B" end;
        (map(select(.error == null)) | length) as $ok | (map(select(.error != null)) | length) as $bad |
        "### kernel-packer",
        "",
        "\($ok) packed, \($bad) failed; bundles in `\($dir | cell)`",
        "",
        "| Kernel | Manifest id | Bundle | Size | Result |",
        "| --- | --- | --- | --- | --- |",
        (.[] | "| \(.kernel // "" | cell) | \(if .id then "`" + (.id | cell | .[0:12]) + "`" else "" end) | " +
               (if .error == null then "`\(.name | cell)` | \(.size | human) | packed |"
                else " |  | failed: \(.error | cell) |" end))
    ' "$results"
    echo
} >>"$GITHUB_STEP_SUMMARY"

nfail=$(jq 'length' <<<"$failures")
nok=$(jq 'length' <<<"$bundles")
# One error annotation per failure (workflow-command escaping: %, CR, LF).
jq -r '.[] | "\(.kernel // .id // "?"): \(.error)" | gsub("%"; "%25") | gsub("\r"; "%0D") | gsub("\n"; "%0A")
       | "::error title=kernel-packer::\(.)"' <<<"$failures"
echo "kernel-packer: $nok packed, $nfail failed" >&2
rm -rf "$work"
[ "$nfail" -eq 0 ]
