#!/usr/bin/env bash
# Rewrite the control data of the distribution's `git` package so that it installs without the full Perl: `perl` and
# `liberror-perl` move from Depends to Recommends. Everything git's own package runs works with `perl-base` (which is
# Essential, so always there) or needs no Perl at all; the Perl-only git commands are separate packages (git-email,
# git-svn, git-cvs, git-mediawiki, gitweb). The files are not touched, only the control data:
#   - Version gets a `~gitspace1` suffix: lower than the archive's own build of the same version, so asking apt
#     for `git` explicitly (or an upgrade) replaces it with the distribution's git, perl included;
#   - Breaks: those Perl-only git packages, because some of them (git-email) rely on git's perl dependency: installing
#     one makes apt replace this git with the distribution's, which brings perl and liberror-perl;
#   - any other package that needs Perl depends on `perl` itself and gets the real one (nothing pretends Perl is there).
# A package without those dependencies (another distribution) is copied unchanged.
# Usage: repack-git.sh IN.deb OUT.deb
set -euo pipefail

(($# == 2)) || { echo "usage: $0 IN.deb OUT.deb" >&2; exit 2; }
in="$1" out="$2"
package="$(dpkg-deb --field "$in" Package)" || { echo "$in is not a Debian package" >&2; exit 1; }
[[ "$package" == git ]] || { echo "$in is package '$package', not git" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dpkg-deb --raw-extract "$in" "$work/pkg"
control="$work/pkg/DEBIAN/control"

# One awk pass over the control file (RFC822-like: a field, then its continuation lines starting with a blank).
# Prints the new control file, or nothing when Depends has neither perl nor liberror-perl.
awk -v drop="perl liberror-perl" -v breaks="git-email, git-svn, git-cvs, git-mediawiki, gitweb" '
    function trim(s) { sub(/^[ \t\n]+/, "", s); sub(/[ \t\n]+$/, "", s); return s }
    # the package name of one dependency entry: "perl:any (>= 5)" -> "perl"; alternatives ("a | b") never match
    function name_of(e) { e = trim(e); if (e ~ /\|/) return ""; sub(/[ :(].*/, "", e); return e }
    BEGIN { n = split(drop, d, " "); for (i = 1; i <= n; i++) dropped_name[d[i]] = 1 }
    /^[ \t]/ { value[nf] = value[nf] "\n" $0; next }
    {
        nf++; f = $0; sub(/:.*/, "", f); name[nf] = f
        v = $0; sub(/^[^:]*:/, "", v); value[nf] = v; idx[f] = nf
    }
    END {
        if (!("Depends" in idx)) exit 0
        m = split(value[idx["Depends"]], entries, ",")
        keep = ""; moved = ""
        for (i = 1; i <= m; i++) {
            e = trim(entries[i]); if (e == "") continue
            if (name_of(e) in dropped_name) moved = moved (moved == "" ? "" : ", ") e
            else keep = keep (keep == "" ? "" : ", ") e
        }
        if (moved == "") exit 0
        value[idx["Depends"]] = " " keep
        value[idx["Version"]] = value[idx["Version"]] "~gitspace1"
        if ("Recommends" in idx) value[idx["Recommends"]] = value[idx["Recommends"]] ", " moved
        else { nf++; name[nf] = "Recommends"; value[nf] = " " moved; idx["Recommends"] = nf }
        if ("Breaks" in idx) value[idx["Breaks"]] = value[idx["Breaks"]] ", " breaks
        else { nf++; name[nf] = "Breaks"; value[nf] = " " breaks; idx["Breaks"] = nf }
        # Description last, as dpkg writes it (the fields added above would otherwise follow its long text)
        for (i = 1; i <= nf; i++) if (name[i] != "Description") print name[i] ":" value[i]
        if ("Description" in idx) print "Description:" value[idx["Description"]]
    }' "$control" >"$work/control.new"

if [[ ! -s "$work/control.new" ]]; then
    echo "repack-git: $(dpkg-deb --field "$in" Version) does not depend on perl or liberror-perl: unchanged"
    cp "$in" "$out"
    exit 0
fi
mv "$work/control.new" "$control"
# Uncompressed: the file is installed right away and deleted.
dpkg-deb --build -Znone "$work/pkg" "$out" >/dev/null
echo "repack-git: git $(dpkg-deb --field "$out" Version): Depends: $(dpkg-deb --field "$out" Depends)"
