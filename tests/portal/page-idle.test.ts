/**
 * The web page in headless Chromium shows a gitspace the idle reaper stopped as "stopped (idle)" (status and live
 * columns), one a person stopped as "stopped", and Start brings it back (under the page's CSP).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chromium, BrowserContext } from "playwright-core";
import { createInMemoryPortal, exampleTeamValues, MemoryLiveBackend } from "../../portal";
import { serve, TOKEN } from "./helpers";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("portal: web page shows stopped (idle)", function () {
    this.timeout(120000);
    let browser: BrowserContext;
    let profile: string;

    before(async () => {
        if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
        profile = fs.mkdtempSync(path.join(os.tmpdir(), "portal-chromium-idle-"));
        browser = await chromium.launchPersistentContext(profile, {
            executablePath: CHROMIUM, headless: true,
            args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    });
    after(async () => {
        await browser?.close();
        if (profile) fs.rmSync(profile, { recursive: true, force: true });
    });

    it("status and live columns say stopped (idle) for the reaper's stop only; Start clears it", async () => {
        const live = new MemoryLiveBackend();
        const mem = createInMemoryPortal({ live });
        const stack = await mem.addStack("platform-dev", exampleTeamValues("platform", [
            { name: "alice", idleTimeout: "30m" },
            { name: "carol", idleTimeout: "30m" },
        ]));
        live.mirror(stack);
        const ref = { team: "platform", env: "dev" };
        await mem.portal.stopIdle(ref, "alice");
        await mem.portal.stop(ref, "carol");
        const served = await serve(mem.portal);
        const page = await browser.newPage();
        const violations: string[] = [];
        page.on("console", (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
        try {
            await page.goto(`${served.url}/?team=platform&env=dev#token=${TOKEN}`);
            await page.waitForSelector("tr[data-name=alice] .live-stopped");
            await page.waitForSelector("tr[data-name=carol] .live-stopped");
            assert.strictEqual(await page.textContent("tr[data-name=alice] .status"), "stopped (idle)");
            assert.strictEqual(await page.textContent("tr[data-name=alice] .live-text"), "stopped (idle)");
            assert.strictEqual(await page.textContent("tr[data-name=carol] .status"), "stopped");
            assert.strictEqual(await page.textContent("tr[data-name=carol] .live-text"), "stopped");
            assert.strictEqual(await page.textContent("tr[data-name=alice] button"), "Start");

            await page.click("tr[data-name=alice] button.start");
            await page.waitForSelector("tr[data-name=alice] .status-running");
            assert.strictEqual(await page.textContent("tr[data-name=alice] .status"), "running");
            await page.waitForSelector("tr[data-name=alice] .live-ready");
            assert.strictEqual((await mem.portal.get(ref, "alice")).stoppedReason, undefined);
            assert.deepStrictEqual(violations, []);
        } finally {
            await page.close();
            await served.close();
            await mem.portal.close();
        }
    });
});
