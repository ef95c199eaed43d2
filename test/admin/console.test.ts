// End-to-end: the admin console in headless Chromium against a gateway started here. Walks the
// brief's admin flow through the page — sign in, install for specific users, extend to all and
// future users, a conflict, a move, uninstall, a live call with its screen pop — and saves a
// screenshot of each page to test-results/admin/. Fails on any console error the page did not
// cause on purpose.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, ConsoleMessage, Page, Route } from 'playwright-core';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';

const root = resolve(import.meta.dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(root, 'test-results', 'admin');
const WAIT = 20_000;

async function loadPlaywright(): Promise<typeof import('playwright-core') | null> {
  try {
    return await import('playwright-core');
  } catch {
    return null;
  }
}

const playwright = await loadPlaywright();
const skipReason = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing (Debian: apt-get install -y chromium; .ci/run installs it)`
  : !playwright
    ? 'playwright-core is not installed (npm i -D playwright-core)'
    : null;
if (skipReason) console.log(`# admin console browser tests skipped: ${skipReason}`);

const rid = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;

describe('admin console in Chromium', { skip: skipReason ?? false }, () => {
  let g: TestGateway;
  let key: string;
  let orgId: string;
  let buildDir: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];
  /** Failed API requests the flow causes on purpose (conflicts, optional endpoints). */
  const expectedFailures: RegExp[] = [];

  const users = {
    alice: rid('alice'),
    bob: rid('bob'),
    carol: rid('carol'),
    dave: rid('dave'),
    erin: rid('erin'),
    frank: rid('frank'),
    gina: rid('gina'),
  };
  const aliceDid = '+14165550101';
  let europeId: string;
  let canadaId: string;

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await g.req(method, path, { key, body });
    assert.ok(r.status < 300, `${method} ${path} → ${r.status} ${r.text}`);
    return r.body;
  };
  /**
   * Saves the page and checks what a screen-reader user needs on it (one h1, a name for every
   * visible form control and button) and that it fits a 1366 px wide laptop screen.
   */
  const shot = async (name: string) => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    const a11y = await page.evaluate(() => {
      const unnamed: string[] = [];
      for (const el of document.querySelectorAll<HTMLElement>('input, select, textarea, button')) {
        if ((el as HTMLInputElement).type === 'hidden' || el.closest('[hidden]')) continue;
        const labels = (el as HTMLInputElement).labels;
        const by = el.getAttribute('aria-labelledby');
        const accessibleName =
          (labels && labels.length ? [...labels].map((l) => l.textContent ?? '').join(' ') : '') ||
          el.getAttribute('aria-label') ||
          (by ? (document.getElementById(by)?.textContent ?? '') : '') ||
          (el.tagName === 'BUTTON' ? (el.textContent ?? '') : '');
        if (!accessibleName.trim()) unnamed.push(el.outerHTML.slice(0, 160));
      }
      return { unnamed, h1: document.querySelectorAll('h1').length, width: document.documentElement.scrollWidth };
    });
    assert.ok(a11y.width <= 1366, `${name}: no sideways scrolling on a 1366 px wide laptop screen (page is ${a11y.width} px)`);
    assert.deepEqual(a11y.unnamed, [], `${name}: controls without a label`);
    assert.equal(a11y.h1, 1, `${name}: one h1 per page`);
  };
  const nav = async (label: string, heading: string) => {
    await page.getByRole('navigation', { name: 'Telephony' }).getByRole('link', { name: label, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor({ timeout: WAIT });
  };

  /** A step of the flow; on failure the page is saved as failed-<n>.png for diagnosis. */
  let stepNo = 0;
  const step = (name: string, fn: () => Promise<void>) =>
    test(name, async () => {
      const n = ++stepNo;
      try {
        await fn();
      } catch (e) {
        await page?.screenshot({ path: join(SHOTS, `failed-${n}.png`), fullPage: true }).catch(() => {});
        throw e;
      }
    });

  before(async () => {
    buildDir = mkdtempSync(join(tmpdir(), 'dialgate-admin-e2e-'));
    const built = spawnSync(process.execPath, [join(root, 'admin', 'build.mjs')], { env: { ...process.env, DIALGATE_ADMIN_OUTDIR: buildDir }, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    process.env.DIALGATE_ADMIN_DIR = buildDir;
    g = await startGateway();
    ({ id: orgId, apiKey: key } = await g.createOrg('Console org'));

    await api('PUT', `/v1/users/${users.alice}`, { region: 'CA', name: 'Alice Martin', email: 'alice@example.com', numbers: [aliceDid] });
    await api('PUT', `/v1/users/${users.bob}`, { region: 'CA', name: 'Bob Tremblay' });
    await api('PUT', `/v1/users/${users.carol}`, { region: 'US', name: 'Carol Jones' });
    await api('PUT', `/v1/users/${users.dave}`, { region: 'GB', name: 'Dave Smith' });
    await api('PUT', `/v1/users/${users.erin}`, { region: 'CA', name: 'Erin Roy' });
    await api('PUT', `/v1/users/${users.frank}`, { region: 'GB', name: 'Frank Hall' });
    const europe = await api('POST', '/v1/providers', {
      kind: 'sim',
      name: 'Sim Europe',
      config: { ringAfterMs: 100, answerAfterMs: 1500, durationMs: 4000 },
      install: { scope: 'specific', userIds: [users.dave] },
    });
    europeId = europe.id;

    mkdirSync(SHOTS, { recursive: true });
    browser = await playwright!.chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() !== 'error') return;
      const where = m.location()?.url ?? '';
      const text = `${m.text()} @ ${where}`;
      if (expectedFailures.some((re) => re.test(text))) {
        console.log(`# expected API refusal in the console (the page shows it): ${text}`);
        return;
      }
      consoleErrors.push(text);
    });
    page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await g?.close();
    delete process.env.DIALGATE_ADMIN_DIR;
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  step('sign in with an org key: kept in sessionStorage, never in the URL', async () => {
    await page.goto(g.url + '/admin');
    await page.getByLabel('Org API key').waitFor();
    await shot('01-sign-in');
    await page.getByLabel('Org API key').fill('dgk_0000000000000000_wrongwrongwrongwrongwrongwrongwrong');
    expectedFailures.push(/status of 401 .*\/v1\/providers/);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('That key was not accepted').waitFor();
    // the keyboard alone signs in: type the key, press Enter
    await page.getByLabel('Org API key').fill(key);
    await page.getByLabel('Org API key').press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Provider marketplace' }).waitFor();
    assert.ok(!page.url().includes(key) && !page.url().includes('dgk_'), page.url());
    assert.equal(await page.evaluate(() => sessionStorage.getItem('dialgate.apiKey')), key);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    for (const kind of ['Simulator', 'Twilio', 'RingCentral', 'SIP trunk']) {
      await page.getByRole('heading', { level: 2, name: kind }).waitFor();
    }
    await page.getByText('Live events: connected').waitFor();
    await shot('02-marketplace');
  });

  step('install a sim provider for specific users, picked with the searchable user picker', async () => {
    await page.getByRole('link', { name: 'Install Simulator' }).click();
    await page.getByRole('heading', { level: 1, name: 'Install Simulator' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Sim Canada');
    await page.getByLabel('Answer after (ms)').fill('300');
    await page.getByLabel('Serve only these countries').fill('ca, US');
    assert.equal(await page.getByLabel('Specific users').isChecked(), true);
    const search = page.getByLabel('Search users');
    await search.fill('alice');
    await page.getByRole('checkbox', { name: /Alice Martin/ }).check();
    await search.fill('tremblay');
    assert.equal(await page.getByRole('checkbox', { name: /Alice Martin/ }).count(), 0, 'the search narrows the list');
    await page.getByRole('checkbox', { name: /Bob Tremblay/ }).check();
    await page.getByText('2 selected').waitFor();
    await shot('03-install-form');
    await page.getByRole('button', { name: 'Install', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Sim Canada', exact: true }).waitFor();
    canadaId = decodeURIComponent(page.url().split('/installed/')[1]);
    await eventually(async () => (await page.locator('#user-count').textContent()) === '2', WAIT, 'user count 2');
    assert.equal(await page.locator('#scope-text').textContent(), 'Specific users');
    const p = await api('GET', `/v1/providers/${canadaId}`);
    assert.deepEqual(p.regions, { allow: ['CA', 'US'] });
    assert.equal(p.config.answerAfterMs, 300);
    const table = page.locator('#provider-users');
    await table.getByText('Alice Martin').waitFor();
    await table.getByText('Bob Tremblay').waitFor();
    await shot('04-provider-details');
  });

  step('extend it to all users and future users: users elsewhere or out of region are listed, not moved', async () => {
    await page.getByLabel('Also all future users').check();
    await page.getByRole('button', { name: 'Install for all users' }).click();
    await page.getByText(/Now installed for all users and future users: 2 users added/).waitFor();
    assert.equal(await page.locator('#scope-text').textContent(), 'All users + future users');
    await eventually(async () => (await page.locator('#user-count').textContent()) === '4', WAIT, 'user count 4');
    const warn = page.locator('.alert-warn');
    await warn.getByText(/Dave Smith .* is already on Sim Europe/).waitFor();
    await warn.getByText(/Frank Hall .*region GB.* Sim Canada does not serve that region/).waitFor();
    assert.equal((await api('GET', `/v1/users/${users.dave}`)).providerId, europeId, 'dave was not moved');
    // a user created from now on lands on Sim Canada by themselves
    const gina = await g.req('PUT', `/v1/users/${users.gina}`, { key, body: { region: 'CA', name: 'Gina Lee' } });
    assert.equal(gina.body.providerId, canadaId);
    await shot('05-extended-to-all');
  });

  step('adding a user who is on another provider says which one', async () => {
    expectedFailures.push(/status of 409 .*\/v1\/providers\/[^/]+\/users/);
    await page.getByLabel('Search users').fill('dave');
    await page.getByRole('checkbox', { name: /Dave Smith/ }).check();
    await page.getByRole('button', { name: 'Add selected users' }).click();
    await page.getByRole('alert').getByText(/Dave Smith \(dave-[0-9a-f]+\) is already on Sim Europe/).waitFor();
    assert.equal((await api('GET', `/v1/users/${users.dave}`)).providerId, europeId);
    await shot('06-conflict');
  });

  step('users: filter, a region refusal, and a move in one step', async () => {
    await nav('Users', 'Users');
    const rows = page.locator('#users-table tbody tr');
    await eventually(async () => (await rows.count()) === 7, WAIT, '7 user rows');
    await page.getByLabel('Provider', { exact: true }).selectOption({ label: 'Sim Europe' });
    await eventually(async () => (await rows.count()) === 1, WAIT, 'filtered to Sim Europe');
    await page.getByLabel('Provider', { exact: true }).selectOption({ label: 'Any provider' });
    await page.getByLabel('Region').selectOption('GB');
    await eventually(async () => (await rows.count()) === 2, WAIT, 'filtered to GB');
    await page.getByLabel('Region').selectOption('');
    await page.getByLabel('Search', { exact: true }).fill('martin');
    await eventually(async () => (await rows.count()) === 1, WAIT, 'searched');
    await page.getByLabel('Search', { exact: true }).fill('');

    // Sim Canada serves CA and US only: moving Dave (GB) there is refused with the reason
    expectedFailures.push(/status of 422 .*\/v1\/users\/[^/]+\/move/);
    const dave = page.locator(`tr[data-user-id="${users.dave}"]`);
    await dave.getByRole('combobox').selectOption({ label: 'Sim Canada (does not serve GB)' });
    await dave.getByRole('button', { name: /^Move Dave/ }).click();
    await page.getByRole('alert').getByText(/Sim Canada does not serve GB, the region of Dave Smith/).waitFor();
    assert.equal((await api('GET', `/v1/users/${users.dave}`)).providerId, europeId);

    const alice = page.locator(`tr[data-user-id="${users.alice}"]`);
    await alice.getByRole('combobox').selectOption({ label: 'Sim Europe' });
    await alice.getByRole('button', { name: /^Move Alice/ }).click();
    await page.getByRole('status').getByText(/Alice Martin .* moved from Sim Canada to Sim Europe/).waitFor();
    await eventually(async () => (await page.locator(`tr[data-user-id="${users.alice}"] td[data-col="provider"]`).textContent()) === 'Sim Europe', WAIT, 'alice on Sim Europe');
    assert.equal((await api('GET', `/v1/users/${users.alice}`)).providerId, europeId);
    await shot('07-users');
  });

  step('uninstall: the confirmation says how many users lose telephony', async () => {
    await nav('Installed', 'Installed providers');
    const row = page.locator(`#installed-table tr[data-provider-id="${canadaId}"]`);
    assert.equal(await row.locator('td[data-col="users"]').textContent(), '4'); // bob, carol, erin, gina
    await row.getByText('Healthy').waitFor();
    await row.getByText('CA, US').waitFor();
    await shot('08-installed');
    await row.getByRole('link', { name: 'Sim Canada' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sim Canada', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Uninstall…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Uninstall Sim Canada?' });
    await dialog.getByText('4 users will lose telephony.').waitFor();
    await shot('09-uninstall-confirm');
    // Escape cancels: nothing is uninstalled
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await api('GET', `/v1/providers/${canadaId}`)).userCount, 4);
    await page.getByRole('button', { name: 'Uninstall…' }).click();
    await dialog.getByRole('button', { name: 'Uninstall and unassign 4 users' }).click();
    await page.getByRole('heading', { level: 1, name: 'Installed providers' }).waitFor();
    await page.locator(`#installed-table tr[data-provider-id="${canadaId}"]`).waitFor({ state: 'detached' });
    assert.equal((await g.req('GET', `/v1/providers/${canadaId}`, { key })).status, 404);
    assert.equal((await api('GET', `/v1/users/${users.bob}`)).providerId, null);
  });

  step('live calls: an inbound call appears live with a screen pop; a click-to-call follows its status', async () => {
    await nav('Live calls', 'Live calls');
    await page.getByText('Live events: connected').waitFor();
    const r = await g.req('POST', `/webhooks/sim/${europeId}/inbound`, { body: { from: '+14165550199', to: aliceDid } });
    assert.equal(r.status, 200, r.text);
    const callId = r.body.callId as string;
    const pop = page.locator(`#screen-pops article[data-call-id="${callId}"]`);
    await pop.getByText('Incoming call from').waitFor();
    await pop.getByText('+14165550199').waitFor();
    assert.equal(await page.locator('#screen-pops').getAttribute('aria-live'), 'assertive');
    const row = page.locator(`#calls-table tr[data-call-id="${callId}"]`);
    await row.getByText('Inbound').waitFor();
    await row.getByText('+14165550199').waitFor();
    // answered for 4 s, then completed: either proves the row follows the call (a slow machine may miss the first)
    await row.locator('[data-status="answered"], [data-status="completed"]').waitFor();
    await shot('10-live-calls');

    await page.getByLabel('User', { exact: true }).selectOption({ label: `Dave Smith (${users.dave}) · Sim Europe` });
    await page.getByLabel('Number to call').fill('+14165550123');
    await page.getByRole('button', { name: 'Call', exact: true }).click();
    const out = page.locator('#calls-table tr', { hasText: '+14165550123' });
    await out.getByText('Outbound').waitFor();
    await out.locator('[data-status="completed"]').waitFor();
    const placed = (await api('GET', `/v1/calls?userId=${users.dave}`)).items[0];
    assert.deepEqual(placed.history.map((x: { status: string }) => x.status).slice(-2), ['answered', 'completed']);
    // the pop can be dismissed from the keyboard
    await pop.getByRole('button', { name: 'Dismiss' }).focus();
    await page.keyboard.press('Enter');
    await pop.waitFor({ state: 'detached' });
  });

  step('calls: a missed inbound call is marked and plays its voicemail; a recorded call plays its recording and shows its wrap-up', async () => {
    await api('PATCH', `/v1/providers/${europeId}`, { recording: 'on', voicemail: 'on' });
    const alice = await api('GET', `/v1/users/${users.alice}`);
    await api('PUT', `/v1/users/${users.alice}`, { region: alice.region, name: alice.name, email: alice.email, numbers: alice.numbers, ringTimeoutSec: 5 });
    /** Loads the player's audio as the browser would play it: its length in seconds. */
    const playable = (audio: ReturnType<Page['locator']>) =>
      audio.evaluate(
        (a: HTMLAudioElement) =>
          new Promise<number>((res, rej) => {
            a.addEventListener('loadedmetadata', () => res(a.duration));
            a.addEventListener('error', () => rej(new Error(`audio error ${a.error?.code}`)));
            if (a.readyState >= 1) res(a.duration);
            else a.load();
          }),
      );
    try {
      const r = await g.req('POST', `/webhooks/sim/${europeId}/inbound`, { body: { from: '+14165550198', to: aliceDid, agentAnswers: false } });
      assert.equal(r.status, 200, r.text);
      const row = page.locator(`#calls-table tr[data-call-id="${r.body.callId}"]`);
      // missed at alice's 5 s ring timeout
      await row.locator('[data-missed]').getByText('Missed').waitFor({ timeout: WAIT });
      const vm = row.locator('[data-media="voicemail"][data-media-status="available"] audio');
      await vm.waitFor({ timeout: WAIT });
      assert.match(String(await vm.getAttribute('src')), /\/v1\/recordings\/[^/?]+\?token=[^&]+$/, 'the signed link');
      assert.match(String(await vm.getAttribute('aria-label')), /^Voicemail of the call from \+14165550198$/);
      assert.ok(Math.abs((await playable(vm)) - 3) < 0.1, 'the 3 s voicemail WAV loads in the player');
      await row.getByRole('link', { name: 'Voicemail (3 s)' }).waitFor();

      // a recorded click-to-call (answered after 1.5 s, 4 s of talk), then the agent's wrap-up
      const placed = await api('POST', '/v1/calls', { userId: users.dave, to: '+14165550124' });
      const prow = page.locator(`#calls-table tr[data-call-id="${placed.id}"]`);
      await prow.locator('[data-media="recording"][data-media-status="pending"]').getByText('Recording pending…').waitFor({ timeout: WAIT });
      const rec = prow.locator('[data-media="recording"][data-media-status="available"] audio');
      await rec.waitFor({ timeout: WAIT });
      assert.ok((await playable(rec)) >= 3, 'the recording loads in the player');
      await prow.getByRole('link', { name: /^Recording \(\d+ s\)$/ }).waitFor();
      assert.equal(await prow.locator('[data-missed]').count(), 0, 'an outbound call is never missed');
      await api('PATCH', `/v1/calls/${placed.id}`, { disposition: 'Interested', subject: 'Quote', notes: 'Call back Monday about the quote.' });
      await prow.locator('[data-disposition="Interested"]').waitFor();
      await prow.getByText('Call back Monday about the quote.').waitFor();
      await prow.getByText('Quote', { exact: true }).waitFor();
      await shot('10b-calls-recording-voicemail');
    } finally {
      await api('PATCH', `/v1/providers/${europeId}`, { recording: 'off', voicemail: 'off' });
    }
  });

  step('provider figures: live performance side by side, costs with the what-if, and a trial with its report and cost per call, from the gateway', async () => {
    // a rate table on Sim Europe: the costs section re-prices the period's calls on it
    await api('PUT', `/v1/providers/${europeId}/rates`, { currency: 'USD', rates: [{ prefix: '+1', perMinute: 0.6 }] });
    await nav('Provider figures', 'Provider figures');
    // Sim Europe has carried calls by now (the inbound and the click-to-call above)
    const row = page.locator(`#perf-table tr[data-provider-id="${europeId}"]`);
    await row.getByRole('rowheader', { name: 'Sim Europe' }).waitFor();
    assert.match(String(await page.locator('svg.chart').first().getAttribute('aria-label')), /Time to answer per provider.*Sim Europe: median \(p50\) \S+/);
    await shot('11-provider-figures');

    const costs = await eventually(async () => {
      const r = await api('GET', '/v1/providers/costs?window=24h');
      return r.providers[europeId]?.calls > 0 ? r : null;
    }, WAIT, "Sim Europe's calls in the cost ledger");
    await page.getByLabel('Costs over').selectOption('24h');
    const costRow = page.locator(`#cost-table tr[data-provider-id="${europeId}"]`);
    await costRow.getByRole('rowheader', { name: 'Sim Europe' }).waitFor();
    assert.equal(await costRow.locator('td').nth(0).textContent(), String(costs.providers[europeId].calls));
    assert.equal(await costRow.locator('td').nth(1).textContent(), String(costs.providers[europeId].billedMinutes));
    const usd = (n: number) => new Intl.NumberFormat('en', { style: 'currency', currency: 'USD', maximumFractionDigits: 4 }).format(n);
    assert.equal(await costRow.locator('td').nth(3).textContent(), usd(costs.whatIf[europeId].amount), 'the what-if on its rates');

    await page.getByLabel('Number to call').fill('+14165550188');
    await page.getByLabel('Calls per provider').fill('2');
    await page.getByLabel('Hang up after answer (ms)').fill('200');
    await page.getByRole('button', { name: 'Start trial' }).click();
    const done = page.locator('#trial-progress').getByText(/^Trial \S+ completed: 2 calls placed, 2 finished\.$/);
    await done.waitFor({ timeout: 60_000 });
    const trialId = /^Trial (\S+) completed/.exec(String(await done.textContent()))![1];
    const report = page.locator(`#trial-table tr[data-provider-id="${europeId}"]`);
    await report.getByRole('rowheader', { name: 'Sim Europe' }).waitFor();
    const t = await api('GET', `/v1/trials/${trialId}`);
    assert.equal(t.status, 'completed');
    const mine = t.report.find((f: any) => f.providerId === europeId);
    assert.equal(await report.locator('td').nth(0).textContent(), String(mine.attempts));
    assert.equal(await report.locator('td').nth(1).textContent(), String(mine.answered));
    assert.equal(mine.cost.calls, 2);
    assert.equal(await report.locator('td').nth(7).textContent(), mine.cost.perCall ? usd(mine.cost.perCall.amount) : 'no rate', 'cost per call');
    await shot('12-trial');
  });

  step('provider figures on a gateway without those endpoints: a clear "not available" state (404s stubbed in the browser)', async () => {
    const notFound = (route: Route) => route.fulfill({ status: 404, json: { error: { code: 'not_found', message: `no route ${route.request().method()} ${new URL(route.request().url()).pathname}` } } });
    await page.route('**/v1/providers/performance?*', notFound);
    await page.route('**/v1/trials', notFound);
    expectedFailures.push(/status of 404 .*\/v1\/(providers\/performance|trials)/);
    try {
      await nav('Users', 'Users');
      await nav('Provider figures', 'Provider figures');
      await page.getByText('Live provider figures are not available on this gateway.').waitFor();
      assert.equal(await page.getByLabel('Period').isDisabled(), true);
      await page.getByLabel('Number to call').fill('+14165550188');
      await page.getByRole('button', { name: 'Start trial' }).click();
      await page.getByText('Trials are not available on this gateway.').waitFor();
      await shot('16-figures-not-available');
    } finally {
      await page.unrouteAll({ behavior: 'ignoreErrors' });
    }
  });

  step('provider figures render the DESIGN.md contract: side by side, a chart, a trial with progress and report (responses stubbed in the browser)', async () => {
    const backup = await api('POST', '/v1/providers', { kind: 'sim', name: 'Sim Backup', config: {} });
    const figures = (providerId: string, n: number) => ({
      providerId,
      attempts: 10 * n,
      answered: 8 * n,
      answerRatio: 0.8 / n,
      setupToRinging: { p50: 0.6 * n, p95: 1.4 * n },
      setupToAnswer: { p50: 3.1 * n, p95: 7.5 * n },
      apiLatency: { p50: 0.09 * n, p95: 0.31 * n },
      failures: { busy: n, 'no-answer': 0 },
    });
    await page.route('**/v1/providers/performance?*', (route) => route.fulfill({ json: { items: [figures(europeId, 1), figures(backup.id, 2)] } }));
    const usd = (amount: number) => ({ amount, currency: 'USD' });
    await page.route('**/v1/providers/costs?*', (route) =>
      route.fulfill({
        json: {
          window: { from: '2026-01-01T00:00:00.000Z', to: '2026-01-08T00:00:00.000Z' },
          providers: { [europeId]: { calls: 6, billedMinutes: 6, cost: { ...usd(0.102), others: [{ amount: 0.5, currency: 'EUR' }] }, unpriced: 1 } },
          whatIf: { [europeId]: { ...usd(0.102), unpriced: 0 }, [backup.id]: { ...usd(0.116), unpriced: 2 } },
          byCountry: { US: { calls: 4, whatIf: { [europeId]: usd(0.06), [backup.id]: usd(0.016) } }, GB: { calls: 2, whatIf: { [europeId]: usd(0.042), [backup.id]: usd(0.1) } } },
          truncated: false,
        },
      }),
    );
    let trialBody: any = null;
    let polls = 0;
    await page.route('**/v1/trials', (route) => {
      trialBody = route.request().postDataJSON();
      return route.fulfill({ status: 202, json: { id: 'trl_stub' } });
    });
    await page.route('**/v1/trials/trl_stub', (route) => {
      polls += 1;
      const running = polls < 3;
      return route.fulfill({
        json: {
          id: 'trl_stub',
          status: running ? 'running' : 'completed',
          progress: { placed: 6, finished: running ? 4 : 6, total: 6 },
          report: [
            { ...figures(europeId, 1), cost: { calls: 6, billedMinutes: 6, total: usd(0.09), perCall: usd(0.015), unpriced: 0 } },
            { ...figures(backup.id, running ? 1 : 3), cost: { calls: 6, billedMinutes: 3, total: null, perCall: null, unpriced: 6 } },
          ],
        },
      });
    });
    try {
      // leave and come back so the page loads with the stubs in place
      await nav('Users', 'Users');
      await nav('Provider figures', 'Provider figures');
      const perf = page.locator('#perf-table');
      await perf.locator(`tr[data-provider-id="${europeId}"]`).getByText('80%').waitFor();
      await perf.locator(`tr[data-provider-id="${backup.id}"]`).getByRole('rowheader', { name: 'Sim Backup' }).waitFor();
      await perf.locator(`tr[data-provider-id="${europeId}"]`).getByText('3.10 s / 7.50 s').waitFor();
      const chart = page.locator('svg.chart').first();
      assert.match(String(await chart.getAttribute('aria-label')), /Time to answer per provider.*Sim Europe: median \(p50\) 3\.10 s, p95 7\.50 s; Sim Backup/);
      assert.equal(await chart.locator('rect.bar').count(), 4, 'two providers × p50 and p95');
      await page.getByLabel('Answer rate').check();
      await eventually(async () => (await page.locator('svg.chart').first().locator('rect.bar').count()) === 2, WAIT, 'answer-rate chart');
      // costs side by side: paid on the provider that carried the calls, and every provider's what-if
      const cells = async (sel: string) => (await page.locator(sel).locator('th, td').allTextContents()).map((x) => x.trim());
      await page.locator(`#cost-table tr[data-provider-id="${backup.id}"]`).waitFor();
      assert.deepEqual(await cells(`#cost-table tr[data-provider-id="${europeId}"]`), ['Sim Europe', '6', '6', '$0.102 + €0.50 (1 call unpriced)', '$0.102']);
      assert.deepEqual(await cells(`#cost-table tr[data-provider-id="${backup.id}"]`), ['Sim Backup', '0', '0', '–', '$0.116 (2 calls not covered)']);
      assert.deepEqual(await page.locator('#cost-country-table thead th').allTextContents(), ['Country', 'Calls', 'Sim Europe', 'Sim Backup']);
      assert.deepEqual(await cells('#cost-country-table tr[data-country="GB"]'), ['GB', '2', '$0.042', '$0.10']);
      assert.deepEqual(await cells('#cost-country-table tbody tr:first-child'), ['US', '4', '$0.06', '$0.016'], 'most calls first');
      await shot('13-provider-figures-side-by-side');

      await page.getByLabel('Number to call').fill('+14165550188');
      await page.getByLabel('Calls per provider').fill('3');
      await page.getByRole('button', { name: 'Start trial' }).click();
      await page.locator('#trial-progress').getByText('Trial trl_stub running: 6 calls placed of 6, 4 finished…').waitFor();
      assert.equal(await page.locator('#trial-progress progress').getAttribute('max'), '6');
      await page.locator('#trial-progress').getByText('Trial trl_stub completed: 6 calls placed, 6 finished.').waitFor({ timeout: 30_000 });
      await page.locator(`#trial-table tr[data-provider-id="${backup.id}"]`).getByText('30').first().waitFor();
      assert.equal(await page.locator(`#trial-table tr[data-provider-id="${europeId}"] td`).nth(7).textContent(), '$0.015', 'cost per call');
      assert.equal(await page.locator(`#trial-table tr[data-provider-id="${backup.id}"] td`).nth(7).textContent(), 'no rate');
      assert.deepEqual({ ...trialBody, providerIds: [...trialBody.providerIds].sort() }, { providerIds: [europeId, backup.id].sort(), to: '+14165550188', calls: 3, concurrency: 2, hangUpAfterMs: 3000 });
      await shot('14-trial-report');
    } finally {
      await page.unrouteAll({ behavior: 'ignoreErrors' });
    }
  });

  step('twilio: secrets are write-only — never shown, "unchanged" on edit, replaced only when retyped', async () => {
    const sid = 'AC' + randomBytes(16).toString('hex');
    const token = 'tok-' + randomBytes(12).toString('hex');
    await nav('Marketplace', 'Provider marketplace');
    await page.getByRole('link', { name: 'Install Twilio' }).click();
    await page.getByRole('heading', { level: 1, name: 'Install Twilio' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Twilio Europe');
    await page.getByLabel('Account SID').fill(sid);
    assert.equal(await page.getByLabel('Auth token').getAttribute('type'), 'password');
    // a missing required secret is caught before anything is sent
    await page.getByLabel('Caller ID (a Twilio number, E.164)').fill('+442079460000');
    await page.getByRole('button', { name: 'Install', exact: true }).click();
    await page.getByRole('alert').getByText('Auth token is required.').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'authToken', 'focus moves to the field at fault');
    await page.getByLabel('Auth token').fill(token);
    // made-up credentials Twilio would refuse: an offline install skips the gateway's check
    const check = page.getByLabel('Check the credentials with the provider now (uncheck for an offline install)');
    assert.equal(await check.isChecked(), true, 'checked by default');
    await check.uncheck();
    await page.getByRole('button', { name: 'Install', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Twilio Europe', exact: true }).waitFor();
    const id = decodeURIComponent(page.url().split('/installed/')[1]);
    await page.getByText('set (write-only, never shown)').waitFor();
    await page.getByText(`/webhooks/twilio/${id}/voice`).waitFor();
    assert.ok(!(await page.content()).includes(token), 'the token is nowhere in the page');

    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Edit Twilio Europe' }).waitFor();
    const tokenField = page.getByLabel('Auth token');
    assert.equal(await tokenField.inputValue(), '');
    assert.equal(await tokenField.getAttribute('placeholder'), 'unchanged');
    assert.equal(await page.getByLabel('Account SID').inputValue(), sid);
    await page.getByLabel('Caller ID (a Twilio number, E.164)').fill('+442079460001');
    await page.getByLabel('Never serve these countries').fill('CN');
    await page.getByLabel('Check changed credentials with the provider (uncheck while it is unreachable)').uncheck();
    await shot('15-edit-provider');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { level: 1, name: 'Twilio Europe', exact: true }).waitFor();
    let stored = await g.gw.parts.backend.directory.getProvider(orgId, id);
    assert.equal(stored?.config.authToken, token, 'an empty secret field keeps the stored secret');
    assert.equal(stored?.config.callerId, '+442079460001');
    assert.deepEqual(stored?.regions, { deny: ['CN'] });

    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByLabel('Auth token').fill('tok-new-value');
    await page.getByLabel('Check changed credentials with the provider (uncheck while it is unreachable)').uncheck();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { level: 1, name: 'Twilio Europe', exact: true }).waitFor();
    stored = await g.gw.parts.backend.directory.getProvider(orgId, id);
    assert.equal(stored?.config.authToken, 'tok-new-value');
  });

  step('sign out forgets the key', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Org API key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('dialgate.apiKey')), null);
  });

  test('no console errors on any page', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
