// The secrets sweep: no configured secret may appear in any response body or any log line.

export interface SecretHit {
  secret: string;
  where: string;
  context: string;
}

export class SecretSweep {
  private readonly secrets = new Map<string, string>();
  responses = 0;
  responseBytes = 0;
  readonly hits: SecretHit[] = [];

  /** name: what it is (shown instead of the value in reports) */
  add(name: string, value: string): void {
    if (value && value.length >= 8) this.secrets.set(value, name);
  }

  get count(): number {
    return this.secrets.size;
  }

  check(where: string, text: string): void {
    if (!text) return;
    for (const [value, name] of this.secrets) {
      const i = text.indexOf(value);
      if (i >= 0) this.hits.push({ secret: name, where, context: text.slice(Math.max(0, i - 80), i).replace(/\s+/g, ' ') + '[…]' });
    }
  }

  response(where: string, text: string, headers?: Record<string, unknown>): void {
    this.responses++;
    this.responseBytes += text.length;
    this.check(where, text + (headers ? JSON.stringify(headers) : ''));
  }
}
