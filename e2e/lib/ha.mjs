// Shared machinery of the browser tests: Chromium, the Home Assistant frontend, screenshots.
//
// Environment (scripts/e2e sets all of it):
//   HA_URL            Home Assistant, e.g. http://127.0.0.1:8123
//   E2E_PROVIDERS     JSON file written by `scripts/develop.py --describe`
//   E2E_ARTIFACTS     directory for screenshots of every step (and of failures)
//   E2E_DOC_SHOTS     directory for the README screenshots, or unset to skip them
//   CHROMIUM          browser binary (default /usr/bin/chromium)

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const HA_URL = (process.env.HA_URL || "http://127.0.0.1:8123").replace(/\/$/, "");
export const ARTIFACTS = process.env.E2E_ARTIFACTS || path.join(ROOT, "artifacts", "e2e");
export const DOC_SHOTS = process.env.E2E_DOC_SHOTS || "";
const INTEGRATION = path.join(ROOT, "custom_components", "meetdata");
const BRAND = path.join(INTEGRATION, "brand");

/** English texts of the integration, as the frontend shows them. */
export const EN = JSON.parse(fs.readFileSync(path.join(INTEGRATION, "translations", "en.json"), "utf8"));

/** The simulated providers and their demo accounts (scripts/develop.py's SIMULATORS). */
export function simulatedProviders() {
  const file = process.env.E2E_PROVIDERS;
  if (!file) throw new Error("E2E_PROVIDERS is not set; run the tests through scripts/e2e");
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

/** The owner the onboarding creates. */
export const OWNER = { name: "Meetdata Tester", username: "tester", password: "meetdata-e2e-password" };

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Start Debian's Chromium with a fresh profile and return { context, page, close }.
 *
 * Requests leaving 127.0.0.1 are answered locally: brand images of Meetdata from
 * custom_components/meetdata/brand (so screenshots show our icon, as they will once the
 * brand is published), everything else is refused at once (the tests run offline).
 */
export async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "meetdata-e2e-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
    locale: "en-US",
    timezoneId: "Europe/Amsterdam",
  });
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/]|localhost[:/])/, (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "brands.home-assistant.io" && url.pathname.includes("/meetdata/")) {
      const wanted = path.basename(url.pathname).replace(/^dark_/, "");
      const file = fs.existsSync(path.join(BRAND, wanted)) ? wanted : "icon.png";
      return route.fulfill({ path: path.join(BRAND, file), contentType: "image/png" });
    }
    return route.abort("internetdisconnected");
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  page.setDefaultNavigationTimeout(30_000);
  const consoleErrors = [];
  page.on("pageerror", (err) => consoleErrors.push(String(err)));
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, consoleErrors, close };
}

/**
 * Open a frontend path and wait until the frontend is connected to Home Assistant.
 *
 * A dialog closed just before (from 2026.x a dialog goes back in the browser's history as
 * it closes) can abort the navigation or take the page back: then open the path again.
 */
export async function open(page, urlPath) {
  const wanted = urlPath.split("?")[0];
  for (let attempt = 1; ; attempt++) {
    try {
      await page.goto(HA_URL + urlPath);
      await page.waitForFunction(() => document.querySelector("home-assistant")?.hass?.connected === true);
      await page.waitForTimeout(300);
      if (new URL(page.url()).pathname.startsWith(wanted) || attempt === 3) return;
    } catch (err) {
      if (attempt === 3 || !/ERR_ABORTED|interrupted by another navigation/.test(err.message)) throw err;
    }
  }
}

/** Send one websocket command through the logged-in frontend's connection. */
export async function ws(page, message) {
  return page.evaluate((msg) => document.querySelector("home-assistant").hass.callWS(msg), message);
}

/** Poll `fn` until it returns something truthy; throw `what` after `timeout` ms. */
export async function until(what, fn, { timeout = 60_000, interval = 1_000 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/**
 * Do a UI action and wait for its result, again when the result does not come (a click
 * during a menu's or dialog's animation is sometimes lost).
 */
export async function retry(what, action, result, { attempts = 3, timeout = 5_000, reset } = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      await action();
    } catch (err) {
      // On a later try the first one may have worked after all: then the result is there.
      if (attempt === 1) throw err;
    }
    try {
      return await result(timeout);
    } catch (err) {
      if (attempt === attempts) throw new Error(`${what}: no result after ${attempts} tries (${err.message.split("\n")[0]})`);
      await reset?.();
    }
  }
}

/** Wait (up to `timeout` ms, then go on) until no web animation runs, e.g. a menu opening. */
export async function settle(page, timeout = 3_000) {
  await page
    .waitForFunction(() => document.getAnimations().every((a) => a.playState !== "running"), null, { timeout })
    .catch(() => {});
}

/** Wait (up to `timeout` ms) until `locator`'s box stops moving, e.g. in an opening menu. */
export async function stable(locator, timeout = 5_000) {
  const end = Date.now() + timeout;
  let last = null;
  while (Date.now() < end) {
    const box = await locator.boundingBox();
    if (box && last && ["x", "y", "width", "height"].every((k) => Math.abs(box[k] - last[k]) < 0.5)) return;
    last = box;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** Text of a translation with placeholders: its longest literal part (to find it on screen). */
export function literalPart(text) {
  return text
    .split(/\{[^}]*\}/)
    .map((part) => part.trim())
    .sort((a, b) => b.length - a.length)[0];
}

/**
 * Exact-label form field (HA marks required fields with a trailing "*"). Up to 2025.x a
 * <label> names the input; from 2026.x (ha-input around Web Awesome's wa-input) a slotted
 * label across shadow roots does, which only the accessible name reflects.
 */
export function field(scope, label) {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const name = new RegExp(`^${escaped}\\*?$`);
  return ["textbox", "spinbutton", "combobox"].reduce(
    (any, role) => any.or(scope.getByRole(role, { name })),
    scope.getByLabel(name),
  );
}

/** Save a screenshot of the page (or of `locator`) as an artifact, and as a README picture. */
export async function shot(page, name, { locator, doc } = {}) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const target = locator ?? page;
  const file = path.join(ARTIFACTS, `${name}.png`);
  await target.screenshot({ path: file, animations: "disabled" });
  if (doc && DOC_SHOTS) {
    fs.mkdirSync(DOC_SHOTS, { recursive: true });
    fs.copyFileSync(file, path.join(DOC_SHOTS, `${doc}.png`));
  }
  return file;
}

/**
 * Run a test body; on failure save a screenshot and the page's errors next to it.
 * Returns a function suitable for node:test's `test(name, opts, fn)`.
 */
export function step(state, name, body) {
  return async (t) => {
    if (state.broken) {
      t.skip(`an earlier step failed: ${state.broken}`);
      return;
    }
    const errorsBefore = state.consoleErrors.length;
    try {
      await body(t);
    } catch (err) {
      const slug = name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
      await shot(state.page, `FAILED-${slug}`).catch(() => {});
      const errors = state.consoleErrors.slice(errorsBefore);
      if (errors.length) {
        fs.writeFileSync(path.join(ARTIFACTS, `FAILED-${slug}.txt`), errors.join("\n"));
      }
      throw err;
    }
  };
}
