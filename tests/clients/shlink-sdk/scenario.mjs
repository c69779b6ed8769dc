// Drives Shlink's official JS SDK (@shlinkio/shlink-js-sdk, pinned in package.json) against a server that
// claims Shlink's REST API v3, the way Shlink's web client uses it, modelled on the SDK's own integration tests.
//
//   node scenario.mjs <base-url> <api-key> <authored-key>
//
// Prints one JSON line per step: {"step": name, "ok": true, "result": ...} or {"step": name, "ok": false,
// "error": ...}. The error is what the SDK threw: the server's problem details object as parsed JSON, or
// {"jsError": name, "message": ...} when the SDK itself failed (e.g. a body that was not JSON). The script
// asserts nothing; tests/clients/test_shlink_sdk.py reads the lines and checks every value. It expects an
// empty server (no short URLs, tags or visits), a key that may do everything (Shlink's admin key) and a key of
// the same user limited to the short URLs it creates (Shlink's AUTHORED_SHORT_URLS role).
import { ShlinkApiClient } from '@shlinkio/shlink-js-sdk';
import { ErrorType } from '@shlinkio/shlink-js-sdk/api-contract';
import { FetchHttpClient } from '@shlinkio/shlink-js-sdk/fetch';

const [baseUrl, apiKey, authoredKey] = process.argv.slice(2);
if (!baseUrl || apiKey === undefined || authoredKey === undefined) {
  console.error('usage: node scenario.mjs <base-url> <api-key> <authored-key>');
  process.exit(2);
}

const http = new FetchHttpClient();
const api = new ShlinkApiClient(http, { baseUrl, apiKey });
const authored = new ShlinkApiClient(http, { baseUrl, apiKey: authoredKey });
const authority = new URL(baseUrl).host;

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) '
  + 'Chrome/120.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
const ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) '
  + 'Chrome/120.0.0.0 Mobile Safari/537.36';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

const ctx = {}; // what later steps need from earlier ones (short codes, URLs)
let failures = 0;

function describe(error) {
  if (error instanceof Error) {
    return { jsError: error.name, message: error.message };
  }
  return error; // the problem details object the SDK threw as it parsed it
}

async function step(name, fn) {
  let line;
  try {
    const result = await fn();
    line = { step: name, ok: true, result: result === undefined ? null : result };
  } catch (error) {
    failures += 1;
    line = { step: name, ok: false, error: describe(error) };
  }
  process.stdout.write(`${JSON.stringify(line)}\n`);
  return line;
}

function need(key) {
  if (ctx[key] === undefined) {
    throw new Error(`an earlier step did not give ${key}`);
  }
  return ctx[key];
}

// A visitor opening a short URL (not through the SDK): status and Location, redirects not followed.
async function visit(url, headers = {}) {
  const response = await fetch(url, { redirect: 'manual', headers });
  await response.arrayBuffer();
  return { status: response.status, location: response.headers.get('location') };
}

// A URL under the same route as `shortUrl` whose code does not exist.
function unknownCodeUrl(shortUrl, shortCode) {
  return `${shortUrl.slice(0, shortUrl.length - shortCode.length)}no-such-code-9q`;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// Visits may be stored a moment after the redirect (Shlink tracks after responding; zipshort's writer
// batches): poll the overview until it shows what was sent, for at most 15 s.
async function waitForVisits(nonOrphan, orphan) {
  const started = Date.now();
  let overview;
  do {
    overview = await api.getVisitsOverview();
    if (overview.nonOrphanVisits.total >= nonOrphan && overview.orphanVisits.total >= orphan) {
      break;
    }
    await sleep(100);
  } while (Date.now() - started < 15000);
  return overview;
}

// --- health and the empty server ------------------------------------------------------------------------
await step('health', () => api.health());
await step('health-bad-key', () => new ShlinkApiClient(http, { baseUrl, apiKey: 'not-a-key' }).health());
await step('list-empty', () => api.listShortUrls());
await step('list-bad-key', () => new ShlinkApiClient(http, { baseUrl, apiKey: 'not-a-key' }).listShortUrls());
await step('list-no-key', () => new ShlinkApiClient(http, { baseUrl, apiKey: '' }).listShortUrls());
await step('mercure-info', () => api.mercureInfo());
await step('error-types', () => ErrorType); // the constants the tests compare error types with

// --- create (the SDK's integration test first: create, then the list holds exactly that object) ----------
await step('create-minimal', async () => {
  const created = await api.createShortUrl({ longUrl: 'https://example.com/sdk/one' });
  ctx.a = created;
  return created;
});
await step('list-after-create', () => api.listShortUrls());
await step('create-full', async () => {
  const created = await api.createShortUrl({
    longUrl: 'https://example.com/sdk/two',
    customSlug: 'sdk two',
    tags: ['Foo', 'bar', 'baz baz', 'bar'],
    title: 'Second',
    validSince: '2020-01-01T00:00:00+00:00',
    maxVisits: 3,
    crawlable: true,
    forwardQuery: false, // dropped by the SDK (it removes falsy fields): the server's default applies
  });
  ctx.b = created;
  return created;
});
await step('get-full', () => api.getShortUrl({ shortCode: need('b').shortCode }));
await step('find-if-exists-hit', () => api.createShortUrl({
  longUrl: 'https://example.com/sdk/two', findIfExists: true, tags: ['bar', 'baz baz', 'foo'],
}));
await step('find-if-exists-miss', async () => {
  const created = await api.createShortUrl({
    longUrl: 'https://example.com/sdk/two', findIfExists: true, tags: ['bar'], shortCodeLength: 8,
  });
  ctx.c = created;
  return created;
});
await step('create-valid-until', async () => {
  const created = await api.createShortUrl({
    longUrl: 'https://example.org/three', title: 'Alpha', tags: ['foo'], validUntil: '2099-01-01T00:00:00+00:00',
  });
  ctx.d = created;
  return created;
});
await step('create-slug-taken', () => api.createShortUrl({ longUrl: 'https://example.net/', customSlug: 'sdk-two' }));
await step('create-no-scheme', () => api.createShortUrl({ longUrl: 'example.com/no-scheme' }));
await step('create-bad-values', () => api.createShortUrl({
  longUrl: 'https://example.net/', maxVisits: -2, shortCodeLength: 2,
}));

// --- list: filters, ordering, pagination -----------------------------------------------------------------
await step('list-tags-any', () => api.listShortUrls({ tags: ['foo'], tagsMode: 'any' }));
await step('list-tags-all', () => api.listShortUrls({ tags: ['foo', 'bar'], tagsMode: 'all' }));
await step('list-tags-any-two', () => api.listShortUrls({ tags: ['foo', 'bar'], tagsMode: 'any' }));
await step('list-exclude-tags', () => api.listShortUrls({ excludeTags: ['foo'] }));
await step('list-search', () => api.listShortUrls({ searchTerm: 'example.org' }));
// A short URL already expired, made, listed and deleted at once: the other steps never see it.
await step('create-past-valid-until', async () => {
  const created = await api.createShortUrl({
    longUrl: 'https://example.org/past', validUntil: '2021-01-01T00:00:00+00:00',
  });
  ctx.e = created;
  return created;
});
await step('list-exclude-past-valid-until', () => api.listShortUrls({ excludePastValidUntil: true }));
await step('delete-past-valid-until', () => api.deleteShortUrl({ shortCode: need('e').shortCode }));
await step('list-order-title', () => api.listShortUrls({ orderBy: { field: 'title', dir: 'ASC' } }));
await step('list-page-2', () => api.listShortUrls({
  page: '2', itemsPerPage: 2, orderBy: { field: 'title', dir: 'DESC' },
}));
await step('list-domain-default', () => api.listShortUrls({ domain: 'DEFAULT', itemsPerPage: -1 }));
await step('list-bad-order', () => api.listShortUrls({
  tags: ['foo'], tagsMode: 'invalid', orderBy: { field: 'invalid', dir: 'ASC' },
}));

// --- get ---------------------------------------------------------------------------------------------------
await step('get-unknown', () => api.getShortUrl({ shortCode: 'no-such-code-9q' }));
await step('get-other-domain', () => api.getShortUrl({ shortCode: need('b').shortCode, domain: 'other.example' }));

// --- visits ------------------------------------------------------------------------------------------------
await step('visit-a-chrome', () => visit(`${need('a').shortUrl}?src=sdk`, {
  'User-Agent': CHROME, Referer: 'https://referrer.example/page',
}));
await step('visit-a-bot', () => visit(need('a').shortUrl, { 'User-Agent': GOOGLEBOT }));
await step('visit-b-three', async () => {
  const answers = [];
  for (let i = 0; i < 3; i += 1) {
    answers.push(await visit(`${need('b').shortUrl}?n=${i}`, { 'User-Agent': FIREFOX }));
  }
  return answers;
});
await step('visit-b-exhausted', () => visit(need('b').shortUrl, { 'User-Agent': FIREFOX }));
await step('visit-unknown-code', () => visit(unknownCodeUrl(need('a').shortUrl, need('a').shortCode), {
  'User-Agent': FIREFOX,
}));
await step('visits-overview', () => waitForVisits(5, 2));
await step('short-url-visits', () => api.getShortUrlVisits({ shortCode: need('a').shortCode }));
await step('short-url-visits-no-bots', () => api.getShortUrlVisits({ shortCode: need('a').shortCode }, {
  excludeBots: true,
}));
await step('short-url-visits-page-2', () => api.getShortUrlVisits({ shortCode: need('a').shortCode }, {
  page: 2, itemsPerPage: 1,
}));
await step('short-url-visits-unknown', () => api.getShortUrlVisits({ shortCode: 'no-such-code-9q' }));
await step('tag-visits-foo', () => api.getTagVisits('foo'));
await step('tag-visits-bar', () => api.getTagVisits('bar'));
await step('tag-visits-unknown', () => api.getTagVisits('no-such-tag'));
await step('domain-visits-default', () => api.getDomainVisits('DEFAULT'));
await step('domain-visits-authority', () => api.getDomainVisits(authority));
await step('domain-visits-unknown', () => api.getDomainVisits('unknown.example'));
await step('orphan-visits', () => api.getOrphanVisits());
await step('orphan-visits-invalid-short-url', () => api.getOrphanVisits({ type: 'invalid_short_url' }));
await step('orphan-visits-base-url', () => api.getOrphanVisits({ type: 'base_url' }));
await step('orphan-visits-bad-type', () => api.getOrphanVisits({ type: 'nonsense' }));
await step('non-orphan-visits', () => api.getNonOrphanVisits());
await step('non-orphan-visits-no-bots', () => api.getNonOrphanVisits({ excludeBots: true }));
await step('get-after-visits', () => api.getShortUrl({ shortCode: need('a').shortCode }));
await step('list-order-visits', () => api.listShortUrls({ orderBy: { field: 'visits', dir: 'DESC' } }));
await step('list-exclude-max-visits-reached', () => api.listShortUrls({ excludeMaxVisitsReached: true }));
await step('tags-stats', () => api.tagsStats());
await step('delete-short-url-visits', () => api.deleteShortUrlVisits({ shortCode: need('a').shortCode }));
await step('get-after-visits-deleted', () => api.getShortUrl({ shortCode: need('a').shortCode }));
await step('delete-orphan-visits', () => api.deleteOrphanVisits());
await step('visits-overview-after-delete', () => api.getVisitsOverview());

// --- edit --------------------------------------------------------------------------------------------------
await step('update-tags', () => api.updateShortUrl({ shortCode: need('a').shortCode }, { tags: ['one', 'two'] }));
await step('update-clear', () => api.updateShortUrl({ shortCode: need('b').shortCode }, {
  longUrl: 'https://example.com/sdk/two-edited', title: null, maxVisits: null, validSince: null,
}));
await step('visit-b-live-again', () => visit(`${need('b').shortUrl}?n=4`, { 'User-Agent': FIREFOX }));
await step('update-bad-long-url', () => api.updateShortUrl({ shortCode: need('a').shortCode }, {
  longUrl: 'no scheme here',
}));
await step('update-unknown', () => api.updateShortUrl({ shortCode: 'no-such-code-9q' }, { title: 'x' }));

// --- redirect rules ----------------------------------------------------------------------------------------
await step('rules-empty', () => api.getShortUrlRedirectRules({ shortCode: need('a').shortCode }));
await step('rules-set', () => api.setShortUrlRedirectRules({ shortCode: need('a').shortCode }, {
  redirectRules: [
    {
      longUrl: 'https://example.com/android',
      conditions: [{ type: 'device', matchKey: null, matchValue: 'android' }],
    },
    {
      longUrl: 'https://example.com/promo',
      conditions: [
        { type: 'query-param', matchKey: 'promo', matchValue: 'yes' },
        { type: 'language', matchKey: null, matchValue: 'es' },
      ],
    },
  ],
}));
await step('rules-get', () => api.getShortUrlRedirectRules({ shortCode: need('a').shortCode }));
await step('get-with-rules', () => api.getShortUrl({ shortCode: need('a').shortCode }));
await step('visit-rule-android', () => visit(need('a').shortUrl, { 'User-Agent': ANDROID }));
await step('visit-rule-promo', () => visit(`${need('a').shortUrl}?promo=yes`, {
  'User-Agent': CHROME, 'Accept-Language': 'es-ES,es;q=0.9',
}));
await step('visit-rule-none', () => visit(`${need('a').shortUrl}?promo=yes`, {
  'User-Agent': CHROME, 'Accept-Language': 'en-GB,en;q=0.9,es;q=0.5',
}));
await step('rules-bad-device', () => api.setShortUrlRedirectRules({ shortCode: need('a').shortCode }, {
  redirectRules: [{
    longUrl: 'https://example.com/x', conditions: [{ type: 'device', matchKey: null, matchValue: 'toaster' }],
  }],
}));
await step('rules-unknown', () => api.getShortUrlRedirectRules({ shortCode: 'no-such-code-9q' }));
await step('rules-clear', () => api.setShortUrlRedirectRules({ shortCode: need('a').shortCode }, {
  redirectRules: [],
}));
await step('get-without-rules', () => api.getShortUrl({ shortCode: need('a').shortCode }));

// --- tags --------------------------------------------------------------------------------------------------
await step('tags-list', () => api.listTags());
await step('tag-rename', () => api.editTag({ oldName: 'foo', newName: 'fooRenamed' }));
await step('tags-after-rename', () => api.listTags());
await step('get-after-rename', () => api.getShortUrl({ shortCode: need('b').shortCode }));
await step('tag-rename-conflict', () => api.editTag({ oldName: 'bar', newName: 'one' }));
await step('tag-rename-unknown', () => api.editTag({ oldName: 'ghost', newName: 'spirit' }));
await step('tags-delete', () => api.deleteTags(['one', 'ghost']));
await step('tags-after-delete', () => api.listTags());
await step('get-after-tag-delete', () => api.getShortUrl({ shortCode: need('a').shortCode }));

// --- domains -----------------------------------------------------------------------------------------------
await step('domains-list', () => api.listDomains());
await step('domain-redirects-set', () => api.editDomainRedirects({
  domain: authority, invalidShortUrlRedirect: 'https://example.com/missing/{DOMAIN}',
}));
await step('domain-redirects-merge', () => api.editDomainRedirects({
  domain: authority, regular404Redirect: 'https://example.com/404',
}));
await step('domains-after-redirects', () => api.listDomains());
await step('visit-unknown-code-redirected', () => visit(unknownCodeUrl(need('a').shortUrl, need('a').shortCode)));
await step('domain-redirects-bad-domain', () => api.editDomainRedirects({ domain: 'not a domain' }));
await step('domain-redirects-clear', () => api.editDomainRedirects({
  domain: authority, invalidShortUrlRedirect: null, regular404Redirect: null,
}));

// --- a key limited to the short URLs it created ----------------------------------------------------------
await step('authored-create', async () => {
  const created = await authored.createShortUrl({ longUrl: 'https://example.com/authored', tags: ['mine'] });
  ctx.f = created;
  return created;
});
await step('authored-list', () => authored.listShortUrls());
await step('authored-get-other', () => authored.getShortUrl({ shortCode: need('a').shortCode }));
await step('authored-tags', () => authored.listTags());
await step('authored-tag-rename', () => authored.editTag({ oldName: 'mine', newName: 'ours' }));
await step('authored-tags-delete', () => authored.deleteTags(['mine']));

// --- delete (and the SDK integration tests' clean-up) ------------------------------------------------------
await step('delete-short-url', () => api.deleteShortUrl({ shortCode: need('c').shortCode }));
await step('get-deleted', () => api.getShortUrl({ shortCode: need('c').shortCode }));
await step('delete-unknown', () => api.deleteShortUrl({ shortCode: 'no-such-code-9q' }));
await step('cleanup', async () => {
  const { data } = await api.listShortUrls({ itemsPerPage: 100 });
  await Promise.all(data.map((shortUrl) => api.deleteShortUrl(shortUrl)));
  const { data: tags } = await api.listTags();
  await api.deleteTags(tags);
  await api.deleteOrphanVisits();
  return { deleted: data.map((shortUrl) => shortUrl.shortCode), tags };
});
await step('list-after-cleanup', () => api.listShortUrls());
await step('tags-after-cleanup', () => api.listTags());

process.stdout.write(`${JSON.stringify({ step: 'done', ok: true, result: { failures } })}\n`);
