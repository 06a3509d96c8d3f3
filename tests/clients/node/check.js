// Shared check helpers for the Node scenarios: each check prints one line; finish() sets the
// exit code.
const assert = require("node:assert");
const fails = [];
function check(name, got, want) {
  try {
    assert.deepStrictEqual(got, want);
    console.log(`ok   ${name}`);
  } catch (e) {
    fails.push(name);
    console.log(`FAIL ${name}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}
function finish() {
  console.log(`${fails.length ? "FAILED" : "PASS"}: ${fails.length} failures`);
  process.exit(fails.length ? 1 : 0);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(fn, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await sleep(20);
  }
  return false;
}
module.exports = { check, finish, sleep, waitFor };
