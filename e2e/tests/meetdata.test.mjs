// Meetdata in a real Home Assistant, driven through its frontend in Chromium.
//
// One Home Assistant (started by scripts/e2e with a fresh config directory, the provider
// simulators and one demo entry per provider) is walked through in order:
//   onboarding -> advanced mode -> per provider: the demo entry's device pages, deleting
//   the demo entry, adding the same account through the config flow (a wrong credential
//   first) -> the Energy dashboard configured with Meetdata statistics, showing bars.
// Adding a provider to scripts/develop.py's SIMULATORS adds it here (see providers.mjs).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { flowOf } from "../providers.mjs";
import { EN, HA_URL, OWNER, field, launch, literalPart, open, retry, settle, shot, simulatedProviders, stable, step, until, ws } from "../lib/ha.mjs";

const PROVIDERS = simulatedProviders();
const FIRST = PROVIDERS[0]?.provider;
const STEP_TIMEOUT = { timeout: 180_000 };
const state = { page: null, consoleErrors: [], broken: null, close: null };

before(async () => {
  const browser = await launch();
  Object.assign(state, browser);
});

after(async () => {
  await state.close?.();
});

/** A step whose failure makes the following steps pointless. */
function required(name, body) {
  return test(name, STEP_TIMEOUT, async (t) => {
    try {
      await step(state, name, body)(t);
    } catch (err) {
      state.broken = name;
      throw err;
    }
  });
}

/** A step whose failure is reported but lets the others run. */
function check(name, body) {
  return test(name, STEP_TIMEOUT, step(state, name, body));
}

async function entryOf(sim) {
  const entries = await ws(state.page, { type: "config_entries/get", domain: "meetdata" });
  return entries.find((e) => e.title === sim.title) ?? null;
}

/** Devices of an entry that have enabled, visible entities, with those entities' registry rows. */
async function devicesWithEntities(entryId) {
  const page = state.page;
  const [devices, entities] = await Promise.all([
    ws(page, { type: "config/device_registry/list" }),
    ws(page, { type: "config/entity_registry/list" }),
  ]);
  return devices
    .filter((d) => d.config_entries.includes(entryId))
    .map((device) => ({
      device,
      entities: entities.filter((e) => e.device_id === device.id && !e.disabled_by && !e.hidden_by),
    }))
    .filter((d) => d.entities.length);
}

/** Wait until every enabled entity of the entry has a state that is not unavailable/unknown. */
async function waitForValues(entryId) {
  let missing = [];
  return until(`the entities of entry ${entryId} to have values`, async () => {
    const devices = await devicesWithEntities(entryId);
    if (!devices.length) return false;
    const states = await state.page.evaluate(() => document.querySelector("home-assistant").hass.states);
    missing = devices
      .flatMap((d) => d.entities)
      .filter((e) => !states[e.entity_id] || ["unavailable", "unknown"].includes(states[e.entity_id].state))
      .map((e) => `${e.entity_id}=${states[e.entity_id]?.state}`);
    return missing.length ? false : devices;
  }, { timeout: 90_000, interval: 2_000 }).catch((err) => {
    throw new Error(`${err.message}; without a value: ${missing.join(", ") || "(no devices with entities)"}`);
  });
}

/** Name and shown value of every entity row on the page (rows render in shadow DOM). */
async function entityRows() {
  return state.page.locator("hui-generic-entity-row").evaluateAll((rows) => {
    const deep = (node) => {
      if (node.nodeType === Node.TEXT_NODE) return node.data;
      if (node.nodeType !== Node.ELEMENT_NODE || node.tagName === "STYLE") return "";
      if (node.tagName === "SLOT") return node.assignedNodes({ flatten: true }).map(deep).join(" ");
      return Array.from((node.shadowRoot ?? node).childNodes).map(deep).join(" ");
    };
    return rows.map((row) => {
      const name = row.shadowRoot?.querySelector(".info")?.getAttribute("title") ?? "";
      const text = deep(row).replace(/\s+/g, " ").trim();
      return { name, value: text.startsWith(name) ? text.slice(name.length).trim() : text };
    });
  });
}

/** A timestamp row shows relative time: "5 seconds ago", "in 3 hours", "Yesterday", "Today". */
const RELATIVE_TIME = /\d|now|today|yesterday|tomorrow|ago|^in /i;

/** Open a device page and check every entity row shows its name and its current value. */
async function checkDevicePage({ device, entities }, shotName, doc) {
  const page = state.page;
  await open(page, `/config/devices/device/${device.id}`);
  await page.getByText(device.name_by_user || device.name, { exact: true }).first().waitFor();
  for (const entity of entities) {
    const name = entity.name || entity.original_name || device.name_by_user || device.name;
    let seen = [];
    await until(`the row of ${entity.entity_id} ("${name}") to show its state`, async () => {
      const expected = await page.evaluate((id) => {
        const hass = document.querySelector("home-assistant").hass;
        const st = hass.states[id];
        return st && { text: hass.formatEntityState(st), timestamp: st.attributes.device_class === "timestamp", state: st.state };
      }, entity.entity_id);
      seen = (await entityRows()).filter((row) => row.name === name).map((row) => row.value);
      if (!expected || ["unavailable", "unknown"].includes(expected.state)) return false;
      // A timestamp shows relative ("5 seconds ago"); anything else exactly as formatted.
      return seen.some((value) => (expected.timestamp ? RELATIVE_TIME.test(value) : value === expected.text));
    }, { timeout: 20_000, interval: 500 }).catch((err) => {
      throw new Error(`${err.message}; rows named "${name}" show ${JSON.stringify(seen)}`);
    });
  }
  await shot(page, shotName, { doc });
}

/** The current step id of the open config flow dialog (falls back to `fallback`). */
async function currentStepId(fallback) {
  const id = await state.page
    .locator("dialog-data-entry-flow")
    .evaluate((el) => el._step?.step_id ?? null)
    .catch(() => null);
  return id || fallback;
}

/** Fill one config flow form with `values` ({field: value}) using the translated labels. */
async function fillForm(provider, values) {
  const page = state.page;
  const stepId = await currentStepId(provider);
  const labels = EN.config.step[stepId]?.data ?? {};
  for (const [key, value] of Object.entries(values)) {
    const label = labels[key];
    assert.ok(label, `no English label for field "${key}" of step "${stepId}"`);
    const input = field(page.locator("dialog-data-entry-flow"), label);
    if (value && typeof value === "object" && "option" in value) {
      const optionLabel = EN.selector?.[value.selector]?.options?.[value.option];
      assert.ok(optionLabel, `no English label for option "${value.option}" of selector "${value.selector}"`);
      const radio = page.locator("dialog-data-entry-flow").getByRole("radio", { name: optionLabel, exact: true });
      if (!(await radio.first().isChecked())) await radio.first().check();
    } else if (typeof value === "boolean") {
      const toggle = page.locator("dialog-data-entry-flow").getByRole("switch", { name: label }).or(
        page.locator("dialog-data-entry-flow").getByRole("checkbox", { name: label }),
      );
      if ((await toggle.first().isChecked()) !== value) await toggle.first().click();
    } else {
      await input.first().fill(Array.isArray(value) ? value.join("\n") : String(value));
    }
  }
}

async function submit() {
  await state.page.locator("dialog-data-entry-flow").getByRole("button", { name: "Submit" }).click();
}

// ---------------------------------------------------------------------------------------

required("onboarding: the owner is created through the UI", async () => {
  const page = state.page;
  await page.goto(`${HA_URL}/`);
  await page.getByRole("button", { name: "Create my smart home" }).click();
  await field(page, "Name").fill(OWNER.name);
  await field(page, "Username").fill(OWNER.username);
  await field(page, "Password").fill(OWNER.password);
  await field(page, "Confirm password").fill(OWNER.password);
  await shot(page, "01-onboarding-user");
  await page.getByRole("button", { name: "Create account" }).click();
  // Home location: the default. Country: the Netherlands (metric units, m³ gas).
  await page.getByRole("button", { name: "Next" }).click();
  const country = page.getByRole("combobox", { name: /Country/ });
  await country.waitFor();
  await country.click();
  await page.getByRole("option", { name: "Netherlands", exact: true }).click();
  await page.getByRole("button", { name: "Next" }).click();
  // Analytics, discovered integrations: accept the defaults.
  for (let i = 0; i < 4 && page.url().includes("onboarding"); i++) {
    const next = page.getByRole("button", { name: /^(Next|Finish)$/ }).first();
    await next.click({ timeout: 10_000 }).catch(() => {});
    await page.waitForTimeout(1_000);
  }
  await page.waitForURL((url) => !url.pathname.includes("onboarding"), { timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector("home-assistant")?.hass?.user?.is_owner === true);
  await page.getByText(OWNER.name, { exact: true }).first().waitFor();
  await shot(page, "02-onboarded");
});

required("profile: advanced mode is switched on (for the base URL fields)", async () => {
  const page = state.page;
  await open(page, "/profile/general");
  const row = page.locator("ha-settings-row", { hasText: "Advanced mode" });
  const toggle = row.getByRole("switch");
  if (!(await toggle.isChecked())) await toggle.click();
  await until("advanced mode to be stored", async () => {
    const data = await ws(page, { type: "frontend/get_user_data", key: "core" });
    return data.value?.showAdvanced === true;
  }, { timeout: 10_000, interval: 300 });
});

for (const sim of PROVIDERS) {
  const { provider } = sim;
  const flow = flowOf(sim);
  const doc = provider === FIRST;

  check(`${provider}: the demo entry's device pages show entities with values`, async () => {
    const entry = await until(`the ${provider} demo entry "${sim.title}"`, () => entryOf(sim), { timeout: 30_000 });
    await until(`the ${provider} demo entry to load`, async () => (await entryOf(sim))?.state === "loaded", { timeout: 60_000 });
    const devices = await waitForValues(entry.entry_id);
    for (const [i, device] of devices.entries()) {
      await checkDevicePage(device, `${provider}-demo-device-${i + 1}`, doc && i === 0 ? "device" : undefined);
    }
  });

  check(`${provider}: the demo entry is deleted through the UI`, async () => {
    const page = state.page;
    await open(page, "/config/integrations/integration/meetdata");
    // The row is drawn again once its device and entity counts arrive: wait for those.
    const row = page.locator("ha-md-list-item, ha-list-item").filter({ hasText: sim.title }).filter({ hasText: /entit/ });
    await row.first().waitFor();
    const confirm = page.locator("dialog-box").getByRole("button", { name: "Delete" });
    let tries = 0;
    let confirmed = false;
    try {
      await retry(
        "the delete confirmation",
        async () => {
          tries += 1;
          await row.first().locator("ha-md-button-menu, ha-button-menu").first().locator("ha-icon-button").first().click();
          const item = page.getByRole("menuitem", { name: "Delete" }).filter({ visible: true }).first();
          await item.waitFor({ timeout: 5_000 });
          // A click while the menu still opens lands where the item is not yet.
          await settle(page);
          await stable(item);
          await item.click({ timeout: 5_000 });
        },
        (timeout) => confirm.waitFor({ timeout }),
        {
          // The first confirmation dialog loads its code first: on a busy machine that takes a while.
          timeout: 20_000,
          reset: async () => {
            await shot(page, `${provider}-delete-try-${tries}`).catch(() => {});
            await page.keyboard.press("Escape");
            await page.getByRole("menuitem", { name: "Delete" }).filter({ visible: true }).first().waitFor({ state: "hidden", timeout: 5_000 }).catch(() => {});
            await settle(page);
          },
        },
      );
      await confirm.click();
      confirmed = true;
    } finally {
      // So that the config flow step can still add the account: delete it through the API.
      const left = confirmed ? null : await entryOf(sim).catch(() => null);
      if (left) {
        await page.keyboard.press("Escape").catch(() => {});
        await page.evaluate((id) => document.querySelector("home-assistant").hass.callApi("DELETE", `config/config_entries/entry/${id}`), left.entry_id);
      }
    }
    await until(`the ${provider} demo entry to be gone`, async () => !(await entryOf(sim)), { timeout: 20_000, interval: 500 });
  });

  check(`${provider}: the config flow shows a wrong credential in the form, then creates the entry`, async () => {
    const page = state.page;
    await open(page, "/config/integrations/dashboard");
    const known = new Set((await ws(page, { type: "config_entries/get", domain: "meetdata" })).map((e) => e.entry_id));
    const picker = page.locator("dialog-add-integration");
    await retry(
      "the add-integration dialog",
      () => page.getByRole("button", { name: /Add integration/i }).first().click(),
      (timeout) => picker.getByLabel(/Search/i).first().waitFor({ timeout }),
    );
    await picker.getByLabel(/Search/i).first().fill("Meetdata");
    await picker.getByText("Meetdata", { exact: true }).first().click();
    const dialog = page.locator("dialog-data-entry-flow");
    const menuOption = dialog.getByText(EN.config.step.user.menu_options[provider], { exact: true });
    await retry(
      `the ${provider} form`,
      () => menuOption.click(),
      (timeout) => dialog.getByRole("button", { name: "Submit" }).waitFor({ timeout }),
    );

    await fillForm(provider, flow.wrong);
    await submit();
    const shown = flow.errors.map((key) => {
      assert.ok(EN.config.error[key], `no English text for error "${key}"`);
      return dialog.getByText(literalPart(EN.config.error[key]));
    });
    await shown.reduce((any, one) => any.or(one)).first().waitFor({ timeout: 30_000 });
    await shot(page, `${provider}-flow-wrong-credential`, {
      locator: dialog.locator("ha-dialog, ha-md-dialog").first().locator(".mdc-dialog__surface, [part=dialog]").first(),
      doc: doc ? "config_flow" : undefined,
    }).catch(() => shot(page, `${provider}-flow-wrong-credential`, { doc: doc ? "config_flow" : undefined }));

    for (const [i, values] of flow.forms.entries()) {
      await fillForm(provider, values);
      await submit();
      const next = flow.forms[i + 1];
      if (next) {
        // The next form of a multi-form flow: wait until its first field is there, empty.
        const [key] = Object.keys(next);
        await until(`the next ${provider} form (field "${key}")`, async () => {
          const label = EN.config.step[await currentStepId(provider)]?.data?.[key];
          const input = label && field(dialog, label).first();
          return Boolean(input) && (await input.isVisible()) && (await input.inputValue()) === "";
        }, { timeout: 30_000, interval: 300 });
      }
    }
    const created = dialog.getByText("Created configuration for", { exact: false });
    const aborted = Object.values(EN.config.abort ?? {}).map((text) => dialog.getByText(literalPart(text)));
    await [created, ...aborted].reduce((any, one) => any.or(one)).first().waitFor({ timeout: 60_000 });
    if (!(await created.count())) {
      const text = await dialog.evaluate((el) => el.shadowRoot?.textContent ?? "").catch(() => "");
      throw new Error(`the ${provider} flow ended without an entry: ${text.replace(/\s+/g, " ").trim().slice(0, 200)}`);
    }
    await shot(page, `${provider}-flow-created`);
    await dialog.getByRole("button", { name: "Finish" }).click();
    const entry = await until(`the ${provider} entry from the flow to load`, async () => {
      const entries = await ws(page, { type: "config_entries/get", domain: "meetdata" });
      const created = entries.find((e) => !known.has(e.entry_id));
      return created?.state === "loaded" ? created : false;
    }, { timeout: 60_000 });
    assert.equal(entry.title, sim.title, "the demo entry in scripts/develop.py should carry the title the flow gives");
    const devices = await waitForValues(entry.entry_id);
    await checkDevicePage(devices[0], `${provider}-flow-device`);
  });
}

check("energy: the Energy dashboard, configured with Meetdata statistics through the UI, shows bars", async () => {
  const page = state.page;
  const stats = await until("Meetdata energy statistics", async () => {
    const ids = await ws(page, { type: "recorder/list_statistic_ids", statistic_type: "sum" });
    const ours = ids.filter((s) => s.source === "meetdata");
    return ours.some((s) => s.statistic_id.endsWith("_energy_import")) ? ours : false;
  }, { timeout: 120_000, interval: 2_000 });
  // One consumption (and return) statistic per provider, one solar and one gas statistic.
  const perProvider = (suffix) =>
    PROVIDERS.map((p) => stats.find((s) => s.statistic_id.startsWith(`meetdata:${p.provider}_`) && s.statistic_id.endsWith(suffix))).filter(Boolean);
  const wanted = [
    ...perProvider("_energy_import").map((s) => ["Add consumption", "Consumed energy", s]),
    ...perProvider("_energy_export").map((s) => ["Add return", "Energy returned to the grid", s]),
    ...stats.filter((s) => s.statistic_id.endsWith("_production")).slice(0, 1).map((s) => ["Add solar production", "Solar production energy", s]),
    ...stats.filter((s) => s.statistic_id.endsWith("_gas_volume")).slice(0, 1).map((s) => ["Add gas source", "Gas usage", s]),
  ];

  await open(page, "/config/energy");
  for (const [button, picker, stat] of wanted) {
    const combo = page.getByRole("combobox", { name: picker });
    // The previous dialog may still be closing; a click then opens nothing: try again.
    await retry(
      `"${button}" opening its dialog`,
      () => page.getByRole("button", { name: new RegExp(button, "i") }).first().click(),
      (timeout) => combo.waitFor({ timeout }),
    );
    await combo.click();
    await combo.fill(stat.name);
    await page.getByRole("option").filter({ hasText: stat.statistic_id }).first().click();
    await page.getByRole("button", { name: "Save" }).click();
    await combo.waitFor({ state: "detached" });
    await page.getByText(stat.name, { exact: true }).first().waitFor();
  }
  const prefs = await ws(page, { type: "energy/get_prefs" });
  const grid = prefs.energy_sources.find((s) => s.type === "grid");
  assert.ok(grid?.flow_from.some((f) => f.stat_energy_from.startsWith("meetdata:")), JSON.stringify(prefs));
  await shot(page, "energy-settings");

  // Yesterday: a complete day of hourly statistics (today may have none yet after midnight).
  await open(page, "/energy");
  const chart = page.locator("hui-energy-usage-graph-card ha-chart-base").first();
  await chart.waitFor();
  await page.getByRole("button", { name: /previous/i }).first().click();
  const bars = await until("bars in the energy usage chart", async () => {
    const series = await chart.evaluate((el) =>
      (el.data ?? []).map((s) => ({
        id: s.id,
        name: s.name,
        type: s.type,
        positive: (s.data ?? []).filter((p) => Math.abs(Number((p?.value ?? p)?.[1] ?? 0)) > 0).length,
      })),
    );
    const ours = series.filter((s) => s.type === "bar" && String(s.id).startsWith("meetdata:") && s.positive > 0);
    return ours.length ? ours : false;
  }, { timeout: 30_000, interval: 1_000 });
  assert.ok(bars.some((s) => s.id.endsWith("_energy_import")), JSON.stringify(bars));
  const importName = perProvider("_energy_import")[0].name;
  await page.locator("hui-energy-sources-table-card").getByText(importName).first().waitFor();
  await page.waitForTimeout(1_000); // let the chart's entry animation finish
  await shot(page, "energy-dashboard", { doc: "energy_dashboard" });
});
