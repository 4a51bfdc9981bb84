import { describe, expect, it } from 'vitest';
import { clientIp, compileTrust, parseTrustProxy } from './client-ip.js';

const ip = (setting: string | undefined, peer: string, xff?: string) => clientIp(peer, xff, compileTrust(parseTrustProxy(setting)));

describe('client IP behind proxies (TRUST_PROXY)', () => {
  it('unset: the peer address, X-Forwarded-For ignored', () => {
    expect(ip(undefined, '127.0.0.1', '203.0.113.7')).toBe('127.0.0.1');
    expect(ip('', '::ffff:10.0.0.2', '203.0.113.7')).toBe('10.0.0.2');
  });
  it('trusted peers: the first untrusted address from the right', () => {
    expect(ip('loopback', '127.0.0.1', '203.0.113.7')).toBe('203.0.113.7');
    expect(ip('loopback', '127.0.0.1', 'spoofed, 203.0.113.7')).toBe('203.0.113.7');
    expect(ip('loopback', '198.51.100.1', '203.0.113.7')).toBe('198.51.100.1'); // peer not trusted
    expect(ip('10.0.0.0/8, loopback', '::ffff:10.1.2.3', '203.0.113.9, 10.0.0.5')).toBe('203.0.113.9');
    expect(ip('uniquelocal', '192.168.1.1', undefined)).toBe('192.168.1.1');
  });
  it('hop counts and true', () => {
    expect(ip('1', '10.0.0.1', 'a-client, 203.0.113.7')).toBe('203.0.113.7');
    expect(ip('2', '10.0.0.1', '198.51.100.4, 203.0.113.7')).toBe('198.51.100.4');
    expect(ip('true', '10.0.0.1', '198.51.100.4, 203.0.113.7')).toBe('198.51.100.4');
  });
  it('refuses what is not a hop count, address, CIDR or named range', () => {
    for (const bad of ['everyone', '10.0.0.0/33', '1.2.3.4/8/9', 'loopback, nope']) expect(() => parseTrustProxy(bad)).toThrow();
    expect(parseTrustProxy('loopback, 10.0.0.0/8, ::1')).toEqual(['loopback', '10.0.0.0/8', '::1']);
  });
});
