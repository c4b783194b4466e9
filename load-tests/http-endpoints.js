// http-endpoints: browse the listings, search them, sign up a buyer; ramp to 100 virtual users.
// The same stages, thresholds and request mix as `mmkt-load --scenario http-endpoints`
// (crates/loadtest). Run (see load-tests/README.md for the source addresses):
//   k6 run -e BASE_URL=http://127.0.0.1:8080 load-tests/http-endpoints.js
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate } from 'k6/metrics';

// Failed requests, 429 not counted: nginx's per-address limits are documented, not errors.
const errorRate = new Rate('errors');
// 429 answers (rate limited), counted apart.
const rateLimited = new Counter('rate_limited');

export const options = {
  stages: [
    { duration: '2m', target: 10 },   // ramp up to 10 users
    { duration: '5m', target: 50 },   // ramp up to 50 users
    { duration: '10m', target: 100 }, // ramp up to 100 users
    { duration: '3m', target: 0 },    // ramp down
  ],
  thresholds: {
    http_req_duration: ['p(95)<200'], // 95 % of requests under 200 ms
    errors: ['rate<0.05'],            // fewer than 5 % errors
  },
};

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
const JSON_HEADERS = { headers: { 'Content-Type': 'application/json' } };

// Records one answer: a 429 is counted apart, anything but 200 is an error.
function record(res, name) {
  if (res.status === 429) {
    rateLimited.add(1, { name });
    errorRate.add(false, { name });
    return;
  }
  const ok = check(res, { [`${name} is 200`]: (r) => r.status === 200 });
  errorRate.add(!ok, { name });
}

export default function () {
  record(http.get(`${BASE_URL}/api/listings`, { tags: { name: 'GET /api/listings' } }), 'listings');
  sleep(1);

  record(
    http.get(`${BASE_URL}/api/listings/search?q=test`, { tags: { name: 'GET /api/listings/search' } }),
    'search',
  );
  sleep(1);

  // A new buyer each iteration (usernames: 3-32 of [A-Za-z0-9_.-]; passwords: 10+ characters).
  const username = `k6_${Date.now().toString(36)}_${__VU}_${__ITER}`;
  const res = http.post(
    `${BASE_URL}/api/auth/register`,
    JSON.stringify({ username, password: 'load-test-password', role: 'buyer' }),
    Object.assign({ tags: { name: 'POST /api/auth/register' } }, JSON_HEADERS),
  );
  record(res, 'register');
  sleep(2);
}
