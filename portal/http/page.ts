/**
 * The web page and its headers: a Content-Security-Policy that allows exactly the page's own inline script and
 * style (by hash), talks only to this origin and may not be framed.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

const STATIC_PAGE = path.join(__dirname, "..", "static", "index.html");

const hashes = (html: string, tag: "script" | "style") =>
    [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))]
        .map((m) => `'sha256-${createHash("sha256").update(m[1]).digest("base64")}'`);

export function pageHeaders(html: string): Record<string, string> {
    const csp = [
        "default-src 'none'",
        `script-src ${hashes(html, "script").join(" ")}`,
        `style-src ${hashes(html, "style").join(" ")}`,
        "connect-src 'self'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ].join("; ");
    return { "content-security-policy": csp, "x-frame-options": "DENY" };
}

/** The page, read once, with its headers. */
export function readPage(file = STATIC_PAGE): { html: string; headers: Record<string, string> } {
    const html = fs.readFileSync(file, "utf8");
    return { html, headers: pageHeaders(html) };
}
