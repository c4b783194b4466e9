// escrow-flow: a vendor signs up and lists an item, a buyer signs up and orders it (the order
// creates the 2-of-3 escrow); 10 virtual users for 5 minutes. The seed had the buyer create the
// listing, which the server refuses: only vendors list. The same flow and thresholds as
// `mmkt-load --scenario escrow-flow` (crates/loadtest). Run:
//   k6 run -e BASE_URL=http://127.0.0.1:8080 load-tests/escrow-flow.js
import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { Counter } from 'k6/metrics';

// Failed requests, 429 not counted (nginx's per-address limits are documented, not errors).
const errors = new Counter('errors');
// 429 answers (rate limited), counted apart.
const rateLimited = new Counter('rate_limited');

export const options = {
  scenarios: {
    escrow_creation: {
      executor: 'constant-vus',
      vus: 10,
      duration: '5m',
    },
  },
  thresholds: {
    errors: ['count==0'], // an order flow must not fail
  },
};

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
// 0.001 XMR in piconero: a full run's open escrows stay far below the custody cap.
const PRICE = 1000000000;

// The answer's body if it is 200; else counts it and ends the iteration (later steps need it).
function expect200(res, name) {
  if (res.status === 429) {
    rateLimited.add(1, { name });
    fail(`${name}: 429 rate limited`);
  }
  if (!check(res, { [`${name} is 200`]: (r) => r.status === 200 })) {
    errors.add(1, { name });
    fail(`${name}: HTTP ${res.status}`);
  }
  return res;
}

// Signs up a new account of `role`; returns its session cookie header value.
function register(role) {
  const username = `k6${role[0]}_${Date.now().toString(36)}_${__VU}_${__ITER}`;
  const res = expect200(
    http.post(
      `${BASE_URL}/api/auth/register`,
      JSON.stringify({ username, password: 'load-test-password', role }),
      { headers: { 'Content-Type': 'application/json' }, tags: { name: `POST /api/auth/register (${role})` } },
    ),
    `register ${role}`,
  );
  // Development over HTTP: `session_token`; over HTTPS the server names it `__Host-session_token`.
  for (const name of ['session_token', '__Host-session_token']) {
    if (res.cookies[name] && res.cookies[name].length > 0) {
      return `${name}=${res.cookies[name][0].value}`;
    }
  }
  errors.add(1, { name: `register ${role}` });
  fail(`register ${role}: 200 without a session cookie`);
}

function postJson(path, body, cookie, name) {
  return expect200(
    http.post(`${BASE_URL}${path}`, JSON.stringify(body), {
      headers: { 'Content-Type': 'application/json', Cookie: cookie },
      tags: { name: `POST ${path}` },
    }),
    name,
  );
}

export default function () {
  // Each request sends its own session cookie; the VU's jar must not mix the two accounts.
  http.cookieJar().clear(BASE_URL);

  const vendor = register('vendor');
  const listing = postJson(
    '/api/listings',
    { title: 'Load Test Product', description: 'Performance test', price_xmr: PRICE, stock: 100 },
    vendor,
    'listing',
  );
  const listingId = listing.json('listing_id');

  http.cookieJar().clear(BASE_URL);
  const buyer = register('buyer');
  postJson('/api/orders', { listing_id: listingId, quantity: 1 }, buyer, 'order');

  sleep(3);
}
