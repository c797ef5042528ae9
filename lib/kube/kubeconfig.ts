// Loads credentials for the API server: an explicit kubeconfig file, else the in-cluster
// service account, else the usual $KUBECONFIG / ~/.kube/config lookup.

import fs from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

const inClusterToken = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path) {
    if (!fs.existsSync(path)) throw new Error(`--kubeconfig "${path}": no such file`);
    kc.loadFromFile(path);
  } else if (process.env.KUBERNETES_SERVICE_HOST && fs.existsSync(inClusterToken)) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster()) throw new Error('no Kubernetes cluster configured: pass --kubeconfig');
  return kc;
}
