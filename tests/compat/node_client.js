// Send Segment calls with a real Node SDK: `node node_client.js segment|rudder HOST WRITE_KEY < calls.json`.
// calls.json is a list of Segment calls in the HTTP API's JSON form. Exits 0 when the SDK reports no
// error, 1 otherwise. The SDKs are resolved from NODE_PATH (tests/.clients/node/node_modules).
'use strict';
const fs = require('fs');

const [sdk, host, writeKey] = process.argv.slice(2);
const calls = JSON.parse(fs.readFileSync(0, 'utf8'));
const errors = [];

function makeClient() {
  if (sdk === 'segment') {
    const { Analytics } = require('@segment/analytics-node');
    const client = new Analytics({ writeKey, host, flushAt: 3, maxRetries: 10 });
    client.on('error', (err) => errors.push(String(err && (err.reason || err.message || err))));
    return { client, close: () => client.closeAndFlush({ timeout: 60000 }) };
  }
  const Analytics = require('@rudderstack/rudder-sdk-node');
  const client = new Analytics(writeKey, { dataPlaneUrl: host, flushAt: 3, flushInterval: 200,
                                           retryCount: 10, logLevel: 'error' });
  return { client, close: () => new Promise((resolve) => client.flush((err) => {
    if (err) errors.push(String(err));
    resolve();
  })) };
}

async function main() {
  const { client, close } = makeClient();
  const pending = calls.map((call) => new Promise((resolve) => {
    const { type, ...fields } = call;
    if (fields.timestamp) fields.timestamp = new Date(fields.timestamp);
    client[type](fields, (err) => {
      if (err) errors.push(`${type}: ${err.message || err}`);
      resolve();
    });
  }));
  await close();
  await Promise.all(pending);
  console.log(JSON.stringify({ sdk, errors }));
  process.exit(errors.length ? 1 : 0);
}

main().catch((err) => { console.error(err); process.exit(2); });
