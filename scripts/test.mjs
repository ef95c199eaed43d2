#!/usr/bin/env node
// `npm test`: when redis-server (and redis-cli) are on PATH, starts in parallel a throwaway
// redis-server and a throwaway 3-master Redis Cluster on free loopback ports (failing with one
// clear line if either cannot start), stopped and removed on exit; else uses REDIS_URL (and
// REDIS_CLUSTER_NODES, if set) as they are; else stops with a clear message. Then it runs every
// test/**/*.test.ts with node:test. It flushes no Redis at all, its own or another: tests use
// fresh random org ids and key prefixes.
//
// To the tests: DIALGATE_TEST_REDIS_URL, and for the cluster DIALGATE_TEST_CLUSTER_NODES
// (host:port,...); for throwaway servers also DIALGATE_TEST_REDIS_OWNED=1 / DIALGATE_TEST_REDIS_DIR
// and DIALGATE_TEST_CLUSTER_OWNED=1 / DIALGATE_TEST_CLUSTER_DIRS (one dir per node, in the order
// of the nodes; each holds that node's nodes.conf, AOF and redis-server.argv.json, the exact
// arguments it was started with, so a test may restart it: see test/helpers/cluster.ts).
//
//   npm test                      all suites
//   npm test -- test/store        only files under a path (or a single file)

import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const CLUSTER_MASTERS = 3;
const CLUSTER_BUS_OFFSET = 10_000; // a cluster node also listens on port+10000 (its bus)
const CLUSTER_READY_MS = 20_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function listen(port) {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(null));
    srv.listen(port, '127.0.0.1', () => res(srv));
  });
}

/** `plain` ports free on 127.0.0.1, then `bussed` more whose port+10000 is free too; all
 *  distinct (every one is held open until all are chosen). */
async function freePorts(plain, bussed) {
  const held = [];
  const chosen = [];
  try {
    for (let tries = 0; chosen.length < plain + bussed; tries++) {
      if (tries > 1000) throw new Error('found no free ports on 127.0.0.1');
      const srv = await listen(0);
      if (!srv) continue;
      held.push(srv);
      const { port } = srv.address();
      if (chosen.length >= plain) {
        const bus = port + CLUSTER_BUS_OFFSET <= 65535 ? await listen(port + CLUSTER_BUS_OFFSET) : null;
        if (!bus) continue;
        held.push(bus);
      }
      chosen.push(port);
    }
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
  return { plain: chosen.slice(0, plain), bussed: chosen.slice(plain) };
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

function collect(target, out) {
  const st = statSync(target);
  if (st.isFile()) {
    if (target.endsWith('.test.ts')) out.push(target);
    return out;
  }
  for (const name of readdirSync(target).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    collect(join(target, name), out);
  }
  return out;
}

// Every redis-server this script started and every dir it made; stop() ends and removes them.
// A cluster node that a test restarted is no child of ours: its dir's redis-server.pid names it.
const procs = [];
const dirs = [];

function lastLine(text) {
  return (text ?? '').trim().split('\n').filter(Boolean).pop() ?? '';
}

function logTail(dir) {
  const log = join(dir, 'redis.log');
  return existsSync(log) ? lastLine(readFileSync(log, 'utf8')) : '';
}

async function waitForRedis(port, proc, what, dir) {
  const { Redis } = await import('ioredis');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      const why = dir ? logTail(dir) : '';
      throw new Error(`${what} exited with code ${proc.exitCode}${why ? `: ${why}` : ''}`);
    }
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return;
    } catch {
      c.disconnect();
      await sleep(50);
    }
  }
  throw new Error(`${what} did not answer within 10 s`);
}

async function startRedis(port) {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'dialgate-test-redis-'));
  dirs.push(dir);
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  procs.push(proc);
  await waitForRedis(port, proc, 'redis-server');
  return { port, dir, seconds: (Date.now() - started) / 1000 };
}

/** Runs a command to its end (bounded); resolves with its exit code and output. */
function run(cmd, args, timeoutMs) {
  return new Promise((res) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\nstopped after ${timeoutMs / 1000} s`;
      p.kill('SIGKILL');
    }, timeoutMs);
    p.on('error', (e) => (out += `\n${e.message}`));
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      res({ code: code ?? signal, out });
    });
  });
}

function infoField(info, name) {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** Until every node says cluster_state:ok, knows every node and sees all 16384 slots assigned. */
async function waitForClusterOk(ports) {
  const { Redis } = await import('ioredis');
  const clients = ports.map((port) => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => 50 }));
  clients.forEach((c) => c.on('error', () => {}));
  const deadline = Date.now() + CLUSTER_READY_MS;
  try {
    for (;;) {
      const infos = await Promise.all(clients.map((c) => c.call('CLUSTER', 'INFO').catch((e) => `error:${e.message}`)));
      const notOk = infos
        .map((info, i) => ({ port: ports[i], state: infoField(info, 'cluster_state'), slots: infoField(info, 'cluster_slots_assigned'), known: infoField(info, 'cluster_known_nodes'), error: infoField(info, 'error') }))
        .filter((n) => n.state !== 'ok' || n.slots !== '16384' || n.known !== String(ports.length));
      if (notOk.length === 0) return;
      if (Date.now() > deadline) {
        const say = notOk.map((n) => (n.error ? `${n.port}: ${n.error}` : `${n.port}: cluster_state:${n.state} slots_assigned:${n.slots} known_nodes:${n.known}`));
        throw new Error(`not ready after ${CLUSTER_READY_MS / 1000} s (${say.join('; ')})`);
      }
      await sleep(100);
    }
  } finally {
    clients.forEach((c) => c.disconnect());
  }
}

/** The arguments of one cluster node; written to its dir so a test restarts it with the same. */
function clusterNodeArgs(port, dir) {
  return [
    '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '3000',
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--loglevel', 'warning',
    '--cluster-require-full-coverage', 'no', '--cluster-allow-reads-when-down', 'no',
    // beyond the settings: where it logs (a failure quotes it) and its pid (stop() finds a node a test restarted)
    '--logfile', join(dir, 'redis.log'), '--pidfile', join(dir, 'redis-server.pid'),
  ];
}

async function startCluster(ports) {
  const started = Date.now();
  const nodeDirs = ports.map((port) => mkdtempSync(join(tmpdir(), `dialgate-test-cluster-${port}-`)));
  dirs.push(...nodeDirs);
  const nodes = ports.map((port, i) => {
    const args = clusterNodeArgs(port, nodeDirs[i]);
    writeFileSync(join(nodeDirs[i], 'redis-server.argv.json'), JSON.stringify(args));
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    procs.push(proc);
    return proc;
  });
  await Promise.all(nodes.map((proc, i) => waitForRedis(ports[i], proc, `cluster node ${ports[i]}`, nodeDirs[i])));
  const create = await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], 30_000);
  if (create.code !== 0) throw new Error(`redis-cli --cluster create exited ${create.code}: ${lastLine(create.out)}`);
  await waitForClusterOk(ports);
  return { ports, dirs: nodeDirs, seconds: (Date.now() - started) / 1000 };
}

function isLiveRedis(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false; // a zombie nobody reaped
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server');
  } catch {
    return true; // no /proc: trust the pid
  }
}

function ourRedisPids() {
  const pids = new Set(procs.filter((p) => p.exitCode === null && p.signalCode === null && p.pid).map((p) => p.pid));
  for (const dir of dirs) {
    try {
      pids.add(Number(readFileSync(join(dir, 'redis-server.pid'), 'utf8').trim()));
    } catch {
      // no pid file: that node is not running (redis-server removes it on shutdown)
    }
  }
  return [...pids].filter((pid) => pid > 0 && isLiveRedis(pid));
}

function signalAll(pids, signal) {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function removeDirs() {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Ends every redis-server we started (SIGTERM, SIGKILL after 3 s) and removes their dirs. */
let stopping = null;
function stop() {
  stopping ??= (async () => {
    const pids = ourRedisPids();
    signalAll(pids, 'SIGTERM');
    const deadline = Date.now() + 3000;
    while (pids.some(isLiveRedis) && Date.now() < deadline) await sleep(25);
    signalAll(pids.filter(isLiveRedis), 'SIGKILL');
    removeDirs();
  })();
  return stopping;
}
// last resort, when the script ends some other way (an uncaught error)
process.on('exit', () => {
  signalAll(ourRedisPids(), 'SIGKILL');
  removeDirs();
});

let child = null;
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (child) return void child.kill(signal);
    // still starting Redis: stop what has started and end
    interrupted = true;
    stop().then(() => process.exit(130));
  });
}

async function main() {
  const args = process.argv.slice(2);
  const targets = args.length ? args.map((a) => resolve(a)) : [join(root, 'test')];
  const files = targets.flatMap((t) => collect(t, []));
  if (files.length === 0) {
    console.error('no test files found under', targets.join(', '));
    process.exit(1);
  }

  const env = { ...process.env };
  for (const name of ['DIALGATE_TEST_REDIS_OWNED', 'DIALGATE_TEST_REDIS_DIR', 'DIALGATE_TEST_CLUSTER_NODES', 'DIALGATE_TEST_CLUSTER_OWNED', 'DIALGATE_TEST_CLUSTER_DIRS']) {
    delete env[name]; // only this script says what it started
  }
  if (onPath('redis-server')) {
    if (!onPath('redis-cli')) {
      throw new Error('npm test: redis-cli is not on PATH beside redis-server; the tests need it to create a throwaway Redis Cluster (Debian: apt-get install redis-tools).');
    }
    const ports = await freePorts(1, CLUSTER_MASTERS);
    const [single, cluster] = await Promise.allSettled([startRedis(ports.plain[0]), startCluster(ports.bussed)]);
    if (single.status === 'rejected') throw new Error(`npm test: could not start the throwaway redis-server: ${single.reason.message}`);
    if (cluster.status === 'rejected') {
      throw new Error(`npm test: could not start the throwaway Redis Cluster on ports ${ports.bussed.join(',')}: ${cluster.reason.message}`);
    }
    const { port, dir } = single.value;
    env.DIALGATE_TEST_REDIS_URL = `redis://127.0.0.1:${port}`;
    // the throwaway server is ours, so suites that restart Redis may do so
    env.DIALGATE_TEST_REDIS_OWNED = '1';
    env.DIALGATE_TEST_REDIS_DIR = dir;
    console.log(`# test redis-server started on port ${port} (throwaway, ${single.value.seconds.toFixed(1)} s)`);
    env.DIALGATE_TEST_CLUSTER_NODES = cluster.value.ports.map((p) => `127.0.0.1:${p}`).join(',');
    // ours too: suites may restart its masters (same arguments and dir: see test/helpers/cluster.ts)
    env.DIALGATE_TEST_CLUSTER_OWNED = '1';
    env.DIALGATE_TEST_CLUSTER_DIRS = cluster.value.dirs.join(',');
    console.log(`# test redis cluster started on ports ${cluster.value.ports.join(',')} (throwaway, ${cluster.value.seconds.toFixed(1)} s)`);
  } else if (process.env.REDIS_URL) {
    env.DIALGATE_TEST_REDIS_URL = process.env.REDIS_URL;
    console.log('# no redis-server on PATH: using REDIS_URL (it is never flushed; suites that restart Redis are skipped)');
    if (process.env.REDIS_CLUSTER_NODES) {
      env.DIALGATE_TEST_CLUSTER_NODES = process.env.REDIS_CLUSTER_NODES;
      console.log('# using REDIS_CLUSTER_NODES for the cluster suites (never flushed; suites that restart a cluster node are skipped)');
    } else {
      console.log('# no REDIS_CLUSTER_NODES (host:port,... of a Redis Cluster the tests may use): the cluster suites will fail');
    }
  } else {
    console.error(
      'npm test needs Redis: install redis-server (Debian: apt-get install redis-server) so the tests can start a throwaway one, or set REDIS_URL to a Redis they may use.',
    );
    process.exit(1);
  }
  if (interrupted) return;

  // the admin console's files (dist/admin): its suites and the gateway's /admin serve them, and
  // a fresh clone has none yet; esbuild takes about a second
  const admin = spawnSync(process.execPath, [join(root, 'admin', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  if (admin.status !== 0) {
    console.error('npm test: building the admin console (node admin/build.mjs) failed');
    process.exit(1);
  }

  const concurrency = process.env.TEST_CONCURRENCY ?? '2';
  child = spawn(
    process.execPath,
    // --test-timeout bounds any single test (10 min) so a stuck one fails instead of hanging.
    // No --test-force-exit: with files run concurrently it silently drops the verdicts of a
    // file's last tests from the report (nodejs/node#64833; seen here as 776 of 781 tests
    // reported, exit 0). test-exit-when-done.mjs ends a file kept alive after its tests instead.
    ['--import', 'tsx', '--import', './scripts/test-exit-when-done.mjs', '--test', '--test-timeout=600000', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
    { stdio: 'inherit', env, cwd: root },
  );
  // the whole run normally takes a few minutes; far beyond that, a test file is being kept alive
  // after its tests ended (an open handle): stop with a clear message rather than hang CI
  const runLimitMs = Number(process.env.TEST_RUN_TIMEOUT_MS ?? 40 * 60_000);
  const watchdog = setTimeout(() => {
    console.error(`\nnpm test: still running after ${Math.round(runLimitMs / 60_000)} min; a test file did not end (an open handle?). Stopping.`);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    process.exitCode = 1;
  }, runLimitMs);
  watchdog.unref();
  child.on('exit', async (code, signal) => {
    clearTimeout(watchdog);
    await stop();
    process.exit(process.exitCode || (code ?? (signal ? 1 : 0)));
  });
}

main().catch(async (e) => {
  console.error(e.message ?? e);
  await stop();
  process.exit(1);
});
