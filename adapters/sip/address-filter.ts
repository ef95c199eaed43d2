// Source-address allow list for inbound INVITEs: single addresses or CIDR blocks, IPv4 or IPv6.

import { BlockList, isIP } from 'node:net';

export class AddressFilter {
  private readonly list = new BlockList();
  readonly entries: readonly string[];

  constructor(entries: string[]) {
    this.entries = [...entries];
    for (const raw of entries) {
      const entry = raw.trim();
      const [addr, prefix, extra] = entry.split('/');
      const family = isIP(addr ?? '');
      if (!family || extra !== undefined) throw new Error(`inboundAllow entry "${entry}" is not an IP address or CIDR`);
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) {
        this.list.addAddress(addr, type);
        continue;
      }
      const bits = Number(prefix);
      if (!/^\d{1,3}$/.test(prefix) || bits > (family === 6 ? 128 : 32)) {
        throw new Error(`inboundAllow entry "${entry}" has an invalid prefix length`);
      }
      this.list.addSubnet(addr, bits, type);
    }
  }

  allows(address: string | undefined): boolean {
    if (!address) return false;
    let a = address.trim();
    if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
    // An IPv4 peer seen on a dual-stack socket is written ::ffff:a.b.c.d.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
    if (mapped) a = mapped[1];
    const family = isIP(a);
    if (!family) return false;
    return this.list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }
}
