// The cluster's certificates, made with openssl for each new cluster: one CA, the API server's
// serving certificate, a client certificate per component, and the service-account key pair.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTool } from '../infrastructure/hostTools.js';
import { NETWORK, PKI, PORTS } from './layout.js';

export const NODE_NAME = 'reelflux-node';

/** Client identities, by file name: the CN is the user, O the group, as the API server reads them. */
const CLIENTS = {
  admin: { cn: 'reelflux-admin', o: 'system:masters' },
  'kube-controller-manager': { cn: 'system:kube-controller-manager' },
  'kube-scheduler': { cn: 'system:kube-scheduler' },
  kubelet: { cn: `system:node:${NODE_NAME}`, o: 'system:nodes' },
  'kube-proxy': { cn: 'system:kube-proxy' },
  // The API server's identity towards the kubelet (logs, exec, port-forward).
  'apiserver-kubelet-client': { cn: 'kube-apiserver-kubelet-client', o: 'system:masters' },
} as const;

export type Client = keyof typeof CLIENTS;

const openssl = (args: string[]) => runTool('openssl', args);

function signed(name: string, subject: string, extensions: string): void {
  const key = join(PKI, `${name}.key`);
  const csr = join(PKI, `${name}.csr`);
  const ext = join(PKI, `${name}.ext`);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  writeFileSync(ext, extensions);
  openssl(
    ['x509', '-req', '-in', csr, '-CA', join(PKI, 'ca.crt'), '-CAkey', join(PKI, 'ca.key')].concat([
      '-CAcreateserial',
      '-days',
      '30',
      '-extfile',
      ext,
      '-out',
      join(PKI, `${name}.crt`),
    ]),
  );
}

const apiserverNames = () =>
  [
    `IP:${NETWORK.nodeIp}`,
    `IP:${NETWORK.apiServiceIp}`,
    'IP:127.0.0.1',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    `DNS:kubernetes.default.svc.${NETWORK.clusterDomain}`,
  ].join(',');

/** Makes every key and certificate unless the CA is already there (kept for the cluster's life). */
export function ensurePki(): void {
  if (existsSync(join(PKI, 'ca.crt'))) return;
  mkdirSync(PKI, { recursive: true, mode: 0o700 });
  openssl(
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'].concat([
      '-out',
      join(PKI, 'ca.key'),
    ]),
  );
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      join(PKI, 'ca.key'),
      '-subj',
      '/CN=reelflux-cluster-ca',
    ].concat(['-days', '30', '-out', join(PKI, 'ca.crt')]),
  );
  signed(
    'apiserver',
    '/CN=kube-apiserver',
    `subjectAltName=${apiserverNames()}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`,
  );
  for (const [name, { cn, ...rest }] of Object.entries(CLIENTS)) {
    const o = 'o' in rest ? `/O=${rest.o}` : '';
    signed(
      name,
      `${o}/CN=${cn}`,
      'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
    );
  }
  openssl([
    'genpkey',
    '-algorithm',
    'RSA',
    '-pkeyopt',
    'rsa_keygen_bits:2048',
    '-out',
    join(PKI, 'sa.key'),
  ]);
  openssl(['pkey', '-in', join(PKI, 'sa.key'), '-pubout', '-out', join(PKI, 'sa.pub')]);
}

/** A kubeconfig for one client identity, against the API server on the node address. */
export function writeKubeconfig(client: Client, file: string): void {
  const pem = (name: string) => join(PKI, name);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'reelflux',
          cluster: {
            server: `https://${NETWORK.nodeIp}:${PORTS.apiserver}`,
            'certificate-authority': pem('ca.crt'),
          },
        },
      ],
      users: [
        {
          name: client,
          user: {
            'client-certificate': pem(`${client}.crt`),
            'client-key': pem(`${client}.key`),
          },
        },
      ],
      contexts: [{ name: 'reelflux', context: { cluster: 'reelflux', user: client } }],
      'current-context': 'reelflux',
    }),
    { mode: 0o600 },
  );
}
