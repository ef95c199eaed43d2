// Every X-Twilio-Signature vector of the project's verified protocol notes (PROTOCOLS.md §1, copied
// here with their expected values), plus the negative cases.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  bodySha256,
  candidateUrls,
  computeSignature,
  validateRequest,
  validateRequestWithBody,
} from '../../adapters/twilio/signature.js';

const token = '12345';
const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const params = {
  CallSid: 'CA1234567890ABCDE',
  Caller: '+14158675309',
  Digits: '1234',
  From: '+14158675309',
  To: '+18005551212',
};
const body = '{"property": "value", "boolean": true}';
const bodyHash = '0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620';
const emptyBodyHash = '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

describe('PROTOCOLS.md vectors', () => {
  test('defaults', () => {
    assert.equal(computeSignature(token, url, params), 'RSOYDt4T1cUTdK1PDd93/VVr8B8=');
    assert.ok(validateRequest(token, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', url, params));
  });

  test('signed with :443, requested without a port', () => {
    assert.ok(validateRequest(token, 'kvajT1Ptam85bY51eRf/AJRuM3w=', url, params));
  });

  test('http signed with :80, requested without a port', () => {
    assert.ok(validateRequest(token, '0ZXoZLH/DfblKGATFgpif+LLRf4=', url.replace('https', 'http'), params));
  });

  test('http with port 1234', () => {
    const u = 'http://mycompany.com:1234/myapp.php?foo=1&bar=2';
    assert.ok(validateRequest(token, 'Zmvh+3yNM1Phv2jhDCwEM3q5ebU=', u, params));
  });

  test('https with any port also validates against the port-less signature', () => {
    const u = 'https://mycompany.com:1234/myapp.php?foo=1&bar=2';
    assert.ok(validateRequest(token, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', u, params));
  });

  test('https requested with :443 validates against the port-less signature', () => {
    const u = 'https://mycompany.com:443/myapp.php?foo=1&bar=2';
    assert.ok(validateRequest(token, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', u, params));
    assert.ok(validateRequest(token, 'kvajT1Ptam85bY51eRf/AJRuM3w=', u, params));
  });

  test('credentials in the URL, with and without :443', () => {
    const u = 'https://user:pass@mycompany.com/myapp.php?foo=1&bar=2';
    assert.ok(validateRequest(token, 'CukzLTc1tT5dXEDIHm/tKBanW10=', u, params));
    assert.ok(validateRequest(token, 'ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=', u, params));
  });

  test('username only', () => {
    const u = 'https://user@mycompany.com/myapp.php?foo=1&bar=2';
    assert.ok(validateRequest(token, '2YRLlVAflCqxaNicjMpJcSTgzSs=', u, params));
  });

  test("special characters: both the %27 (current) and raw ' (older) signatures", () => {
    const u = url + "&Body=It's+amazing";
    assert.ok(validateRequest(token, 'TfZzewPq8wqrGlMfyAud8+/IvJ0=', u, params));
    assert.ok(validateRequest(token, 'dsq4Ehbj6cs+KdTkpF5sSSplOWw=', u, params));
    // and when the proxy handed us the already-encoded form
    const encoded = url + '&Body=It%27s+amazing';
    assert.ok(validateRequest(token, 'TfZzewPq8wqrGlMfyAud8+/IvJ0=', encoded, params));
  });

  test('array parameter, in any order', () => {
    const sig = '83O6e2vORAoJHUNzJjDWN1jz+BA=';
    assert.ok(validateRequest(token, sig, url, { 'MessagingBinding.Address': ['+1325xxxxxxx', '+1415xxxxxxx'] }));
    assert.ok(validateRequest(token, sig, url, { 'MessagingBinding.Address': ['+1415xxxxxxx', '+1325xxxxxxx'] }));
  });

  test('several params with a duplicated array value', () => {
    const p = { Sid: 'CA123', SidAccount: 'AC123', Digits: ['5678', '1234', '1234'] };
    assert.ok(validateRequest(token, 'IK+Dwps556ElfBT0I3Rgjkr1wJU=', url, p));
  });

  test('JSON body: sha256 and the bodySHA256 signature', () => {
    assert.equal(bodySha256(body), bodyHash);
    assert.ok(validateRequestWithBody(token, 'a9nBmqA0ju/hNViExpshrM61xv4=', `${url}&bodySHA256=${bodyHash}`, body));
  });

  test('JSON body {}: only the :443 variant matches', () => {
    assert.equal(bodySha256('{}'), emptyBodyHash);
    const u = `${url}&bodySHA256=${emptyBodyHash}`;
    assert.ok(validateRequestWithBody(token, 'Ldidvp12m26NI7eqEvxnEpkd9Hc=', u, '{}'));
    // proof that it is the :443 candidate doing the work
    const withPort = u.replace('mycompany.com/', 'mycompany.com:443/');
    assert.equal(computeSignature(token, withPort, {}), 'Ldidvp12m26NI7eqEvxnEpkd9Hc=');
    assert.notEqual(computeSignature(token, u, {}), 'Ldidvp12m26NI7eqEvxnEpkd9Hc=');
  });

  test('URL with only bodySHA256 in the query', () => {
    const u = `https://mycompany.com/myapp.php?bodySHA256=${bodyHash}`;
    assert.ok(validateRequestWithBody(token, 'y77kIzt2vzLz71DgmJGsen2scGs=', u, body));
  });
});

describe('negative cases', () => {
  test('wrong token', () => {
    assert.equal(validateRequest('54321', 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', url, params), false);
    assert.equal(validateRequestWithBody('54321', 'a9nBmqA0ju/hNViExpshrM61xv4=', `${url}&bodySHA256=${bodyHash}`, body), false);
  });

  test('tampered param value, added param, removed param', () => {
    const sig = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';
    assert.equal(validateRequest(token, sig, url, { ...params, To: '+18005551213' }), false);
    assert.equal(validateRequest(token, sig, url, { ...params, CallStatus: 'completed' }), false);
    const { Digits: _d, ...less } = params;
    assert.equal(validateRequest(token, sig, url, less), false);
  });

  test('tampered URL (query added, path changed, scheme changed)', () => {
    const sig = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';
    assert.equal(validateRequest(token, sig, url + '&somethingUnexpected=true', params), false);
    assert.equal(validateRequest(token, sig, url.replace('myapp', 'other'), params), false);
    assert.equal(validateRequest(token, sig, url.replace('https', 'http'), params), false);
  });

  test('missing or empty header', () => {
    assert.equal(validateRequest(token, undefined, url, params), false);
    assert.equal(validateRequest(token, '', url, params), false);
    assert.equal(validateRequestWithBody(token, undefined, `${url}&bodySHA256=${bodyHash}`, body), false);
  });

  test('a signature of a different length is refused without throwing', () => {
    assert.equal(validateRequest(token, 'short', url, params), false);
    assert.equal(validateRequest(token, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=AAAA', url, params), false);
  });

  test('JSON body tampered: the signature still matches the URL but the body hash does not', () => {
    const u = `${url}&bodySHA256=${bodyHash}`;
    assert.equal(validateRequestWithBody(token, 'a9nBmqA0ju/hNViExpshrM61xv4=', u, body.replace('value', 'VALUE')), false);
  });

  test('JSON body with no bodySHA256 in the URL is refused', () => {
    assert.equal(validateRequestWithBody(token, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', url, body), false);
  });

  test('no auth token configured never validates', () => {
    assert.equal(validateRequest('', computeSignature('', url, params), url, params), false);
  });
});

test('candidate URLs: as given, port stripped, port added, legacy-querystring variants', () => {
  const c = candidateUrls("https://h.example:8443/p?a=It's+x");
  assert.ok(c.includes("https://h.example:8443/p?a=It's+x"));
  assert.ok(c.includes('https://h.example/p?a=It%27s+x'));
  assert.ok(c.includes('https://h.example:8443/p?a=It%27s+x'));
  assert.ok(c.includes("https://h.example/p?a=It's%20x"));
  assert.ok(c.includes("https://h.example:8443/p?a=It's%20x"));
});
