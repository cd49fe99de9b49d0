/**
 * The name patterns of the configuration, defined once. The config schema (components/config.ts) applies them; the
 * portal and the tests import them from here instead of keeping copies.
 */

/** RFC 1123 label: namespaces, team and developer names (length ≤ 63 is checked separately). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1123 subdomain: domains, storage class and PersistentVolume names. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A POSIX user name as useradd accepts it by default (at most 32 characters). */
export const POSIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
/**
 * A branch name git accepts (`git check-ref-format --branch`), restricted to a portable subset: letters, digits,
 * `.`, `_`, `-`, `/`; not starting with `-` or `/`; not `HEAD`; no empty, `.`-leading or `.lock`-ending component; no `..`.
 * Length ≤ 255 is checked separately.
 */
export const GIT_BRANCH = /^(?![-/])(?!HEAD$)(?!.*\.\.)(?!.*\/\/)(?!.*(^|\/)\.)(?!.*\.lock(\/|$))[A-Za-z0-9._/-]+(?<![/.])$/;
/**
 * A repository's directory under HOME: letters, digits, `.`, `_`, `-`, starting with a letter, digit or `_` (so never
 * a dotfile such as `.ssh`, `.config`, `.gitspace`, never `.` or `..`, never an option-looking `-x`). Length and
 * the reserved names are checked by `repoNameProblem` (components/repo.ts).
 */
export const REPO_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
