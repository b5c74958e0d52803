// How the browser tests add each simulated provider through the config flow.
//
// The providers themselves come from scripts/develop.py's SIMULATORS table (demo account,
// simulator port, title, unique id). A provider whose config-flow form takes exactly the
// fields of its demo entry's data needs NO row here: the default fills one form with that
// data and spoils the first secret-looking field (api_key, password, passcode, secret,
// subscription key) for the wrong-credential check, expecting "invalid_auth".
//
// A row may set:
//   forms(data)   the forms to submit, in order: [{field: value}]; booleans tick/untick a
//                 toggle, {option, selector} picks the option of a list selector by its
//                 translated label (selector.<selector>.options.<option>), other values
//                 are typed; default [data]
//   wrong(forms)  the first form with a wrong credential; default: spoil a secret field
//   error         the translation key (or keys: any of them) of the error the wrong
//                 credential shows, on a field or the form; default "invalid_auth"

const SECRET = /(^|_)(api_key|password|passcode|secret|client_secret|subscription_key|key)$/;

function spoil(value) {
  return `wrong-${value}`;
}

export const FLOWS = {
  // One form per connection, "Add another connection" ticked on all but the last one.
  kenter: {
    forms: (data) =>
      data.connections.map((conn, i, all) => ({
        ...(i === 0 && data.base_url ? { base_url: data.base_url } : {}),
        ean: conn.ean,
        passcode: conn.passcode,
        ...(conn.meter_code ? { meter_code: conn.meter_code } : {}),
        add_another: i < all.length - 1,
      })),
    // The first demo EAN-code (the document's example) has a wrong check digit, so the
    // refusal adds "probably mistyped".
    error: ["invalid_auth_ean", "invalid_auth_typo"],
  },
  // The environment is a list of radio buttons.
  fluvius: {
    forms: (data) => [{ ...data, environment: { option: data.environment, selector: "fluvius_environment" } }],
    error: "fluvius_invalid_secret",
  },
};

/** The flow description of one provider from the SIMULATORS row `sim`. */
export function flowOf(sim) {
  const row = FLOWS[sim.provider] ?? {};
  const forms = row.forms ? row.forms(sim.data) : [{ ...sim.data }];
  const wrong =
    row.wrong?.(forms) ??
    (() => {
      const first = { ...forms[0] };
      const secret = Object.keys(first).find((key) => SECRET.test(key));
      if (!secret) throw new Error(`${sim.provider}: no secret field in ${Object.keys(first)}; add a row to e2e/providers.mjs`);
      first[secret] = spoil(first[secret]);
      return first;
    })();
  return { forms, wrong, errors: [row.error ?? "invalid_auth"].flat() };
}
