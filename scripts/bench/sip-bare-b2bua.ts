// The baseline of the SIP inbound benchmark: a bare drachtio-srf B2BUA. Each INVITE's DID is
// looked up in a Map and bridged with srf.createB2BUA (same options as the gateway's inbound
// session) to that agent's phone; no store, no events, no logging. It prints `ready` once
// drachtio-server has authenticated it and, on SIGUSR2 and on SIGTERM, `handled <n>` (the INVITEs
// it took) so the benchmark can tell whether every INVITE reached it.
//
// Env: DRACHTIO_ADDRESS (host:port), DRACHTIO_SECRET, SIP_BENCH_AGENTS (path of a JSON object
// DID → agent sip URI).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { SrfLike } from '../../adapters/sip/srf-types.js';

const require = createRequire(import.meta.url);
const Srf = require('drachtio-srf') as new () => SrfLike;

const [host, port] = (process.env.DRACHTIO_ADDRESS ?? '').split(':');
const agents = new Map<string, string>(Object.entries(JSON.parse(readFileSync(process.env.SIP_BENCH_AGENTS!, 'utf8')) as Record<string, string>));
let handled = 0;

const srf = new Srf();
srf.connect({ host, port: Number(port), secret: process.env.DRACHTIO_SECRET });
srf.on('connect', () => console.log('ready'));
srf.on('error', (err: Error) => console.error(`drachtio: ${err.message}`));

srf.invite((req, res) => {
  handled++;
  const m = /^sips?:([^@;>]+)@/i.exec(req.uri);
  const target = m ? agents.get(decodeURIComponent(m[1])) : undefined;
  if (!target) return res.send(404);
  srf.createB2BUA(req, res, target, { localSdpB: req.body, passFailure: false }).then(
    ({ uas, uac }) => {
      uas.on('destroy', () => void uac.destroy().catch(() => undefined));
      uac.on('destroy', () => void uas.destroy().catch(() => undefined));
    },
    (err: { status?: number }) => {
      if (!res.finalResponseSent) res.send(err.status && err.status >= 300 ? err.status : 500);
    },
  );
});

process.on('SIGUSR2', () => console.log(`handled ${handled}`));
process.on('SIGTERM', () => {
  console.log(`handled ${handled}`);
  srf.disconnect();
  setTimeout(() => process.exit(0), 50);
});
