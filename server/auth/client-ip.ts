// The client's IP address behind trusted proxies (PROTOCOL.md §1 `TRUST_PROXY`, §7 handshakes),
// with Express's `trust proxy` semantics: walk from the socket's peer address back through
// `X-Forwarded-For` while each hop is trusted; the first untrusted address is the client. With
// nothing trusted (the default) the header is ignored, so a client cannot choose its IP.
import { BlockList, isIP } from 'node:net';

/** Express `trust proxy` values: off, all, a hop count, or addresses/CIDRs/named ranges. */
export type TrustProxy = boolean | number | string[];

const NAMED: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** Parses `TRUST_PROXY`; throws with a short reason when it is not one of the accepted forms. */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const value = raw?.trim() ?? '';
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const e of entries) {
    if (NAMED[e]) continue;
    const [addr, bits, extra] = e.split('/');
    const family = isIP(addr ?? '');
    const max = family === 4 ? 32 : 128;
    if (!family || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max)))
      throw new Error(`not an address, CIDR, hop count or loopback/linklocal/uniquelocal: ${e.slice(0, 60)}`);
  }
  return entries;
}

function unmapped(addr: string): string {
  return addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}

/** Compiles a trust setting into `(address, hop) => trusted`, hop 0 being the socket's peer. */
export function compileTrust(trust: TrustProxy): (addr: string, hop: number) => boolean {
  if (trust === false) return () => false;
  if (trust === true) return () => true;
  if (typeof trust === 'number') return (_addr, hop) => hop < trust;
  const list = new BlockList();
  for (const entry of trust.flatMap((e) => NAMED[e] ?? [e])) {
    const [addr, bits] = entry.split('/') as [string, string | undefined];
    const type = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return (addr) => {
    const a = unmapped(addr);
    const family = isIP(a);
    return family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/** The client address for a peer address and an `X-Forwarded-For` header. */
export function clientIp(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: (addr: string, hop: number) => boolean): string {
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '');
  const chain = [unmapped(peer ?? 'unknown'), ...header.split(',').map((s) => s.trim()).filter(Boolean).reverse()];
  for (let hop = 0; hop < chain.length - 1; hop++) if (!trusted(chain[hop]!, hop)) return chain[hop]!;
  return unmapped(chain[chain.length - 1]!);
}
