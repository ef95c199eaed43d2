// Helpers for suites that use the test Redis Cluster (scripts/test.mjs starts a throwaway
// 3-master one; see test/helpers/redis.ts for where it is). Nothing here flushes data: keys are
// only moved (reshard, rebalance) or kept through a restart; each test removes its own keys.
//
// Suites that move slots or restart a node change the cluster for every suite running at the same
// time: their clients see MOVED/ASK and reconnects, which a Cluster client follows. Two suites
// that reshard at the same time can make redis-cli refuse ("open slots"): such suites should leave
// the cluster as they found it (reshard back or rebalanceBack() in an after hook).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { clusterOwned, testClusterNodes } from './redis.js';

export const CLUSTER_SLOTS = 16384;

export interface ClusterMaster {
  id: string;
  host: string;
  port: number;
  /** how many hash slots it serves */
  slots: number;
  /** the slots it serves, as inclusive [first, last] ranges in ascending order */
  ranges: [number, number][];
}

/** A new Cluster client on the test cluster (masters only; slots refreshed every 500 ms); the caller quits it. */
export function testClusterClient(options: ClusterOptions = {}): Cluster {
  return new Cluster(testClusterNodes(), { scaleReads: 'master', slotsRefreshInterval: 500, ...options });
}

function crc16(bytes: Uint8Array): number {
  let crc = 0; // CRC16-CCITT (XMODEM), as Redis Cluster hashes keys
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The hash slot of a key, as Redis computes it: CRC16 mod 16384 of the key, or only of what lies
 *  between its first `{` and the first `}` after it when that is not empty. (ioredis's
 *  cluster-key-slot 1.1.1 differs for keys like `{}{x}`: it hashes `{x` where Redis hashes the
 *  whole key; the test of this checks against the server's CLUSTER KEYSLOT.) */
export function slotOf(key: string | Buffer): number {
  const bytes = typeof key === 'string' ? Buffer.from(key) : key;
  const open = bytes.indexOf(0x7b);
  const close = open < 0 ? -1 : bytes.indexOf(0x7d, open + 1);
  return crc16(close > open + 1 ? bytes.subarray(open + 1, close) : bytes) % CLUSTER_SLOTS;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hostOf(port: number): string {
  return testClusterNodes().find((n) => n.port === port)?.host ?? '127.0.0.1';
}

/** Runs fn on a plain connection to one node, then closes it. */
async function onNode<T>(port: number, fn: (c: Redis) => Promise<T>, host = hostOf(port)): Promise<T> {
  const c = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => {}); // a refused connection rejects the command below
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

/** CLUSTER NODES of the first test node that answers. */
async function clusterNodesText(): Promise<string> {
  let last: unknown;
  for (const n of testClusterNodes()) {
    try {
      return (await onNode(n.port, (c) => c.call('CLUSTER', 'NODES'), n.host)) as string;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`no test cluster node answered: ${(last as Error)?.message}`);
}

interface NodeLine {
  id: string;
  host: string;
  port: number;
  flags: string[];
  /** owned slot ranges as written ("0-5460", "7"); migrating/importing entries ("[...]") apart */
  ranges: string[];
  open: string[];
}

function parseClusterNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, addr, flags, , , , , , ...slots] = line.trim().split(' ');
      const hostPort = addr.split('@')[0];
      const at = hostPort.lastIndexOf(':');
      return {
        id,
        host: hostPort.slice(0, at),
        port: Number(hostPort.slice(at + 1)),
        flags: flags.split(','),
        ranges: slots.filter((s) => !s.startsWith('[')),
        open: slots.filter((s) => s.startsWith('[')),
      };
    });
}

function slotRanges(ranges: string[]): [number, number][] {
  return ranges
    .map((r): [number, number] => {
      const [a, b = a] = r.split('-').map(Number);
      return [a, b];
    })
    .sort((x, y) => x[0] - y[0]);
}

/** The cluster's masters and the slots each serves (from CLUSTER NODES), by port. */
export async function masters(): Promise<ClusterMaster[]> {
  return parseClusterNodes(await clusterNodesText())
    .filter((n) => n.flags.includes('master'))
    .map((n) => {
      const ranges = slotRanges(n.ranges);
      return { id: n.id, host: n.host, port: n.port, slots: ranges.reduce((sum, [a, b]) => sum + b - a + 1, 0), ranges };
    })
    .sort((a, b) => a.port - b.port);
}

/** The master serving a hash slot (from CLUSTER SLOTS). */
export async function nodeForSlot(slot: number): Promise<{ id: string; host: string; port: number }> {
  const n = testClusterNodes()[0];
  const ranges = (await onNode(n.port, (c) => c.call('CLUSTER', 'SLOTS'), n.host)) as [number, number, [string, number, string]][];
  const range = ranges.find(([start, end]) => start <= slot && slot <= end);
  if (!range) throw new Error(`slot ${slot} is served by no master`);
  const [host, port, id] = range[2];
  return { id, host, port };
}

/** A node's id (CLUSTER MYID). */
export async function nodeId(port: number): Promise<string> {
  return (await onNode(port, (c) => c.call('CLUSTER', 'MYID'))) as string;
}

/** Waits until every test node says cluster_state:ok with all 16384 slots assigned, flags no node
 *  as failing, has no slot half-migrated, and all agree on who serves which slot. */
export async function waitForClusterOk(timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let why = '';
  for (;;) {
    why = await clusterNotOk();
    if (!why) return;
    if (Date.now() > deadline) throw new Error(`test cluster not ok after ${timeoutMs / 1000} s: ${why}`);
    await sleep(100);
  }
}

async function clusterNotOk(): Promise<string> {
  const views: string[] = [];
  for (const n of testClusterNodes()) {
    try {
      const [info, nodes] = await onNode(n.port, (c) => Promise.all([c.call('CLUSTER', 'INFO'), c.call('CLUSTER', 'NODES')]), n.host) as [string, string];
      const state = /^cluster_state:(\w+)/m.exec(info)?.[1];
      const assigned = /^cluster_slots_assigned:(\d+)/m.exec(info)?.[1];
      if (state !== 'ok' || assigned !== String(CLUSTER_SLOTS)) return `${n.port}: cluster_state:${state} slots_assigned:${assigned}`;
      const lines = parseClusterNodes(nodes);
      const failing = lines.filter((l) => l.flags.some((f) => f === 'fail' || f === 'fail?'));
      if (failing.length) return `${n.port} sees ${failing.map((l) => `${l.port} ${l.flags.join(',')}`).join('; ')}`;
      if (lines.some((l) => l.open.length)) return `${n.port} has slots half-migrated`;
      views.push(lines.filter((l) => l.ranges.length).map((l) => `${l.id}:${l.ranges.join(' ')}`).sort().join('|'));
    } catch (e) {
      return `${n.port}: ${(e as Error).message}`;
    }
  }
  return views.every((v) => v === views[0]) ? '' : 'nodes do not agree yet on who serves which slot';
}

/** Runs a command to its end; resolves with its exit code, stdout and stderr. */
function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', (e) => (stderr += `${e.message}\n`));
    const timer = setTimeout(() => {
      stderr += `killed after ${timeoutMs / 1000} s\n`;
      p.kill('SIGKILL');
    }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

/** Runs `redis-cli --cluster <args>`; rejects with its stderr (and its last [ERR] lines) unless it exits 0. */
async function redisCliCluster(args: string[], timeoutMs = 120_000): Promise<string> {
  const { code, stdout, stderr } = await run('redis-cli', ['--cluster', ...args], timeoutMs);
  if (code !== 0) {
    const errs = stdout.split('\n').filter((l) => l.includes('[ERR]') || l.startsWith('*** '));
    throw new Error(`redis-cli --cluster ${args[0]} exited ${code}: ${[stderr.trim(), ...errs].filter(Boolean).join(' / ') || stdout.trim().split('\n').pop()}`);
  }
  return stdout;
}

function seed(): string {
  const n = testClusterNodes()[0];
  return `${n.host}:${n.port}`;
}

/** Moves `slots` hash slots (the lowest-numbered that fromPort serves, as redis-cli picks them),
 *  with their keys, from one master to another; resolves once every node agrees. */
export async function reshard(fromPort: number, toPort: number, slots: number): Promise<void> {
  await waitForClusterOk();
  const [from, to] = await Promise.all([nodeId(fromPort), nodeId(toPort)]);
  await redisCliCluster(['reshard', seed(), '--cluster-from', from, '--cluster-to', to, '--cluster-slots', String(slots), '--cluster-yes', '--cluster-pipeline', '100']);
  await waitForClusterOk();
}

/** Evens out the masters' slot counts again (redis-cli --cluster rebalance), after a suite moved
 *  slots; a no-op on a balanced cluster (5462/5461/5461). Slot ranges may differ from before. */
export async function rebalanceBack(): Promise<void> {
  await waitForClusterOk();
  // threshold 0.1 %: a difference of one slot (16384 does not divide by 3) is balanced; 20 slots are not
  await redisCliCluster(['rebalance', seed(), '--cluster-use-empty-masters', '--cluster-threshold', '0.1', '--cluster-pipeline', '100']);
  await waitForClusterOk();
}

/** CPU seconds (used_cpu_sys + used_cpu_user of INFO cpu) each master has used since it started. */
export async function clusterCpuSeconds(): Promise<(ClusterMaster & { cpuSeconds: number })[]> {
  return Promise.all(
    (await masters()).map(async (m) => {
      const info = (await onNode(m.port, (c) => c.info('cpu'), m.host)) as string;
      const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
      return { ...m, cpuSeconds: field('used_cpu_sys') + field('used_cpu_user') };
    }),
  );
}

function nodeDir(port: number): string {
  const nodes = testClusterNodes();
  const dirs = (process.env.DIALGATE_TEST_CLUSTER_DIRS ?? '').split(',');
  const i = nodes.findIndex((n) => n.port === port);
  if (i < 0) throw new Error(`port ${port} is not a test cluster node (${nodes.map((n) => n.port).join(',')})`);
  if (!dirs[i]) throw new Error('DIALGATE_TEST_CLUSTER_DIRS does not name this node\'s dir: run the tests with `npm test`');
  return dirs[i];
}

/** Shuts a master down (SHUTDOWN: its AOF is flushed) and starts it again with the same arguments
 *  and dir, so it keeps its nodes.conf (id, slots) and its data; resolves once the cluster is ok
 *  everywhere again. Only on the throwaway cluster of `npm test` (see clusterOwned()). */
export async function restartMaster(port: number): Promise<void> {
  if (!clusterOwned()) {
    throw new Error('restartMaster needs the throwaway cluster of `npm test` (DIALGATE_TEST_CLUSTER_OWNED=1): it would shut down a node of a shared cluster');
  }
  const dir = nodeDir(port);
  const argv = JSON.parse(readFileSync(join(dir, 'redis-server.argv.json'), 'utf8')) as string[];
  const pidFile = join(dir, 'redis-server.pid');
  await waitForClusterOk();
  await onNode(port, async (c) => {
    try {
      await c.call('SHUTDOWN');
    } catch (e) {
      // the server closes the connection instead of answering when it shuts down
      if (!/Connection is closed|ECONNRESET/.test((e as Error).message)) throw e;
    }
  });
  // redis-server removes its pid file last; it holds a lock on nodes.conf until it has exited, so a
  // new one may still find it taken for a moment: then it exits at once and is started again
  const deadline = Date.now() + 15_000;
  while (existsSync(pidFile)) {
    if (Date.now() > deadline) throw new Error(`cluster node ${port} did not shut down within 15 s`);
    await sleep(20);
  }
  for (;;) {
    const proc = spawn('redis-server', argv, { detached: true, stdio: 'ignore' });
    proc.unref(); // it outlives this test file; scripts/test.mjs stops it through its pid file
    const answered = await waitForPing(port, () => proc.exitCode !== null, deadline);
    if (answered) break;
    if (Date.now() > deadline) {
      const log = readFileSync(join(dir, 'redis.log'), 'utf8').trim().split('\n').pop();
      throw new Error(`cluster node ${port} did not come back within 15 s: ${log}`);
    }
    await sleep(100);
  }
  await waitForClusterOk();
}

/** True once the node answers PING; false if exited() turns true (or the deadline passes) first. */
async function waitForPing(port: number, exited: () => boolean, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    if (exited()) return false;
    try {
      if ((await onNode(port, (c) => c.ping())) === 'PONG') return true;
    } catch {
      // not listening yet, or still loading its AOF
    }
    await sleep(50);
  }
  return false;
}

/**
 * Runs fn while no other test file changes the cluster's layout (resharding, restarting a node):
 * test files run in parallel, and redis-cli refuses to move slots while another move is open.
 * A lock directory beside the first node's data (mkdir is atomic), waited for up to 10 minutes.
 */
export async function withClusterLock<T>(fn: () => Promise<T>): Promise<T> {
  const base = (process.env.DIALGATE_TEST_CLUSTER_DIRS ?? '').split(',')[0] || tmpdir();
  const lock = join(base, 'layout.lock');
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (Date.now() > deadline) throw new Error(`the cluster layout lock ${lock} stayed taken for 10 minutes`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
