// Meetdata in a real Home Assistant, driven through its frontend in Chromium.
//
// One Home Assistant (started by scripts/e2e with a fresh config directory, the provider
// simulators and one demo entry per provider) is walked through in order:
//   onboarding -> advanced mode (2025.x) -> per provider: the demo entry's device pages,
//   deleting the demo entry, adding the same account through the config flow (a wrong
//   credential first) -> the Energy dashboard configured with Meetdata statistics, showing
//   bars -> (2026.x) grid power from Meetdata beside them, the dashboard showing bars and power
//   -> one meter's two tariffs as two grid sources -> the monthly capacity peak in a statistics graph
//   -> prices in the options, a grid connection with its cost statistics, costs in the dashboard.
// The same steps run on Home Assistant 2026.11 (scripts/e2e) and 2025.4 (scripts/e2e --ha 2025.4):
// where their frontends differ, a step takes either form.
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

/**
 * Whether an entity shows a value. Fluvius publishes a day's values during the next
 * day, so right after midnight (Brussels) its "yesterday" sensors are rightly unknown.
 */
function hasValue(entityId, value) {
  if (value === undefined || value === "unavailable") return false;
  return value !== "unknown" || /_yesterday$/.test(entityId);
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
      .filter((e) => !hasValue(e.entity_id, states[e.entity_id]?.state))
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
      if (!expected || !hasValue(entity.entity_id, expected.state)) return false;
      // A timestamp shows relative ("5 seconds ago"); anything else exactly as formatted
      // (but for white space: 2026.x formats "1,482.615\u00a0kWh").
      const text = expected.text.replace(/\s+/g, " ").trim();
      return seen.some((value) => (expected.timestamp ? RELATIVE_TIME.test(value) : value === text));
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

/** English label of a form field, and the name of the (collapsible) section holding it. */
function labelOf(stepId, key) {
  const step = EN.config.step[stepId] ?? {};
  if (step.data?.[key]) return { label: step.data[key] };
  for (const [name, section] of Object.entries(step.sections ?? {})) {
    if (section.data?.[key]) return { label: section.data[key], section: section.name ?? name };
  }
  return {};
}

/** Fill one config flow form with `values` ({field: value}) using the translated labels. */
async function fillForm(provider, values) {
  const page = state.page;
  const dialog = page.locator("dialog-data-entry-flow");
  const stepId = await currentStepId(provider);
  for (const [key, value] of Object.entries(values)) {
    const { label, section } = labelOf(stepId, key);
    assert.ok(label, `no English label for field "${key}" of step "${stepId}"`);
    const input = field(dialog, label);
    if (section && !(await input.first().isVisible())) {
      // A collapsed section (e.g. "Advanced settings"): open it.
      await retry(
        `the section "${section}" opening`,
        () => dialog.getByRole("button", { name: section }).or(dialog.getByText(section, { exact: true })).first().click(),
        (timeout) => input.first().waitFor({ timeout }),
      );
    }
    if (value && typeof value === "object" && "option" in value) {
      const optionLabel = EN.selector?.[value.selector]?.options?.[value.option];
      assert.ok(optionLabel, `no English label for option "${value.option}" of selector "${value.selector}"`);
      const radio = page.locator("dialog-data-entry-flow").getByRole("radio", { name: optionLabel, exact: true });
      if (!(await radio.first().isChecked())) await radio.first().check();
    } else if (typeof value === "boolean") {
      const toggle = page.locator("dialog-data-entry-flow").getByRole("switch", { name: label }).or(
        page.locator("dialog-data-entry-flow").getByRole("checkbox", { name: label }),
      );
      // force: in 2026.x the switch's own drawing lies over its input.
      await toggle.first().setChecked(value, { force: true });
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
  // Up to 2025.x a combo box; from 2026.x a button opening a picker with a search field
  // and a virtual list (options named "Netherlands NL").
  const country = page.getByRole("combobox", { name: /Country/ }).or(page.getByRole("button", { name: /^Country/ }));
  await country.first().waitFor();
  await country.first().click();
  const search = page.getByRole("dialog", { name: /Country/ }).getByPlaceholder("Search");
  if (await search.isVisible({ timeout: 2_000 }).catch(() => false)) await search.fill("Netherlands");
  await page.getByRole("option", { name: /^Netherlands( NL)?$/ }).first().click();
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

required("profile: advanced mode is switched on where the frontend has it (2025.x)", async (t) => {
  const page = state.page;
  await open(page, "/profile/general");
  const row = page.locator("ha-settings-row", { hasText: "Advanced mode" });
  // The 2026.x frontend has no advanced mode; the base URL fields are in a collapsed section.
  if (!(await row.first().waitFor({ timeout: 10_000 }).then(() => true, () => false))) {
    t.diagnostic("this frontend has no advanced mode");
    return;
  }
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
    // 2026.x: one ha-config-entry-row per entry, its devices (with entity counts) below it.
    const row = page
      .locator("ha-config-entry-row")
      .filter({ hasText: sim.title })
      .filter({ hasText: /entit/ })
      .or(page.locator("ha-md-list-item, ha-list-item").filter({ hasText: sim.title }).filter({ hasText: /entit/ }));
    await row.first().waitFor();
    const confirm = page.locator("dialog-box").getByRole("button", { name: "Delete" });
    let tries = 0;
    let confirmed = false;
    try {
      await retry(
        "the delete confirmation",
        async () => {
          tries += 1;
          await row.first().locator("ha-md-button-menu, ha-button-menu, ha-dropdown").first().locator("ha-icon-button").first().click();
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
      await confirm.waitFor({ state: "hidden" });
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
    // The search field: labelled up to 2025.x, only a placeholder from 2026.x.
    const search = picker.getByLabel(/Search/i).or(picker.getByPlaceholder(/Search/i)).first();
    await retry(
      "the add-integration dialog",
      () => page.getByRole("button", { name: /Add integration/i }).first().click(),
      (timeout) => search.waitFor({ timeout }),
    );
    await search.fill("Meetdata");
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
    // The entry is created: "Created configuration for ..." up to 2025.x, "Name and assign"
    // (the new devices, their names and areas) from 2026.x.
    const created = dialog.getByText("Created configuration for", { exact: false }).or(dialog.getByText("Name and assign", { exact: true }));
    const aborted = Object.values(EN.config.abort ?? {}).map((text) => dialog.getByText(literalPart(text)));
    await [created, ...aborted].reduce((any, one) => any.or(one)).first().waitFor({ timeout: 60_000 });
    if (!(await created.count())) {
      const text = await dialog.evaluate((el) => el.shadowRoot?.textContent ?? "").catch(() => "");
      throw new Error(`the ${provider} flow ended without an entry: ${text.replace(/\s+/g, " ").trim().slice(0, 200)}`);
    }
    await shot(page, `${provider}-flow-created`);
    await dialog.getByRole("button", { name: /^(Finish|Skip and finish)$/ }).click();
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

const escapeRe = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Meetdata's statistics with a running sum (energy, gas): the ones the Energy dashboard takes. */
async function meetdataSumStatistics() {
  return until("Meetdata energy statistics", async () => {
    const ids = await ws(state.page, { type: "recorder/list_statistic_ids", statistic_type: "sum" });
    const ours = ids.filter((s) => s.source === "meetdata");
    return ours.some((s) => s.statistic_id.endsWith("_energy_import")) ? ours : false;
  }, { timeout: 120_000, interval: 2_000 });
}

/** The grid sources of the energy preferences, as {from: [ids], to: [ids], rate: [ids]} per source. */
function gridSources(prefs) {
  return prefs.energy_sources
    .filter((s) => s.type === "grid")
    .map((s) => ({
      // 2026.x: one import/export pair (and power) per grid connection; up to 2025.x: lists.
      from: [s.stat_energy_from, ...(s.flow_from ?? []).map((f) => f.stat_energy_from)].filter(Boolean),
      to: [s.stat_energy_to, ...(s.flow_to ?? []).map((f) => f.stat_energy_to)].filter(Boolean),
      rate: [s.stat_rate, s.power_config?.stat_rate, ...(s.power ?? []).map((p) => p.stat_rate)].filter(Boolean),
    }));
}

/**
 * 2026.x statistic picker: the button labelled `label` in `scope` opens a dialog with a
 * search field and a virtual list; pick the option named `optionName` (exactly). Search
 * for the statistic or entity id: its fuzzy search misses long names of external statistics.
 */
async function pickStatistic(scope, label, search, optionName) {
  const page = state.page;
  const picker = page.getByRole("dialog", { name: label, exact: true });
  const searchField = picker.getByPlaceholder("Search");
  await retry(
    `the "${label}" picker`,
    () => scope.getByRole("button", { name: new RegExp(`^${escapeRe(label)}\\b`) }).first().click(),
    (timeout) => searchField.waitFor({ timeout }),
  );
  await searchField.fill(search);
  await picker.getByRole("option", { name: optionName, exact: true }).first().click();
  await scope.getByRole("button", { name: new RegExp(`^${escapeRe(label)} ${escapeRe(optionName)}`) }).first().waitFor();
}

/** How the 2026.x pickers name an external statistic: "<name> <integration>". */
const externalOption = (stat) => `${stat.name} Meetdata`;

/** Open a 2026.x energy settings dialog with `button`, fill it with `fill(dialog)`, save it. */
async function energyDialog(button, tag, fill) {
  const page = state.page;
  const dialog = page.locator(tag);
  const save = dialog.getByRole("button", { name: "Save" });
  // The previous dialog may still be closing; a click then opens nothing: try again.
  await retry(`"${button}" opening its dialog`, () => page.getByRole("button", { name: button, exact: true }).first().click(), (timeout) => save.waitFor({ timeout }));
  await fill(dialog);
  await save.click();
  await save.waitFor({ state: "hidden" });
}

/** Up to 2025.x: one dialog per statistic, a combo box named `picker`, options showing the id. */
async function configureEnergy2025(page, wanted) {
  for (const [button, picker, stat] of wanted) {
    const combo = page.getByRole("combobox", { name: picker });
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
}

check("energy: the Energy dashboard, configured with Meetdata statistics through the UI, shows bars", async () => {
  const page = state.page;
  const stats = await meetdataSumStatistics();
  // One consumption (and return) statistic per provider, one solar and one gas statistic.
  const perProvider = (suffix) =>
    PROVIDERS.map((p) => stats.find((s) => s.statistic_id.startsWith(`meetdata:${p.provider}_`) && s.statistic_id.endsWith(suffix))).filter(Boolean);
  const imports = perProvider("_energy_import");
  const exportOf = (stat) => stats.find((s) => s.statistic_id === stat.statistic_id.replace(/_energy_import$/, "_energy_export"));
  const solar = stats.filter((s) => s.statistic_id.endsWith("_production")).slice(0, 1);
  const gas = stats.filter((s) => s.statistic_id.endsWith("_gas_volume")).slice(0, 1);

  await open(page, "/config/energy");
  const gridConnections = page.getByRole("button", { name: "Add grid connection", exact: true });
  const consumption = page.getByRole("button", { name: /Add consumption/i });
  await gridConnections.or(consumption).first().waitFor();
  if (await gridConnections.count()) {
    // 2026.x: a grid connection per import/export pair; gas on its own tab.
    for (const from of imports) {
      const to = exportOf(from);
      await energyDialog("Add grid connection", "dialog-energy-grid-settings", async (dialog) => {
        await pickStatistic(dialog, "Energy imported from grid", from.statistic_id, externalOption(from));
        if (to) await pickStatistic(dialog, "Energy exported to grid", to.statistic_id, externalOption(to));
      });
      await page.locator("ha-energy-grid-settings .row").filter({ hasText: from.name }).first().waitFor();
    }
    for (const stat of solar) {
      await energyDialog("Add solar production", "dialog-energy-solar-settings", (dialog) =>
        pickStatistic(dialog, "Solar production energy", stat.statistic_id, externalOption(stat)),
      );
    }
    if (gas.length) await open(page, "/config/energy/gas");
    for (const stat of gas) {
      await energyDialog("Add gas source", "dialog-energy-gas-settings", (dialog) =>
        pickStatistic(dialog, "Gas consumption", stat.statistic_id, externalOption(stat)),
      );
    }
  } else {
    await configureEnergy2025(page, [
      ...imports.map((s) => ["Add consumption", "Consumed energy", s]),
      ...imports.map(exportOf).filter(Boolean).map((s) => ["Add return", "Energy returned to the grid", s]),
      ...solar.map((s) => ["Add solar production", "Solar production energy", s]),
      ...gas.map((s) => ["Add gas source", "Gas usage", s]),
    ]);
  }
  const prefs = await ws(page, { type: "energy/get_prefs" });
  const grids = gridSources(prefs);
  for (const stat of imports) {
    assert.ok(grids.some((g) => g.from.includes(stat.statistic_id)), `${stat.statistic_id} is no grid import: ${JSON.stringify(prefs)}`);
  }
  await open(page, "/config/energy");
  await page.getByText(imports[0].name, { exact: true }).first().waitFor();
  await shot(page, "energy-settings");

  // Yesterday: a complete day of hourly statistics (today may have none yet after midnight).
  await open(page, "/energy");
  const bars = await yesterdaysBars();
  // Series ids: the statistic id, from 2026.x with a suffix ("...-from_grid").
  assert.ok(bars.some((s) => /_energy_import(-from_grid)?$/.test(s.id)), JSON.stringify(bars));
  // 2026.x names the table's rows after the grid ("Grid total"); up to 2025.x after the statistic.
  await page.locator("hui-energy-sources-table-card").getByText(imports[0].name).or(page.locator("hui-energy-sources-table-card").getByText(/Grid total/)).first().waitFor();
  await page.waitForTimeout(1_000); // let the chart's entry animation finish
  await shot(page, "energy-dashboard", { doc: "energy_dashboard" });
});

/** Go to yesterday on the open Energy dashboard and return Meetdata's bar series with values. */
async function yesterdaysBars() {
  const page = state.page;
  const chart = page.locator("hui-energy-usage-graph-card ha-chart-base").first();
  await chart.waitFor();
  const day = page.locator("hui-energy-date-selection-card, hui-energy-period-selector").first();
  const before = await day.innerText().catch(() => "");
  await page.getByRole("button", { name: /previous/i }).first().click();
  await until("the dashboard to show yesterday", async () => (await day.innerText().catch(() => "")) !== before, { timeout: 10_000, interval: 250 }).catch(() => {});
  return until("bars in the energy usage chart", async () => {
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
}

check("energy: grid power from Meetdata beside its energy statistics (2026.x), the dashboard shows bars and power", async (t) => {
  const page = state.page;
  await open(page, "/config/energy/electricity");
  // 2026.x: grid connections (import, export and power together); 2025.x: no grid power.
  const gridConnections = page.getByRole("button", { name: "Add grid connection", exact: true });
  await gridConnections.or(page.getByRole("button", { name: /Add consumption/i })).first().waitFor();
  if (!(await gridConnections.count())) {
    t.skip("this Home Assistant's Energy settings take no grid power");
    return;
  }
  // Where a grid connection imports a Meetdata meter, its power goes with it:
  //  - CEMM's P1 meter: its live net power sensor (positive = from the grid), and
  //  - a meter with imported power history (DTL's transfer point): that statistic, which
  //    fills a whole day of the power graph.
  const prefs = await ws(page, { type: "energy/get_prefs" });
  const means = await ws(page, { type: "recorder/list_statistic_ids", statistic_type: "mean" });
  const entities = await ws(page, { type: "config/entity_registry/list" });
  const devices = await ws(page, { type: "config/device_registry/list" });
  const states = await page.evaluate(() => document.querySelector("home-assistant").hass.states);
  const sums = await meetdataSumStatistics();
  const cemm = (await ws(page, { type: "config_entries/get", domain: "meetdata" })).find((e) => e.title === PROVIDERS.find((p) => p.provider === "cemm")?.title);
  const wanted = [];
  for (const source of gridSources(prefs)) {
    const from = source.from.find((id) => id.startsWith("meetdata:"));
    if (!from || source.rate.length) continue;
    const importStat = sums.find((s) => s.statistic_id === from);
    const history = means.find((m) => m.source === "meetdata" && m.statistic_id === from.replace(/_energy_import$/, "_power"));
    if (history) {
      wanted.push({ importStat, id: history.statistic_id, option: externalOption(history), search: history.statistic_id });
      continue;
    }
    if (cemm && from.startsWith("meetdata:cemm_")) {
      const meter = from.replace(/^meetdata:cemm_[0-9a-f]+_/, "").replace(/_energy_import$/, ""); // "p1"
      const sensor = entities.find((e) => {
        const device = devices.find((d) => d.id === e.device_id);
        return (
          e.config_entry_id === cemm.entry_id &&
          states[e.entity_id]?.attributes.device_class === "power" &&
          device && (device.name_by_user || device.name).toLowerCase().endsWith(` ${meter}`)
        );
      });
      if (sensor) {
        const device = devices.find((d) => d.id === sensor.device_id);
        const name = sensor.name || sensor.original_name;
        wanted.push({ importStat, id: sensor.entity_id, option: `${name} ${device.name_by_user || device.name}`, search: sensor.entity_id });
      }
    }
  }
  assert.ok(wanted.some((w) => w.id.startsWith("sensor.")), `no CEMM power sensor for a grid connection: ${JSON.stringify(gridSources(prefs))}`);
  for (const power of wanted) {
    const row = page.locator("ha-energy-grid-settings .row").filter({ hasText: power.importStat.name }).first();
    const dialog = page.locator("dialog-energy-grid-settings");
    const save = dialog.getByRole("button", { name: "Save" });
    await retry(`the grid connection of ${power.importStat.name} opening`, () => row.getByRole("button", { name: "Edit grid connection" }).click(), (timeout) => save.waitFor({ timeout }));
    // "Standard": one sensor, positive when taking from the grid (Meetdata's "power").
    await dialog.getByRole("radio", { name: "Standard", exact: true }).check({ force: true });
    await pickStatistic(dialog, "Power measurement", power.search, power.option);
    await save.click();
    await save.waitFor({ state: "hidden" });
  }
  const rates = gridSources(await ws(page, { type: "energy/get_prefs" })).flatMap((g) => g.rate);
  for (const power of wanted) assert.ok(rates.includes(power.id), `${power.id} is no grid power: ${rates}`);
  await shot(page, "energy-settings-power");

  // "Now": the live power.
  await open(page, "/energy/now");
  await page.locator("hui-power-sources-graph-card ha-chart-base").first().waitFor();
  await page.waitForTimeout(1_000);
  await shot(page, "energy-now");

  // The overview of yesterday: the energy bars and, from the imported history, the power.
  await open(page, "/energy");
  await yesterdaysBars();
  const powerChart = page.locator("hui-power-sources-graph-card ha-chart-base").first();
  await powerChart.waitFor();
  const curves = await until("a power curve in the power sources graph", async () => {
    const series = await powerChart.evaluate((el) =>
      (el.data ?? []).map((s) => ({ id: s.id, name: s.name, points: (s.data ?? []).filter((p) => Number((p?.value ?? p)?.[1] ?? 0) !== 0).length })),
    );
    const drawn = series.filter((s) => s.points > 0);
    return drawn.length ? drawn : false;
  }, { timeout: 30_000, interval: 1_000 });
  t.diagnostic(`power series: ${JSON.stringify(curves)}`);
  await page.waitForTimeout(1_000); // let the charts' entry animation finish
  await shot(page, "energy-dashboard-power", { doc: "energy_dashboard_power" });
});

/** A provider's tariff statistics of import (and export): low/normal (NL) or night/day (BE). */
function tariffPairs(stats) {
  const ids = new Set(stats.map((s) => s.statistic_id));
  const byId = (id) => stats.find((s) => s.statistic_id === id);
  for (const [first, second] of [["low", "normal"], ["night", "day"]]) {
    const low = stats.find((s) => s.statistic_id.endsWith(`_energy_import_${first}`));
    if (!low) continue;
    const prefix = low.statistic_id.slice(0, -`_energy_import_${first}`.length);
    const other = `${prefix}_energy_import_${second}`;
    if (!ids.has(other)) continue;
    return [first, second].map((tariff) => ({
      tariff,
      from: byId(`${prefix}_energy_import_${tariff}`),
      to: byId(`${prefix}_energy_export_${tariff}`),
    }));
  }
  return null;
}

check("energy: a meter's two tariffs as two grid sources, both drawn in the dashboard", async () => {
  const page = state.page;
  const stats = await meetdataSumStatistics();
  const pairs = await until("tariff statistics (low/normal or night/day)", async () => tariffPairs(await meetdataSumStatistics()), { timeout: 120_000, interval: 2_000 });
  await open(page, "/config/energy");
  const gridConnections = page.getByRole("button", { name: "Add grid connection", exact: true });
  await gridConnections.or(page.getByRole("button", { name: /Add consumption/i })).first().waitFor();
  if (await gridConnections.count()) {
    for (const { from, to } of pairs) {
      await energyDialog("Add grid connection", "dialog-energy-grid-settings", async (dialog) => {
        await pickStatistic(dialog, "Energy imported from grid", from.statistic_id, externalOption(from));
        if (to) await pickStatistic(dialog, "Energy exported to grid", to.statistic_id, externalOption(to));
      });
      await page.locator("ha-energy-grid-settings .row").filter({ hasText: from.name }).first().waitFor();
    }
  } else {
    await configureEnergy2025(page, [
      ...pairs.map(({ from }) => ["Add consumption", "Consumed energy", from]),
      ...pairs.filter(({ to }) => to).map(({ to }) => ["Add return", "Energy returned to the grid", to]),
    ]);
  }
  const grids = gridSources(await ws(page, { type: "energy/get_prefs" }));
  for (const { from } of pairs) {
    assert.ok(grids.some((g) => g.from.includes(from.statistic_id)), `${from.statistic_id} is no grid import: ${JSON.stringify(grids)}`);
  }
  await shot(page, "energy-settings-tariffs", { doc: "energy_tariffs" });
  await open(page, "/energy");
  const bars = await yesterdaysBars();
  for (const { from } of pairs) {
    const id = from.statistic_id;
    assert.ok(bars.some((s) => s.id === id || String(s.id).startsWith(`${id}-`)), `${id} draws no bars: ${JSON.stringify(bars)} (${stats.length} statistics)`);
  }
  await page.waitForTimeout(1_000);
  await shot(page, "energy-dashboard-tariffs");
});

check("statistics: the monthly capacity peak in a statistics graph", async () => {
  const page = state.page;
  const means = await until("a quarter-hour power statistic", async () => {
    const ids = await ws(page, { type: "recorder/list_statistic_ids", statistic_type: "mean" });
    const ours = ids.filter((s) => s.source === "meetdata" && s.statistic_id.endsWith("_quarter_hour_power"));
    return ours.length ? ours : false;
  }, { timeout: 120_000, interval: 2_000 });
  const stat = means.find((s) => s.statistic_id.startsWith("meetdata:kenter_")) ?? means[0];
  const start = new Date(Date.now() - 400 * 86_400_000).toISOString();
  const months = (await ws(page, { type: "recorder/statistics_during_period", start_time: start, statistic_ids: [stat.statistic_id], period: "month", types: ["max"] }))[stat.statistic_id];
  assert.ok(months?.length, `no monthly rows of ${stat.statistic_id}`);
  const peak = Math.max(...months.map((m) => m.max));
  const dashboards = await ws(page, { type: "lovelace/dashboards/list" });
  if (!dashboards.some((d) => d.url_path === "meetdata-capacity")) {
    await ws(page, { type: "lovelace/dashboards/create", url_path: "meetdata-capacity", title: "Capacity", mode: "storage", require_admin: false, show_in_sidebar: true });
  }
  await ws(page, {
    type: "lovelace/config/save",
    url_path: "meetdata-capacity",
    config: {
      views: [{
        title: "Capacity",
        path: "capacity",
        cards: [{
          type: "statistics-graph",
          title: "Monthly capacity peak",
          entities: [stat.statistic_id],
          period: "month",
          stat_types: ["max"],
          chart_type: "bar",
          days_to_show: 365,
        }],
      }],
    },
  });
  await open(page, "/meetdata-capacity/capacity");
  const card = page.locator("hui-statistics-graph-card").first();
  const chart = card.locator("ha-chart-base").first();
  await chart.waitFor();
  const drawn = await until("the monthly peaks in the statistics graph", async () => {
    const values = await chart.evaluate((el) => (el.data ?? []).flatMap((s) => (s.data ?? []).map((p) => Number((p?.value ?? p)?.[1]))).filter((v) => Number.isFinite(v) && v > 0));
    return values.length ? values : false;
  }, { timeout: 30_000, interval: 1_000 });
  assert.ok(drawn.some((v) => Math.abs(v - peak) < 0.01 * Math.max(1, peak)), `the graph draws ${JSON.stringify(drawn)}, the statistics say ${peak}`);
  await page.waitForTimeout(1_000);
  await shot(page, "capacity-peaks", { locator: card, doc: "capacity_peaks" });
});

/** POST to Home Assistant's REST API through the logged-in frontend. */
async function callApi(page, path, data) {
  return page.evaluate(([p, d]) => document.querySelector("home-assistant").hass.callApi("POST", p, d), [path, data]);
}

/** Run an entry's options flow through the REST API the frontend uses, with `prices` set. */
async function setPrices(page, entryId, prices) {
  const form = await callApi(page, "config/config_entries/options/flow", { handler: entryId, show_advanced_options: false });
  assert.equal(form.type, "form", JSON.stringify(form));
  const sections = form.data_schema.filter((f) => f.type === "expandable").map((f) => f.name);
  for (const name of Object.keys(prices)) assert.ok(sections.includes(name), `no ${name} section in ${JSON.stringify(sections)}`);
  // Keep every other option as the form suggests it.
  const kept = Object.fromEntries(
    form.data_schema.filter((f) => f.type !== "expandable" && f.description?.suggested_value !== undefined).map((f) => [f.name, f.description.suggested_value]),
  );
  const done = await callApi(page, `config/config_entries/options/flow/${form.flow_id}`, { ...kept, ...prices });
  assert.equal(done.type, "create_entry", JSON.stringify(done));
}

check("energy: costs of a Meetdata grid connection from its cost statistics", async (t) => {
  const page = state.page;
  await open(page, "/config/energy/electricity");
  const gridConnections = page.getByRole("button", { name: "Add grid connection", exact: true });
  await gridConnections.or(page.getByRole("button", { name: /Add consumption/i })).first().waitFor();
  if (!(await gridConnections.count())) {
    t.skip("this Home Assistant's grid settings differ (2025.x); the websocket test covers it");
    return;
  }
  const kenter = PROVIDERS.find((p) => p.provider === "kenter");
  const entry = kenter && (await entryOf(kenter));
  assert.ok(entry, "no Kenter entry");
  await setPrices(page, entry.entry_id, {
    import_price: { source: "fixed", price: 0.3 },
    export_price: { source: "fixed", price: 0.08 },
  });
  const priced = await until("Kenter's cost statistics", async () => {
    const stats = await meetdataSumStatistics();
    const byId = (id) => stats.find((s) => s.statistic_id === id);
    for (const cost of stats.filter((s) => s.statistic_id.startsWith("meetdata:kenter_") && s.statistic_id.endsWith("_energy_import_cost"))) {
      const prefix = cost.statistic_id.slice(0, -"_energy_import_cost".length);
      const from = byId(`${prefix}_energy_import`);
      const to = byId(`${prefix}_energy_export`);
      const compensation = byId(`${prefix}_energy_export_compensation`);
      if (from && to && compensation) return { from, to, cost, compensation };
    }
    return false;
  }, { timeout: 180_000, interval: 2_000 });
  // The pickers leave statistics out that a grid connection already uses: the earlier
  // steps' connection of this meter (without costs) makes way for the one with costs.
  const before = await ws(page, { type: "energy/get_prefs" });
  const mine = new Set([priced.from.statistic_id, priced.to.statistic_id]);
  const kept = before.energy_sources.filter((s) => !(s.type === "grid" && gridSources({ energy_sources: [s] })[0].from.some((id) => mine.has(id))));
  if (kept.length !== before.energy_sources.length) {
    await ws(page, { type: "energy/save_prefs", energy_sources: kept, device_consumption: before.device_consumption });
    await open(page, "/config/energy/electricity");
  }
  assert.equal(priced.cost.statistics_unit_of_measurement, "EUR");
  // Each hour's cost is its kWh times the fixed price.
  const start = new Date(Date.now() - 3 * 86_400_000).toISOString();
  // The new price fills the costs back over the imported history, oldest first.
  const rows = await until("hourly costs of the last days", async () => {
    const found = await ws(page, { type: "recorder/statistics_during_period", start_time: start, statistic_ids: [priced.from.statistic_id, priced.cost.statistic_id], period: "hour", types: ["change"] });
    return (found[priced.cost.statistic_id] ?? []).length >= 24 ? found : false;
  }, { timeout: 180_000, interval: 2_000 });
  const kwh = new Map((rows[priced.from.statistic_id] ?? []).map((r) => [r.start, r.change]));
  const costs = rows[priced.cost.statistic_id];
  for (const row of costs) assert.ok(Math.abs(row.change - 0.3 * kwh.get(row.start)) < 1e-6, `cost ${row.change} of ${kwh.get(row.start)} kWh at ${row.start}`);

  await energyDialog("Add grid connection", "dialog-energy-grid-settings", async (dialog) => {
    await pickStatistic(dialog, "Energy imported from grid", priced.from.statistic_id, externalOption(priced.from));
    await dialog.getByText("Use an entity tracking the total costs", { exact: true }).click();
    await pickStatistic(dialog, "Entity with the total costs", priced.cost.statistic_id, externalOption(priced.cost));
    await pickStatistic(dialog, "Energy exported to grid", priced.to.statistic_id, externalOption(priced.to));
    await dialog.getByText("Use an entity tracking the total compensation", { exact: true }).click();
    await pickStatistic(dialog, "Entity with the total compensation", priced.compensation.statistic_id, externalOption(priced.compensation));
  });
  const prefs = await ws(page, { type: "energy/get_prefs" });
  const source = prefs.energy_sources.find((s) => s.type === "grid" && s.stat_energy_from === priced.from.statistic_id);
  assert.equal(source?.stat_cost, priced.cost.statistic_id, JSON.stringify(prefs.energy_sources));
  assert.equal(source?.stat_compensation, priced.compensation.statistic_id);
  const validation = await ws(page, { type: "energy/validate" });
  const index = prefs.energy_sources.indexOf(source);
  assert.deepEqual(validation.energy_sources[index], [], JSON.stringify(validation.energy_sources[index]));

  await open(page, "/energy");
  await yesterdaysBars();
  const table = page.locator("hui-energy-sources-table-card").first();
  await table.waitFor();
  // A "Cost" column with a euro amount above zero (2026.11: "Grid total … €426.79");
  // text locators reach into the card's shadow DOM.
  const costHeader = table.getByText("Cost", { exact: true });
  const euros = table.getByText(/^\s*€\s?(?:[1-9]|0[.,]\d*[1-9])/);
  const text = await until("costs in the sources table", async () =>
    (await costHeader.count()) && (await euros.count()) ? (await euros.allInnerTexts()).join(" ") : false,
  { timeout: 30_000, interval: 1_000 });
  t.diagnostic(`costs in the sources table: ${text}`);
  await table.scrollIntoViewIfNeeded();
  await page.waitForTimeout(1_000);
  await shot(page, "energy-costs", { locator: table, doc: "energy_costs" });
});
