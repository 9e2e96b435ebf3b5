// Codes the server and the app agree on, in one place. Each list is JSON inside
// Object.freeze(...): a Go test (internal/web/codes_test.go) reads them and checks them
// against the notify gateway's close codes and the API's problem codes.

// CLOSE: WebSocket close codes of the live stream. The gateway closes with restart (a
// restart: resume with `after`), slow (fell behind: resume with `after`), sessionEnded (log
// in again) or historyGone (`after` is older than what is replayed: reload, then resume
// without it); the app closes with normal when it disconnects.
export const CLOSE = Object.freeze({
  "normal": 1000,
  "restart": 1012,
  "slow": 4008,
  "sessionEnded": 4001,
  "historyGone": 4009
});

// PROBLEM_CODES: the codes of an invalid answer's `problems` (field → {code, min, max,
// allowed}) that i18n.js problemText words in the interface's language; for any other code
// it shows the server's English sentence from `fields`.
export const PROBLEM_CODES = Object.freeze([
  "required",
  "unknown_field",
  "unknown",
  "not_allowed",
  "malformed",
  "invalid_text",
  "not_a_number",
  "not_a_whole_number",
  "not_a_date",
  "too_short",
  "too_long",
  "too_many",
  "too_small",
  "too_large",
  "out_of_range",
  "duplicate",
  "invalid"
]);
