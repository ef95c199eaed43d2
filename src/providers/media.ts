// Serving recordings the gateway holds in memory (the simulator's WAVs, a provider's buffered
// download): HTTP Range (one range, bytes=a-b | a- | -n) → 206 with Content-Range, past the end
// → 416, else 200; always Accept-Ranges. Adapters that stream from their provider pass Range on.

import type { MediaStream } from './adapter.js';

export function bufferMedia(buf: Buffer, contentType: string, range?: string): MediaStream {
  const size = buf.length;
  const base = { 'accept-ranges': 'bytes' };
  const m = range ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return { status: 200, contentType, headers: { ...base, 'content-length': String(size) }, body: buf };
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return { status: 416, contentType, headers: { ...base, 'content-range': `bytes */${size}` } };
  const part = buf.subarray(start, end + 1);
  return { status: 206, contentType, headers: { ...base, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': String(part.length) }, body: part };
}

/** A WAV file: 8 kHz mono 16-bit PCM, a 440 Hz tone of `seconds` (what the simulator records). */
export function toneWav(seconds: number, rate = 8000): Buffer {
  const samples = Math.max(1, Math.round(seconds * rate));
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 8000), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16); // PCM header size
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28); // byte rate
  h.writeUInt16LE(2, 32); // block align
  h.writeUInt16LE(16, 34); // bits per sample
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}
