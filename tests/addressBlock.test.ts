import { describe, expect, it } from 'vitest';
import { addressBlock } from '../lib/server/addressBlock.js';

describe('addressBlock', () => {
  it('keeps an IPv4 address as it is', () => {
    expect(addressBlock('203.0.113.7')).toBe('203.0.113.7');
    expect(addressBlock(' 203.0.113.7 ')).toBe('203.0.113.7');
  });

  it('counts an IPv6 address by its /64, however it is written', () => {
    const block = '2001:db8:a:b::/64';
    for (const address of [
      '2001:db8:a:b::1',
      '2001:0db8:000a:000b:ffff:ffff:ffff:ffff',
      '2001:DB8:A:B:1:2:3:4',
      '2001:db8:a:b::',
      '[2001:db8:a:b::5]:443',
      '2001:db8:a:b::1%eth0',
    ]) {
      expect(addressBlock(address), address).toBe(block);
    }
  });

  it.each([
    ['2001:db8:a:c::1', '2001:db8:a:c::/64'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8::a:b:c:d', '2001:db8:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
  ])('counts %s in %s', (address, block) => {
    expect(addressBlock(address)).toBe(block);
  });

  it('counts an IPv4-mapped IPv6 address as the IPv4 address', () => {
    for (const address of [
      '::ffff:203.0.113.7',
      '::FFFF:cb00:7107',
      '0:0:0:0:0:ffff:203.0.113.7',
      '[::ffff:203.0.113.7]:8080',
      '203.0.113.7:8080',
    ]) {
      expect(addressBlock(address), address).toBe('203.0.113.7');
    }
  });

  it('keeps what is not an address as it is', () => {
    expect(addressBlock('unknown')).toBe('unknown');
    expect(addressBlock('2001:db8::g')).toBe('2001:db8::g');
    expect(addressBlock('')).toBe('');
  });
});
