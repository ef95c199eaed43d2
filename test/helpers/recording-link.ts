// What every provider's recording link must do, checked the same way for each: the whole file,
// a byte range (206 with Content-Range), a range past the end (416), and a tampered token (403).

import assert from 'node:assert/strict';

/** Fetches `url` whole, as a range and past its end; the body must be `expected` (a WAV). */
export async function assertStreamsWav(url: string, expected: Buffer): Promise<void> {
  const full = await fetch(url);
  assert.equal(full.status, 200);
  assert.equal(full.headers.get('content-type'), 'audio/x-wav');
  const wav = Buffer.from(await full.arrayBuffer());
  assert.deepEqual(wav, expected);
  assert.equal(wav.toString('ascii', 8, 12), 'WAVE');
  const part = await fetch(url, { headers: { range: 'bytes=0-43' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 0-43/${wav.length}`);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), wav.subarray(0, 44));
  assert.equal((await fetch(url, { headers: { range: `bytes=${wav.length + 5}-` } })).status, 416);
}

/** The link with its token's last characters changed: must answer 403, showing nothing of `secret`. */
export async function assertTamperedRefused(url: string, secret: string): Promise<void> {
  const u = new URL(url);
  const token = u.searchParams.get('token')!;
  u.searchParams.set('token', `${token.slice(0, -2)}${token.endsWith('A') ? 'BB' : 'AA'}`);
  const bad = await fetch(u);
  assert.equal(bad.status, 403);
  assert.ok(!(await bad.text()).includes(secret));
}
