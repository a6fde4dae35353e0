import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Files of the test cluster's PKI, all inside one folder. */
export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

// Node's crypto makes keys but not X.509 certificates, and a certificate library would be one
// more dependency for four certificates: Debian's openssl does it. EC P-256 keys keep it fast.
async function openssl(cwd: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd });
}

/**
 * Issues a client certificate `<name>.crt`/`<name>.key` signed by the CA in `dir` (written by
 * writePki), e.g. a kubelet's: subject `/O=system:nodes/CN=system:node:<node>`.
 */
export async function issueClientCertificate(
  dir: string,
  name: string,
  subject: string,
): Promise<{ cert: string; key: string }> {
  await issue(dir, name, subject, 'client.ext');
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/**
 * Issues a serving certificate `<name>.crt`/`<name>.key` for `dnsNames` (wildcards allowed),
 * signed by the CA in `dir`, e.g. an ingress controller's `*.<baseDomain>`.
 */
export async function issueServerCertificate(
  dir: string,
  name: string,
  dnsNames: string[],
): Promise<{ cert: string; key: string }> {
  const ext = `${name}.ext`;
  await writeFile(
    join(dir, ext),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${dnsNames.map((n) => `DNS:${n}`).join(',')}`,
      '',
    ].join('\n'),
  );
  await issue(dir, name, `/CN=${dnsNames[0]}`, ext);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function issue(dir: string, name: string, subject: string, ext: string): Promise<void> {
  await openssl(dir, [
    'req',
    '-new',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    subject,
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-sha256',
    '-days',
    '3650',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-extfile',
    ext,
  ]);
}

/**
 * Writes a CA, an API server serving certificate (SANs localhost, 127.0.0.1, `extraIps` and the
 * in-cluster names), an admin client certificate in group system:masters, and a service-account
 * key pair.
 */
export async function writePki(dir: string, extraIps: string[] = []): Promise<Pki> {
  await openssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-sha256',
    '-days',
    '3650',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-subj',
    '/CN=pixtral-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  await writeFile(
    join(dir, 'server.ext'),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1${extraIps.map((ip) => `,IP:${ip}`).join('')}`,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'client.ext'),
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  await issue(dir, 'apiserver', '/CN=kube-apiserver', 'server.ext');
  await issue(dir, 'admin', '/O=system:masters/CN=pixtral-test-admin', 'client.ext');
  await openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key']);
  await openssl(dir, ['ec', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  const path = (file: string) => join(dir, file);
  return {
    caCert: path('ca.crt'),
    caKey: path('ca.key'),
    servingCert: path('apiserver.crt'),
    servingKey: path('apiserver.key'),
    adminCert: path('admin.crt'),
    adminKey: path('admin.key'),
    serviceAccountKey: path('sa.key'),
    serviceAccountPub: path('sa.pub'),
  };
}

/** An admin kubeconfig with the credentials embedded, so it works from any working folder. */
export async function kubeconfigYaml(pki: Pki, server: string): Promise<string> {
  const b64 = async (file: string) => (await readFile(file)).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: pixtral-test
  cluster:
    server: ${server}
    certificate-authority-data: ${await b64(pki.caCert)}
users:
- name: admin
  user:
    client-certificate-data: ${await b64(pki.adminCert)}
    client-key-data: ${await b64(pki.adminKey)}
contexts:
- name: pixtral-test
  context:
    cluster: pixtral-test
    user: admin
current-context: pixtral-test
`;
}
