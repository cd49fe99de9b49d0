/**
 * Headless Chromium for the page tests: a fresh profile per suite, and a page watched for what every test checks
 * (CSP violations, dialogs, the API requests it sends and how it sends the token).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chromium, BrowserContext, Page } from "playwright-core";
import { TOKEN } from "./helpers";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Chromium with a fresh profile directory (playwright passes it as --user-data-dir); `close` removes both. */
export async function launchBrowser(prefix: string): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
    if (!fs.existsSync(CHROMIUM)) {
        throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    }
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const browser = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    return {
        browser,
        async close() {
            await browser.close();
            fs.rmSync(profile, { recursive: true, force: true });
        },
    };
}

/** What a page did that a test checks on every action: CSP violations, dialogs, requests to the API. */
export interface Watched {
    page: Page;
    violations: string[];
    dialogs: number;
    requests: Array<{ method: string; url: URL; auth: string; body: string | null }>;
}

export async function openPage(browser: BrowserContext, url: string): Promise<Watched> {
    const page = await browser.newPage();
    const w: Watched = { page, violations: [], dialogs: 0, requests: [] };
    page.on("console", (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) w.violations.push(m.text()); });
    page.on("dialog", (d) => { w.dialogs++; void d.dismiss(); });
    page.on("request", (r) => {
        const u = new URL(r.url());
        if (u.pathname.startsWith("/teams/") || u.pathname === "/stacks") {
            w.requests.push({ method: r.method(), url: u, auth: r.headers().authorization ?? "", body: r.postData() });
        }
    });
    await page.goto(url);
    return w;
}

/** Nothing from the service became markup or script, and the page stayed within its CSP. */
export async function assertInert(w: Watched) {
    assert.strictEqual(await w.page.$$eval("img, iframe, object, embed, svg, b", (e) => e.length), 0, "no markup from the service's words");
    assert.strictEqual(await w.page.$$eval("script", (e) => e.length), 1, "only the page's own script");
    assert.strictEqual(w.dialogs, 0, "no script ran from the service's words");
    assert.deepStrictEqual(w.violations, [], "the page runs under its CSP without violations");
    for (const r of w.requests) {
        assert.ok(!r.url.href.includes(TOKEN), `no token in a URL: ${r.url.href}`);
        assert.strictEqual(r.auth, `Bearer ${TOKEN}`, `${r.method} ${r.url.pathname} sends the token in its header`);
    }
}
