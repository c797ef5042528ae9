// Loads credentials for the API server: an explicit kubeconfig file, else the in-cluster
// service account, else the usual $KUBECONFIG / ~/.kube/config lookup.
//
// Kubeconfig files are read with @kubernetes/client-node's own parsers and authenticators
// (config_types, exec plugins, token files), imported module by module: the package's entry
// point, and its KubeConfig class, load the generated client of every API group, about 70 MB
// resident in each daemon, and Beacon sends its requests through lib/kube/client.ts, not the
// generated clients. One agent per process carries the TLS material and keeps its connections
// alive (KubeConfig.applyToHTTPSOptions made a new agent, so a new TLS handshake, per request).

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import nodePath from 'node:path';
import yaml from 'js-yaml';
import {
  newClusters,
  newContexts,
  newUsers,
  type Cluster,
  type User,
} from '@kubernetes/client-node/dist/config_types.js';
import { ExecAuth } from '@kubernetes/client-node/dist/exec_auth.js';
import { FileAuth } from '@kubernetes/client-node/dist/file_auth.js';

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';
const inClusterToken = `${serviceAccountDir}/token`;

/** What lib/kube/client.ts needs of a kubeconfig (client-node's KubeConfig has the same shape). */
export interface ApiAccess {
  getCurrentCluster(): { readonly server: string } | null;
  /** Sets the agent (TLS material) and the authentication of one request. */
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

interface Authenticator {
  isAuthProvider(user: User): boolean;
  applyAuthentication(user: User, opts: https.RequestOptions): Promise<void>;
}

/** One cluster and one user: the current context of a kubeconfig, or the service account. */
export class KubeAccess implements ApiAccess {
  private agent: http.Agent | undefined;
  private agentKey = '';
  private readonly ca: Buffer | undefined;
  private readonly cert: Buffer | undefined;
  private readonly key: Buffer | undefined;
  private readonly authenticator: Authenticator | undefined;

  constructor(
    readonly cluster: Cluster,
    readonly user: User,
  ) {
    if (cluster.proxyUrl)
      throw new Error(
        `kubeconfig cluster "${cluster.name}": proxy-url "${cluster.proxyUrl}" is not supported`,
      );
    if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify)
      throw new Error(
        `kubeconfig cluster "${cluster.name}": server "${cluster.server}" is plain HTTP; set insecure-skip-tls-verify to allow it`,
      );
    this.ca = fromFileOrData(
      `cluster "${cluster.name}" certificate-authority`,
      cluster.caFile,
      cluster.caData,
    );
    this.cert = fromFileOrData(`user "${user.name}" client-certificate`, user.certFile, user.certData);
    this.key = fromFileOrData(`user "${user.name}" client-key`, user.keyFile, user.keyData);
    this.authenticator = [new ExecAuth(), new FileAuth()].find((a) => a.isAuthProvider(user)) as
      Authenticator | undefined;
  }

  getCurrentCluster(): Cluster {
    return this.cluster;
  }

  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    const headers = (opts.headers ??= {}) as http.OutgoingHttpHeaders;
    // An exec plugin may answer with a client certificate instead of (or with) a token.
    const fromPlugin: https.RequestOptions = { headers };
    if (this.authenticator) await this.authenticator.applyAuthentication(this.user, fromPlugin);
    if (this.user.token) headers.Authorization = `Bearer ${this.user.token}`;
    if (this.user.username) opts.auth = `${this.user.username}:${this.user.password ?? ''}`;
    if (this.user.impersonateUser) headers['Impersonate-User'] = this.user.impersonateUser;
    opts.agent = this.agentFor(
      (fromPlugin.cert as string | Buffer | undefined) ?? this.cert,
      (fromPlugin.key as string | Buffer | undefined) ?? this.key,
    );
  }

  private agentFor(cert: string | Buffer | undefined, key: string | Buffer | undefined): http.Agent {
    const agentKey = `${cert?.toString() ?? ''}\n${key?.toString() ?? ''}`;
    if (this.agent !== undefined && agentKey === this.agentKey) return this.agent;
    this.agent?.destroy();
    this.agentKey = agentKey;
    this.agent = this.cluster.server.startsWith('http:')
      ? new http.Agent({ keepAlive: true })
      : new https.Agent({
          keepAlive: true,
          ...(this.ca ? { ca: this.ca } : {}),
          ...(cert ? { cert } : {}),
          ...(key ? { key } : {}),
          ...(this.cluster.skipTLSVerify ? { rejectUnauthorized: false } : {}),
          ...(this.cluster.tlsServerName ? { servername: this.cluster.tlsServerName } : {}),
        });
    return this.agent;
  }
}

function fromFileOrData(
  what: string,
  file: string | undefined,
  data: string | undefined,
): Buffer | undefined {
  if (file) {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`kubeconfig ${what} "${file}": ${(err as Error).message}`, { cause: err });
    }
  }
  return data ? Buffer.from(data, 'base64') : undefined;
}

interface Parsed {
  clusters: Cluster[];
  users: User[];
  contexts: ReturnType<typeof newContexts>;
  currentContext: string | undefined;
}

/** Reads one kubeconfig file; relative file paths in it are relative to its directory. */
export function parseKubeconfigFile(file: string): Parsed {
  const dir = nodePath.dirname(nodePath.resolve(file));
  let doc: Record<string, unknown>;
  try {
    doc = (yaml.load(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`kubeconfig "${file}": ${(err as Error).message}`, { cause: err });
  }
  const abs = (p: string | undefined) => (p && !nodePath.isAbsolute(p) ? nodePath.join(dir, p) : p);
  try {
    return {
      clusters: newClusters(doc.clusters).map((c) => ({ ...c, caFile: abs(c.caFile) })),
      users: newUsers(doc.users).map((u) => ({ ...u, certFile: abs(u.certFile), keyFile: abs(u.keyFile) })),
      contexts: newContexts(doc.contexts),
      currentContext: typeof doc['current-context'] === 'string' ? doc['current-context'] : undefined,
    };
  } catch (err) {
    throw new Error(`kubeconfig "${file}": ${(err as Error).message}`, { cause: err });
  }
}

/** The current context's cluster and user of one or more kubeconfig files (the first wins). */
export function accessFromFiles(files: readonly string[]): KubeAccess {
  const parsed = files.map(parseKubeconfigFile);
  const first = <T extends { name: string }>(lists: T[][], name: string) =>
    lists.flat().find((x) => x.name === name);
  const current = parsed.map((p) => p.currentContext).find((c) => c !== undefined);
  const where = files.join(', ');
  if (current === undefined) throw new Error(`kubeconfig ${where}: no current-context`);
  const context = first(
    parsed.map((p) => p.contexts),
    current,
  );
  if (!context) throw new Error(`kubeconfig ${where}: current-context "${current}" is not in contexts`);
  const cluster = first(
    parsed.map((p) => p.clusters),
    context.cluster,
  );
  if (!cluster) throw new Error(`kubeconfig ${where}: context "${current}": no cluster "${context.cluster}"`);
  const user = first(
    parsed.map((p) => p.users),
    context.user,
  ) ?? { name: context.user };
  return new KubeAccess(cluster, user);
}

/** The service account a Pod runs as (KUBERNETES_SERVICE_HOST/PORT, the mounted token and CA). */
export function inClusterAccess(dir = serviceAccountDir): KubeAccess {
  const host = process.env.KUBERNETES_SERVICE_HOST ?? '';
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new KubeAccess(
    { name: 'inCluster', server, caFile: `${dir}/ca.crt`, skipTLSVerify: false },
    // A token file is re-read as it rotates (FileAuth: bound service account tokens expire).
    { name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile: `${dir}/token` } } },
  );
}

export function loadKubeConfig(path: string | undefined): KubeAccess {
  if (path) {
    if (!fs.existsSync(path)) throw new Error(`--kubeconfig "${path}": no such file`);
    return accessFromFiles([path]);
  }
  if (process.env.KUBERNETES_SERVICE_HOST && fs.existsSync(inClusterToken)) return inClusterAccess();
  const fromEnv = (process.env.KUBECONFIG ?? '').split(nodePath.delimiter).filter((f) => f !== '');
  if (fromEnv.length > 0) {
    const existing = fromEnv.filter((f) => fs.existsSync(f));
    return accessFromFiles(existing.length > 0 ? existing : fromEnv.slice(0, 1));
  }
  const home = nodePath.join(os.homedir(), '.kube', 'config');
  if (fs.existsSync(home)) return accessFromFiles([home]);
  throw new Error('no Kubernetes cluster configured: pass --kubeconfig');
}
