#!/usr/bin/env node
// Reads the devcontainer.json of a repository (JSONC: comments and trailing commas allowed) and prints, as one JSON
// line on stdout, the user it asks for: remoteUser, else containerUser, else the default user. The value may be
// `name`, `uid`, `name:group` or `uid:gid`; names and ids are resolved against a passwd and a group file.
//
// Usage: node devcontainer-user.js --repo DIR [--passwd FILE] [--group FILE] [--default-user NAME]
// Output: {"file": path|null, "source": "remoteUser"|"containerUser"|"default", "spec": string|null,
//          "user": name|null, "uid": number|null, "group": name|null, "gid": number|null, "error": string|null}
// A missing file gives the default user; a malformed one gives the default user and "error" (exit 0 both times).
// Read as the devcontainers CLI reads it: UTF-8, a leading byte order mark ignored. At most MAX_BYTES (1 MiB) are
// read: a larger file (e.g. hundreds of MB of whitespace, tiny in git) is reported and ignored, never loaded.
// jsonc-parser is looked up through NODE_PATH (the image has it under /usr/local/gitspace/lib/node_modules).
"use strict";
const fs = require("fs");
const path = require("path");

function parseArgs(argv) {
    const opts = { repo: null, passwd: "/etc/passwd", group: "/etc/group", defaultUser: "vscode" };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const v = argv[i + 1];
        if (a === "--repo") opts.repo = v;
        else if (a === "--passwd") opts.passwd = v;
        else if (a === "--group") opts.group = v;
        else if (a === "--default-user") opts.defaultUser = v;
        else throw new Error(`unknown argument ${a}`);
        i++;
    }
    if (!opts.repo) throw new Error("--repo DIR is required");
    return opts;
}

/** Lines of a colon-separated database (passwd/group); missing file: none. */
function readDb(file) {
    let text;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        return [];
    }
    return text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
}

const isId = (s) => /^[0-9]+$/.test(s);

const MAX_BYTES = 1024 * 1024;

/** The file's text, BOM stripped; throws when it is larger than MAX_BYTES (read through a bounded buffer). */
function readBounded(file) {
    const fd = fs.openSync(file, "r");
    try {
        const buf = Buffer.alloc(MAX_BYTES + 1);
        let n = 0;
        for (let r; n < buf.length && (r = fs.readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
        if (n > MAX_BYTES) throw new Error(`larger than ${MAX_BYTES} bytes; not read`);
        return buf.subarray(0, n).toString("utf8").replace(/^\uFEFF/, "");
    } finally {
        fs.closeSync(fd);
    }
}

function resolve(spec, passwd, groups) {
    const [userPart, groupPart] = spec.split(":", 2);
    let user = null, uid = null, group = null, gid = null;
    const pw = isId(userPart) ? passwd.find((e) => e[2] === userPart) : passwd.find((e) => e[0] === userPart);
    if (isId(userPart)) uid = Number(userPart);
    else user = userPart;
    if (pw) {
        user = pw[0];
        uid = Number(pw[2]);
        gid = Number(pw[3]);
    }
    if (groupPart !== undefined && groupPart !== "") {
        const gr = isId(groupPart) ? groups.find((e) => e[2] === groupPart) : groups.find((e) => e[0] === groupPart);
        if (isId(groupPart)) gid = Number(groupPart);
        else {
            group = groupPart;
            gid = null;
        }
        if (gr) {
            group = gr[0];
            gid = Number(gr[2]);
        }
    } else if (gid !== null) {
        const gr = groups.find((e) => Number(e[2]) === gid);
        if (gr) group = gr[0];
    }
    return { user, uid, group, gid };
}

function main() {
    const opts = parseArgs(process.argv.slice(2));
    const passwd = readDb(opts.passwd);
    const groups = readDb(opts.group);
    const result = { file: null, source: "default", spec: null, error: null };
    const candidates = [path.join(opts.repo, ".devcontainer", "devcontainer.json"), path.join(opts.repo, ".devcontainer.json")];
    const file = candidates.find((f) => {
        try {
            return fs.statSync(f).isFile();
        } catch {
            return false;
        }
    });
    let spec = null;
    if (file) {
        result.file = file;
        try {
            const jsonc = require("jsonc-parser");
            const errors = [];
            const content = readBounded(file);
            const doc = jsonc.parse(content, errors, { allowTrailingComma: true, disallowComments: false });
            if (errors.length > 0) {
                const e = errors[0];
                const text = content.slice(0, e.offset);
                const line = text.split("\n").length;
                const column = e.offset - text.lastIndexOf("\n");
                throw new Error(`${jsonc.printParseErrorCode(e.error)} at line ${line}, column ${column}`);
            }
            if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new Error("the top level is not an object");
            for (const key of ["remoteUser", "containerUser"]) {
                const v = doc[key];
                if (v === undefined || v === null || v === "") continue;
                if (typeof v !== "string" && typeof v !== "number") throw new Error(`${key} must be a string`);
                const s = String(v).trim();
                if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*(:[A-Za-z0-9_.][A-Za-z0-9_.-]*)?$/.test(s)) {
                    throw new Error(`${key} '${s}' is not one of name, uid, name:group, uid:gid`);
                }
                spec = s;
                result.source = key;
                break;
            }
        } catch (err) {
            const why = err instanceof RangeError ? "nested too deeply" : err && err.message ? err.message : String(err);
            result.error = `cannot use ${file}: ${why}`;
            result.source = "default";
            spec = null;
        }
    }
    result.spec = spec;
    Object.assign(result, resolve(spec ?? opts.defaultUser, passwd, groups));
    process.stdout.write(JSON.stringify(result) + "\n");
}

try {
    main();
} catch (err) {
    process.stderr.write(`[gitspace] ERROR: devcontainer-user: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(2);
}
