import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A certificate authority made for one test run, and a server certificate it signed for 127.0.0.1 and localhost. */
export interface ThrowawayCa {
  readonly dir: string
  /** PEM of the CA certificate (what a client trusts). */
  readonly ca: string
  readonly caFile: string
  /** PEM of the server's key and certificate. */
  readonly key: string
  readonly cert: string
}

/** Makes a throwaway CA and a server certificate with `openssl` (EC P-256, valid for a day). */
export function throwawayCa(): ThrowawayCa {
  const dir = mkdtempSync(join(tmpdir(), 'parley-tls-'))
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=Parley test CA', '-keyout', 'ca.key', '-out', 'ca.pem')
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr')
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'san.ext', '-out', 'server.pem')
  const read = (file: string): string => readFileSync(join(dir, file), 'utf8')
  return { dir, ca: read('ca.pem'), caFile: join(dir, 'ca.pem'), key: read('server.key'), cert: read('server.pem') }
}
