import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  checkWebhookUrl,
  isPublicAddress,
  type WebhookUrlPolicy,
} from '../subgraphs/notification/webhooks/checkWebhookUrl.js';

const strict: WebhookUrlPolicy = { allowHttp: false, allowPrivateNetworks: false };
const development: WebhookUrlPolicy = { allowHttp: true, allowPrivateNetworks: true };

/** The URL as accepted, or the error's code, reason and message. */
function verdict(raw: string, policy: WebhookUrlPolicy): unknown {
  try {
    return checkWebhookUrl(raw, policy).href;
  } catch (error) {
    if (error instanceof GraphQLError) {
      return {
        code: error.extensions.code,
        reason: error.extensions.reason,
        message: error.message,
      };
    }
    throw error;
  }
}

const refusal = (reason: string) => ({
  code: 'BAD_USER_INPUT',
  reason,
  message: expect.stringMatching(/^The webhook URL.*\.$/),
});

describe('checkWebhookUrl', () => {
  it('accepts a public https URL, and gives it back parsed', () => {
    const url = checkWebhookUrl('https://hooks.example.com:8443/in?team=7', strict);
    expect(url).toBeInstanceOf(URL);
    expect(url.href).toBe('https://hooks.example.com:8443/in?team=7');
    expect(verdict('https://93.184.215.14/hook', strict)).toBe('https://93.184.215.14/hook');
    expect(verdict('https://[2606:4700::1111]/', strict)).toBe('https://[2606:4700::1111]/');
  });

  it.each([
    ['not a URL', 'hooks.example.com/in', 'NOT_A_URL'],
    ['empty', '', 'NOT_A_URL'],
    ['a broken host', 'https://exa mple.com/', 'NOT_A_URL'],
    ['plain http', 'http://hooks.example.com/', 'SCHEME_NOT_ALLOWED'],
    ['a file', 'file:///etc/passwd', 'SCHEME_NOT_ALLOWED'],
    ['gopher', 'gopher://x', 'SCHEME_NOT_ALLOWED'],
    ['javascript', 'javascript:alert(1)', 'SCHEME_NOT_ALLOWED'],
    ['a user and password', 'https://user:pw@example.com', 'CREDENTIALS_IN_URL'],
    ['a user alone', 'https://user@example.com/', 'CREDENTIALS_IN_URL'],
    ['loopback', 'https://127.0.0.1/', 'PRIVATE_ADDRESS'],
    ['loopback written as a number', 'https://2130706433/', 'PRIVATE_ADDRESS'],
    ['loopback written in hex', 'https://0x7f.1/', 'PRIVATE_ADDRESS'],
    ['the metadata address', 'https://169.254.169.254/latest/meta-data/', 'PRIVATE_ADDRESS'],
    ['a private network', 'https://10.0.0.1/', 'PRIVATE_ADDRESS'],
    ['IPv6 loopback', 'https://[::1]/', 'PRIVATE_ADDRESS'],
    ['IPv4-mapped loopback', 'https://[::ffff:127.0.0.1]/', 'PRIVATE_ADDRESS'],
    ['NAT64 of a private address', 'https://[64:ff9b::10.0.0.1]/', 'PRIVATE_ADDRESS'],
    ['localhost', 'https://localhost:3000/', 'LOCALHOST'],
    ['localhost with its dot', 'https://localhost./', 'LOCALHOST'],
    ['a .localhost name', 'https://api.LocalHost/', 'LOCALHOST'],
  ])('refuses %s (%s) by default', (_what, raw, reason) => {
    expect(verdict(raw, strict)).toEqual(refusal(reason));
  });

  it.each([
    'http://127.0.0.1',
    'http://169.254.169.254',
    'http://[::1]',
    'http://[::ffff:127.0.0.1]',
    'http://10.0.0.1',
  ])('refuses %s, for its scheme or else for its address', (raw) => {
    expect(verdict(raw, strict)).toEqual(refusal('SCHEME_NOT_ALLOWED'));
    expect(verdict(raw, { allowHttp: true, allowPrivateNetworks: false })).toEqual(
      refusal('PRIVATE_ADDRESS'),
    );
    expect(verdict(raw, development)).toBe(new URL(raw).href);
  });

  it('counts the length of the URL as given: 2048 characters pass, 2049 do not', () => {
    const base = 'https://hooks.example.com/';
    const at = (length: number) => base + 'a'.repeat(length - base.length);
    expect(verdict(at(2048), strict)).toBe(at(2048));
    expect(verdict(at(2049), strict)).toEqual(refusal('URL_TOO_LONG'));
    expect(verdict(at(2049), development)).toEqual(refusal('URL_TOO_LONG'));
  });

  it('names the scheme it wanted and the one it got', () => {
    expect(verdict('ftp://example.com/', strict)).toMatchObject({
      message: 'The webhook URL must use https:, not ftp:.',
    });
    expect(verdict('ftp://example.com/', development)).toMatchObject({
      message: 'The webhook URL must use https: or http:, not ftp:.',
    });
    expect(verdict('http://10.1.2.3/', { allowHttp: true, allowPrivateNetworks: false })).toEqual({
      code: 'BAD_USER_INPUT',
      reason: 'PRIVATE_ADDRESS',
      message: "The webhook URL's address 10.1.2.3 is not on the public internet.",
    });
  });

  it('with private networks allowed, accepts localhost but still wants https', () => {
    const local: WebhookUrlPolicy = { allowHttp: false, allowPrivateNetworks: true };
    expect(verdict('https://localhost:3000/in', local)).toBe('https://localhost:3000/in');
    expect(verdict('https://10.0.0.1/', local)).toBe('https://10.0.0.1/');
    expect(verdict('http://localhost:3000/in', local)).toEqual(refusal('SCHEME_NOT_ALLOWED'));
  });

  it('with http allowed, still refuses other schemes and credentials', () => {
    expect(verdict('http://hooks.example.com/', development)).toBe('http://hooks.example.com/');
    expect(verdict('file:///etc/passwd', development)).toEqual(refusal('SCHEME_NOT_ALLOWED'));
    expect(verdict('gopher://x', development)).toEqual(refusal('SCHEME_NOT_ALLOWED'));
    expect(verdict('http://user:pw@localhost/', development)).toEqual(
      refusal('CREDENTIALS_IN_URL'),
    );
  });
});

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['93.184.215.14', true],
    ['1.1.1.1', true],
    ['100.63.255.255', true],
    ['100.128.0.0', true],
    ['172.15.255.255', true],
    ['172.32.0.0', true],
    ['198.17.255.255', true],
    ['198.20.0.0', true],
    ['223.255.255.255', true],
    ['0.0.0.0', false],
    ['0.1.2.3', false],
    ['127.0.0.1', false],
    ['127.255.255.254', false],
    ['10.0.0.1', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['169.254.0.1', false],
    ['100.64.0.1', false],
    ['100.127.255.255', false],
    ['224.0.0.1', false],
    ['239.255.255.250', false],
    ['240.0.0.1', false],
    ['255.255.255.255', false],
    ['198.18.0.1', false],
    ['198.19.255.255', false],
    ['192.0.2.1', false],
    ['198.51.100.7', false],
    ['203.0.113.9', false],
    ['192.0.0.8', false],
  ])('IPv4 %s is public: %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });

  it.each([
    ['2606:4700:4700::1111', true],
    ['2a00:1450:4001:80b::200e', true],
    ['::ffff:8.8.8.8', true],
    ['::ffff:808:808', true],
    ['64:ff9b::8.8.8.8', true],
    ['::', false],
    ['::1', false],
    ['0:0:0:0:0:0:0:1', false],
    ['fc00::1', false],
    ['fd12:3456:789a::1', false],
    ['fe80::1', false],
    ['febf::1', false],
    ['fe80::1%eth0', false],
    ['ff02::1', false],
    ['ff0e::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:7f00:1', false],
    ['::ffff:10.0.0.1', false],
    ['::ffff:169.254.169.254', false],
    ['64:ff9b::127.0.0.1', false],
    ['64:ff9b::a00:1', false],
    ['64:ff9b::169.254.169.254', false],
    ['2001:db8::1', false],
    ['2001:db8:ffff::1', false],
    ['::127.0.0.1', false],
  ])('IPv6 %s is public: %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });

  it.each(['localhost', 'example.com', '', '[::1]', '127.1', '256.0.0.1'])(
    'does not count %j as a public address',
    (text) => {
      expect(isPublicAddress(text)).toBe(false);
    },
  );
});
