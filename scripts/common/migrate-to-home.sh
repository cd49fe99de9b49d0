#!/usr/bin/env bash
# migrate-to-home.sh [--dry-run] HOME_DIR
#
# Public contract (external tooling calls it). HOME_DIR is the root of the home volume as this container sees it
# (the init container mounts the PVC at /home/<user>). Brings a volume of the legacy gitspace layouts to the HOME
# layout (code at HOME/<repo>). Only a legacy volume is migrated: one no gitspace init has prepared (see "legacy"
# below); a HOME a gitspace already initialised is left as it is (report status "not-legacy"). The legacy layouts:
#   (a) repositories directly at the volume root: nothing to move; HOME is checked and the migration recorded;
#   (b) a `workspaces/` directory inside the volume: each of its entries (dotfiles included) is renamed up into HOME.
# Rules:
#   - nothing is ever deleted or overwritten. A name already taken in HOME keeps both: the incoming entry goes to
#     HOME/migrated-conflicts-<UTC timestamp>/<name> (suffix .1, .2, ... if needed) and is reported;
#   - only rename(2) within the volume: an entry on another filesystem is refused (left in place, reported), never
#     copied and deleted;
#   - a journal line is appended before each rename, so a run killed at any point (kill -9) finishes on the next run;
#   - the emptied legacy directory is removed with rmdir only; nothing is chown'ed; no symlink is followed, created or
#     chmod'ed. A `workspaces` that is a symlink is not a legacy directory (left as is), except the seed's
#     self-referential `workspaces -> HOME_DIR` link, which is unlinked (it loops find -L, du, file watchers);
#     `workspaces` holding `.git` is a repository named workspaces, not a legacy directory;
#   - a moved directory without write permission for its owner (needed to rename a directory to a new parent) gets
#     u+w for the rename and its mode back right after (journalled, restored on resume too);
#   - result: HOME_DIR/.gitspace/migration.json (report), HOME_DIR/.gitspace/migration.journal (what was renamed),
#     HOME_DIR/.gitspace/migration.done (marker: later runs exit at once, without walking HOME).
# Options: --dry-run prints what would be done and changes nothing.
# Exit: 0 HOME is ready (migrated, or nothing to migrate); 3 HOME is usable but some entries could not be moved (left
#       in the legacy directory, listed in the report and the log; retried on the next run); 1 error (HOME unusable,
#       unsafe state, bad arguments); 2 usage.
# Environment: GITSPACE_MIGRATE_FAULT_AFTER=N (tests only: kill -9 this script right after the Nth rename).
set -euo pipefail
# shellcheck source=lib.sh
case "${BASH_SOURCE[0]}" in */*) . "${BASH_SOURCE[0]%/*}/lib.sh" ;; *) . ./lib.sh ;; esac

usage() {
    echo "usage: $0 [--dry-run] HOME_DIR" >&2
    exit 2
}

dry_run=0
home=""
while (($#)); do
    case "$1" in
        --dry-run) dry_run=1 ;;
        -h | --help) usage ;;
        --) shift; break ;;
        -*) usage ;;
        *) [[ -z "$home" ]] || usage; home="$1" ;;
    esac
    shift
done
if (($#)); then
    [[ -z "$home" && $# -eq 1 ]] || usage
    home="$1"
fi
[[ -n "$home" ]] || usage
[[ "$home" == / ]] || home="${home%/}"

legacy_name=workspaces
fault_after="${GITSPACE_MIGRATE_FAULT_AFTER:-0}"
[[ "$fault_after" =~ ^[0-9]+$ ]] || gs_die "GITSPACE_MIGRATE_FAULT_AFTER must be a number"
state="$home/.gitspace"
journal="$state/migration.journal"
report="$state/migration.json"
marker="$state/migration.done"
staging="$state/migration-staging"
conflicts_file="$state/migration-conflicts-dir"
legacy="$home/$legacy_name"
prefix=""
((dry_run)) && prefix="dry-run: would "

q() { printf '%q' "$1"; }

[[ -d "$home" && ! -L "$home" ]] || gs_die "migrate: HOME_DIR $(q "$home") is not a directory (or is a symlink)"

# Warm start: O(1), nothing walked.
if [[ -f "$marker" && ! -L "$marker" ]]; then
    gs_log "migrate: already done ($marker); nothing to do"
    exit 0
fi

if ((!dry_run)); then
    [[ -w "$home" && -x "$home" ]] || gs_die "migrate: HOME_DIR $home is not writable by uid $(id -u); the pod's fsGroup must make the volume writable (no chown is done here)"
    gs_ensure_private_dir "$state" || gs_die "migrate: cannot use the state directory $state"
    if command -v flock >/dev/null; then
        exec 9>>"$state/migration.lock"
        flock -n 9 || gs_die "migrate: another migration holds $state/migration.lock"
    fi
fi

# Only a genuinely legacy volume is migrated. Legacy means: no gitspace init has ever prepared this HOME. Evidence
# of an init is any of $state/initialized.json (written by gitspace-init.sh right after its migration step, on every
# HOME it prepares), or, for homes prepared before that marker existed, $state/clone-status.json or $state/skel.done.
# An interrupted migration (journal or staging dir present) always finishes, whatever else is there.
if [[ ! -s "$journal" && ! -e "$staging" ]]; then
    for evidence in "$state/initialized.json" "$state/clone-status.json" "$state/skel.done"; do
        [[ -e "$evidence" || -L "$evidence" ]] || continue
        gs_log "migrate: ${prefix}skip: $home was already prepared by a gitspace (${evidence#"$home"/} exists), so its workspaces/ (if any) is the user's own directory, not a legacy layout; nothing is moved"
        ((dry_run)) && exit 0
        jq -n --arg home "$home" --arg evidence "${evidence#"$home"/}" --arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
            '{status: "not-legacy", layout: "home", home: $home, finished_at: $finished, evidence: $evidence,
              moved: [], conflicts: [], conflicts_dir: null, removed_links: [], failed: [],
              notes: ["HOME was already prepared by a gitspace: not a legacy layout, nothing migrated"]}' |
            gs_write_if_changed "$report" 0644
        jq -cn --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '{status: "not-legacy", at: $at}' | gs_write_if_changed "$marker" 0644
        exit 0
    done
fi

home_dev="$(stat -c %d -- "$home")"
renames=0
moved=0
conflicts=0
failed=()

# journal JSON: append one line before the action it describes (never in dry-run).
journal() {
    ((dry_run)) || printf '%s\n' "$1" >>"$journal"
}

after_rename() {
    renames=$((renames + 1))
    if ((fault_after > 0 && renames == fault_after)); then
        gs_log "migrate: fault injection: kill -9 after rename $renames"
        kill -9 $$
    fi
}

fail_entry() { # fail_entry REL REASON
    gs_error "migrate: $(q "$1") not moved: $2 (left in place)"
    failed+=("$(jq -cn --arg from "$1" --arg reason "$2" '{from: $from, reason: $reason}')")
}

# Repair after a kill between a chmod u+w and the mode restore: the last journal record says which mode to put back.
repair_modes() {
    [[ -s "$journal" ]] || return 0
    local last op mode path
    last="$(tail -n 1 "$journal")"
    op="$(jq -r '.op // ""' <<<"$last" 2>/dev/null || true)"
    mode="$(jq -r '.mode // ""' <<<"$last" 2>/dev/null || true)"
    [[ "$op" == move && -n "$mode" ]] || return 0
    for path in "$(jq -r '.to' <<<"$last")" "$(jq -r '.from' <<<"$last")"; do
        if [[ -d "$home/$path" && ! -L "$home/$path" && -O "$home/$path" ]]; then
            chmod "$mode" -- "$home/$path"
            gs_log "migrate: restored mode $mode of $(q "$path") after an interrupted run"
        fi
    done
}

conflicts_dir=""
# ensure_conflicts_dir: the dated folder for entries whose name is taken in HOME, chosen once per migration (kept in
# the state dir so a resumed run uses the same one).
ensure_conflicts_dir() {
    [[ -z "$conflicts_dir" ]] || return 0
    if [[ -f "$conflicts_file" ]]; then
        IFS= read -r conflicts_dir <"$conflicts_file" || true
    fi
    if [[ -z "$conflicts_dir" ]]; then
        conflicts_dir="migrated-conflicts-$(date -u +%Y%m%dT%H%M%SZ)"
        local n=0 base="$conflicts_dir"
        while [[ -e "$home/$conflicts_dir" || -L "$home/$conflicts_dir" ]]; do
            n=$((n + 1))
            conflicts_dir="$base.$n"
        done
        ((dry_run)) || printf '%s\n' "$conflicts_dir" >"$conflicts_file"
    fi
    if ((!dry_run)) && [[ ! -d "$home/$conflicts_dir" ]]; then
        [[ ! -L "$home/$conflicts_dir" ]] || gs_die "migrate: $home/$conflicts_dir is a symlink; refusing"
        mkdir -- "$home/$conflicts_dir"
    fi
}

# move_entry SRC_DIR NAME ORIG_REL: rename SRC_DIR/NAME to HOME/NAME, or into the conflicts folder when taken.
move_entry() {
    local src_dir="$1" name="$2" orig="$3" src target rel_to kind=moved mode="" dev n=0
    src="$src_dir/$name"
    dev="$(stat -c %d -- "$src")"
    if [[ "$dev" != "$home_dev" ]]; then
        fail_entry "$orig" "on another filesystem (device $dev, HOME is on $home_dev): refusing to copy and delete across devices"
        return 0
    fi
    rel_to="$name"
    if [[ -e "$home/$name" || -L "$home/$name" ]]; then
        kind=conflict
        ensure_conflicts_dir
        rel_to="$conflicts_dir/$name"
        while [[ -e "$home/$rel_to" || -L "$home/$rel_to" ]]; do
            n=$((n + 1))
            rel_to="$conflicts_dir/$name.$n"
        done
    fi
    target="$home/$rel_to"
    # Renaming a directory to a new parent needs write permission on it (its `..` entry changes).
    if [[ -d "$src" && ! -L "$src" && ! -w "$src" ]]; then
        if [[ -O "$src" ]]; then
            mode="$(stat -c %a -- "$src")"
        else
            fail_entry "$orig" "directory not writable and owned by uid $(stat -c %u -- "$src"), not $(id -u): cannot rename it"
            return 0
        fi
    fi
    if [[ "$kind" == conflict ]]; then
        gs_warn "migrate: ${prefix}keep conflict: $(q "$orig") -> $(q "$rel_to") (HOME already has $(q "$name"))"
    else
        gs_log "migrate: ${prefix}move $(q "$orig") -> $(q "$rel_to")"
    fi
    ((dry_run)) && return 0
    local src_rel="${src#"$home"/}"
    journal "$(jq -cn --arg from "$src_rel" --arg orig "$orig" --arg to "$rel_to" --arg kind "$kind" --arg mode "$mode" \
        '{op: "move", from: $from, orig: $orig, to: $to, kind: $kind} + (if $mode == "" then {} else {mode: $mode} end)')"
    [[ -z "$mode" ]] || chmod u+w -- "$src"
    if ! mv -n -T -- "$src" "$target" 2>/dev/null || [[ -e "$src" || -L "$src" ]] || [[ ! -e "$target" && ! -L "$target" ]]; then
        [[ -z "$mode" || ! -d "$src" ]] || chmod "$mode" -- "$src"
        fail_entry "$orig" "rename to $rel_to failed"
        return 0
    fi
    [[ -z "$mode" ]] || chmod "$mode" -- "$target"
    if [[ "$kind" == conflict ]]; then conflicts=$((conflicts + 1)); else moved=$((moved + 1)); fi
    after_rename
}

# move_all SRC_DIR ORIG_PREFIX [DEFER_NAME]: move every entry of SRC_DIR; prints 1 when DEFER_NAME was seen.
deferred=0
move_all() {
    local src_dir="$1" orig_prefix="$2" defer="${3:-}" entry name
    while IFS= read -r -d '' entry; do
        name="${entry##*/}"
        if [[ -n "$defer" && "$name" == "$defer" ]]; then
            deferred=1
            continue
        fi
        move_entry "$src_dir" "$name" "$orig_prefix$name"
    done < <(find "$src_dir" -mindepth 1 -maxdepth 1 -print0)
}

# ensure_writable_dir DIR: entries leave DIR, so it must be writable; a directory of ours gets u+w (journalled once).
ensure_writable_dir() {
    local dir="$1" rel="${1#"$home"/}"
    [[ -w "$dir" ]] && return 0
    if [[ ! -O "$dir" ]]; then
        fail_entry "$rel" "directory not writable and owned by uid $(stat -c %u -- "$dir"), not $(id -u): cannot move its entries"
        return 1
    fi
    ((dry_run)) && return 0
    journal "$(jq -cn --arg path "$rel" --arg mode "$(stat -c %a -- "$dir")" '{op: "chmod-legacy", path: $path, mode: $mode}')"
    chmod u+w -- "$dir"
}

# restore_legacy_mode DIR: put back the mode journalled by ensure_writable_dir (first record wins).
restore_legacy_mode() {
    local dir="$1" rel="${1#"$home"/}" mode
    [[ -s "$journal" && -d "$dir" && ! -L "$dir" ]] || return 0
    mode="$(jq -r --arg p "$rel" 'select(.op == "chmod-legacy" and .path == $p) | .mode' "$journal" | head -n 1)"
    [[ -z "$mode" ]] || chmod "$mode" -- "$dir"
}

((dry_run)) || repair_modes

layout="none"
notes=()
src=""
if [[ -d "$staging" && ! -L "$staging" ]]; then
    layout="workspaces-subdir"
    gs_log "migrate: resuming an interrupted migration ($staging)"
    src="$staging"
elif [[ -s "$journal" ]] && grep -q '"op":"stage"' "$journal"; then
    # The legacy dir was parked and emptied by an interrupted run: HOME/workspaces is now the user's own entry.
    layout="workspaces-subdir"
elif [[ -L "$legacy" ]]; then
    target_link="$(readlink -- "$legacy")"
    if [[ "$target_link" == "$home" || "$target_link" == "$home/" || "$target_link" == . || "$target_link" == ./ ]]; then
        gs_log "migrate: ${prefix}remove the self-referential link $legacy -> $target_link (a loop for find -L, du, watchers; /workspaces is a second mount of HOME instead)"
        if ((!dry_run)); then
            journal "$(jq -cn --arg path "$legacy_name" --arg target "$target_link" '{op: "unlink-self-link", path: $path, target: $target}')"
            rm -f -- "$legacy"
        fi
        notes+=("removed self-referential symlink $legacy_name -> $target_link")
    else
        gs_warn "migrate: $legacy is a symlink (-> $target_link), not a legacy directory: left untouched"
        notes+=("$legacy_name is a symlink to $target_link: not a legacy directory, left untouched")
    fi
elif [[ -d "$legacy" ]]; then
    if [[ -e "$legacy/.git" || -L "$legacy/.git" ]]; then
        gs_log "migrate: $legacy is a git repository named $legacy_name (volume-root layout), not a legacy directory"
        notes+=("$legacy_name is a repository: left in place")
        layout="volume-root"
    elif [[ "$(stat -c %d -- "$legacy")" != "$home_dev" ]]; then
        fail_entry "$legacy_name" "is another filesystem (a mount point): refusing to copy and delete across devices"
        layout="workspaces-subdir"
    else
        layout="workspaces-subdir"
        src="$legacy"
    fi
else
    layout="volume-root"
fi

if [[ -n "$src" ]] && ! ensure_writable_dir "$src"; then
    src=""
fi
if [[ -n "$src" ]]; then
    if [[ "$src" == "$legacy" ]]; then
        move_all "$legacy" "$legacy_name/" "$legacy_name"
        if ((deferred)) && ((${#failed[@]} == 0)); then
            # workspaces/workspaces: HOME/workspaces is the legacy dir itself, so park the legacy dir first.
            gs_log "migrate: ${prefix}park $legacy_name in $(q "${staging#"$home"/}") to move its entry $legacy_name/$legacy_name up"
            if ((!dry_run)); then
                journal "$(jq -cn --arg from "$legacy_name" --arg to "${staging#"$home"/}" '{op: "stage", from: $from, to: $to}')"
                mv -n -T -- "$legacy" "$staging"
                [[ -d "$staging" && ! -e "$legacy" ]] || gs_die "migrate: could not park $legacy in $staging"
                after_rename
                src="$staging"
            else
                gs_log "migrate: ${prefix}move $legacy_name/$legacy_name -> $legacy_name (after parking)"
            fi
        elif ((deferred)); then
            fail_entry "$legacy_name/$legacy_name" "waits until every other entry of $legacy_name is moved"
        fi
    fi
    if [[ "$src" == "$staging" ]]; then
        move_all "$staging" "$legacy_name/"
    fi
    if ((!dry_run)); then
        if ((${#failed[@]} == 0)); then
            # Empty now: rmdir only (never rm -r).
            if rmdir -- "$src" 2>/dev/null; then
                gs_log "migrate: removed the empty legacy directory $(q "${src#"$home"/}")"
            else
                fail_entry "${src#"$home"/}" "not empty after the move (entries appeared meanwhile?)"
            fi
        else
            restore_legacy_mode "$src"
            if [[ "$src" == "$staging" && ! -e "$legacy" && ! -L "$legacy" ]]; then
                mv -n -T -- "$staging" "$legacy" && gs_log "migrate: left the entries that could not be moved in $legacy"
            fi
        fi
    fi
fi

if [[ -s "$journal" ]] && grep -q '"op":"move"' "$journal"; then
    layout="workspaces-subdir"
fi
if ((${#failed[@]})); then
    status=partial
elif [[ "$moved" -gt 0 || "$conflicts" -gt 0 || -s "$journal" ]]; then
    status=complete
else
    status=nothing-to-do
fi

if ((dry_run)); then
    gs_log "migrate: dry-run: layout $layout; nothing was changed"
    exit 0
fi

# The report covers every run of this migration (the journal survives interruptions): last record per entry wins.
{
    if [[ -s "$journal" ]]; then cat "$journal"; fi
} | jq -s \
    --arg status "$status" --arg layout "$layout" --arg home "$home" \
    --arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg conflicts_dir "$conflicts_dir" \
    --argjson failed "$(if ((${#failed[@]})); then printf '%s\n' "${failed[@]}" | jq -s .; else echo '[]'; fi)" \
    --argjson notes "$(if ((${#notes[@]})); then printf '%s\n' "${notes[@]}" | jq -R . | jq -s .; else echo '[]'; fi)" '
    (map(select(.op == "move")) | group_by(.orig) | map(last)) as $moves
    | {
        status: $status, layout: $layout, home: $home, finished_at: $finished,
        moved: [$moves[] | select(.kind == "moved") | {from: .orig, to: .to}],
        conflicts: [$moves[] | select(.kind == "conflict") | {from: .orig, to: .to}],
        conflicts_dir: (if $conflicts_dir == "" then null else $conflicts_dir end),
        removed_links: [.[] | select(.op == "unlink-self-link") | {path: .path, target: .target}],
        failed: $failed,
        notes: $notes
      }' | gs_write_if_changed "$report" 0644

summary="layout $layout: $moved moved, $conflicts kept aside as conflicts${conflicts_dir:+ in $conflicts_dir}, ${#failed[@]} not moved"
if [[ "$status" == partial ]]; then
    gs_error "migrate: incomplete ($summary); HOME is usable, the rest stays in $legacy_name/ and is retried on the next start; report: $report"
    exit 3
fi
jq -cn --arg status "$status" --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '{status: $status, at: $at}' | gs_write_if_changed "$marker" 0644
gs_log "migrate: $status ($summary); report: $report"
