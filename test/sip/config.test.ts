// The sip provider's config schema and parsing, the inbound allow list, number reading, and the
// double's own framing (byte lengths, split frames, bad length specifiers).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { AddressFilter } from '../../adapters/sip/address-filter.js';
import { configSchema, parseConfig, parseSipUri, trunkTarget } from '../../adapters/sip/config.js';
import { toE164, userPart } from '../../adapters/sip/inbound.js';
import { statusForFailure } from '../../adapters/sip/status-map.js';
import { FrameDecoder, FrameError, frame } from '../fakes/drachtio/framing.js';

const good = {
  drachtio: { host: '127.0.0.1', port: 9022, secret: 's3cret-value' },
  trunk: { uri: 'sip:trunk.example.test:5080;transport=tcp', username: 'u', password: 'p4ss' },
  callerId: '+15550001111',
  inboundAllow: ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32'],
};

describe('sip config', () => {
  const validate = new Ajv({ strict: false }).compile(configSchema);

  test('the schema accepts a full config and refuses missing or extra fields', () => {
    assert.equal(validate(good), true, JSON.stringify(validate.errors));
    assert.equal(validate({ ...good, drachtio: { host: 'h', port: 9022 } }), false);
    assert.equal(validate({ ...good, callerId: '5550001111' }), false);
    assert.equal(validate({ ...good, extra: 1 }), false);
    assert.equal(validate({ ...good, customerLegTimeoutMs: 32_000 }), false, 'the customer leg must stay below 64×T1');
  });

  test('parseConfig fills defaults and rejects what the schema cannot see, without echoing secrets', () => {
    const c = parseConfig(good);
    assert.equal(c.optionsIntervalMs, 30_000);
    assert.equal(c.optionsFailureThreshold, 3);
    assert.equal(c.customerLegTimeoutMs, 25_000);
    assert.equal(trunkTarget(c.trunk.parsed, '+15551230000'), 'sip:+15551230000@trunk.example.test:5080;transport=tcp');
    assert.throws(() => parseConfig({ ...good, trunk: { uri: 'http://x' } }), /trunk.uri is not a sip: URI/);
    assert.throws(() => parseConfig({ ...good, inboundAllow: ['10.0.0.0/33'] }), /invalid prefix length/);
    assert.throws(() => parseConfig({ ...good, inboundAllow: ['not-an-ip'] }), /not an IP address or CIDR/);
    try {
      parseConfig({ ...good, callerId: 'x' });
      assert.fail('should throw');
    } catch (e) {
      assert.ok(!String((e as Error).message).includes('s3cret-value'));
      assert.ok(!String((e as Error).message).includes('p4ss'));
    }
  });

  test('SIP URIs', () => {
    assert.deepEqual(parseSipUri('sip:10.1.2.3'), { scheme: 'sip', user: undefined, host: '10.1.2.3', port: undefined, params: '' });
    assert.equal(parseSipUri('sips:carrier.test:5061')?.port, 5061);
    assert.equal(parseSipUri('sip:a b'), null);
  });

  test('inboundAllow: addresses and CIDRs, IPv4 and IPv6, IPv4-mapped', () => {
    const f = new AddressFilter(good.inboundAllow);
    assert.ok(f.allows('127.0.0.1'));
    assert.ok(f.allows('10.200.3.4'));
    assert.ok(f.allows('::ffff:10.1.1.1'));
    assert.ok(f.allows('2001:db8:1::5'));
    assert.ok(!f.allows('127.0.0.2'));
    assert.ok(!f.allows('11.0.0.1'));
    assert.ok(!f.allows(''));
    assert.ok(!f.allows('garbage'));
  });

  test('DIDs and caller numbers are read as E.164', () => {
    assert.equal(userPart('sip:+15557770000@1.2.3.4:5060;user=phone'), '+15557770000');
    assert.equal(userPart('"Bob" <sip:15557770000@x>;tag=1'), '15557770000');
    assert.equal(userPart('<tel:+15557770000>'), '+15557770000');
    assert.equal(toE164('+15557770000'), '+15557770000');
    assert.equal(toE164('0015557770000'), '+15557770000');
    assert.equal(toE164('15557770000'), '+15557770000');
    assert.equal(toE164('6135550123', 'CA'), '+16135550123');
    assert.equal(toE164('anonymous'), null);
  });

  test('SIP failures map to the normalised statuses', () => {
    assert.equal(statusForFailure(486), 'busy');
    assert.equal(statusForFailure(600), 'busy');
    assert.equal(statusForFailure(480), 'no-answer');
    assert.equal(statusForFailure(408), 'no-answer');
    assert.equal(statusForFailure(487, { weCanceled: true }), 'canceled');
    assert.equal(statusForFailure(487, { timedOut: true }), 'no-answer');
    assert.equal(statusForFailure(404), 'failed');
    assert.equal(statusForFailure(503), 'failed');
    assert.equal(statusForFailure(undefined), 'failed');
  });
});

describe('drachtio wire framing (the double)', () => {
  test('lengths count UTF-8 bytes and frames may arrive split anywhere', () => {
    const payload = 'id-1|sip|||\r\nMESSAGE sip:a@b SIP/2.0\r\nSubject: café ☎\r\n\r\n';
    const bytes = frame(payload);
    assert.ok(bytes.toString('utf8').startsWith(`${Buffer.byteLength(payload)}#`));
    const both = Buffer.concat([bytes, frame('id-2|ping')]);
    for (let cut = 1; cut < both.length; cut += 7) {
      const d = new FrameDecoder();
      const out = [...d.push(both.subarray(0, cut)), ...d.push(both.subarray(cut))];
      assert.deepEqual(out, [payload, 'id-2|ping']);
    }
  });

  test('a bad length specifier is refused (drachtio-server drops such a client)', () => {
    assert.throws(() => new FrameDecoder().push(Buffer.from('12x#hello')), FrameError);
    assert.throws(() => new FrameDecoder().push(Buffer.from('1234567#x')), FrameError);
  });
});
